//! [`retry_with_backoff`]: run an operation again after transient failures, waiting
//! longer each time. The policy is data ([`RetryPolicy`]); the clock is injected
//! ([`Clock`]) so tests run the whole schedule without sleeping.

use std::sync::Mutex;
use std::time::Duration;

/// Sleeps. The real clock sleeps; [`RecordingClock`] only records, for tests.
pub trait Clock: Send + Sync {
    /// Wait for `d`.
    fn sleep(&self, d: Duration);
}

/// The real clock: `std::thread::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// A clock that never sleeps and remembers every delay asked of it.
///
/// ```
/// use std::time::Duration;
/// use vmcraft_block::{Clock, RecordingClock};
/// let clock = RecordingClock::default();
/// clock.sleep(Duration::from_secs(2));
/// assert_eq!(clock.sleeps(), vec![Duration::from_secs(2)]);
/// ```
#[derive(Debug, Default)]
pub struct RecordingClock {
    sleeps: Mutex<Vec<Duration>>,
}

impl RecordingClock {
    /// The delays slept so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Clock for RecordingClock {
    fn sleep(&self, d: Duration) {
        self.sleeps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(d);
    }
}

/// How often and how patiently to retry.
///
/// The default is the seed's schedule: up to 5 attempts, waiting 2 s, 4 s, 8 s,
/// then 10 s (the cap) between them, no jitter.
///
/// ```
/// use std::time::Duration;
/// use vmcraft_block::RetryPolicy;
/// let p = RetryPolicy::default();
/// let delays: Vec<_> = (1..p.max_attempts).map(|n| p.delay_after(n)).collect();
/// assert_eq!(delays, [2, 4, 8, 10].map(Duration::from_secs));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Delay after the first failed attempt.
    pub base_delay: Duration,
    /// Each delay is the previous one times this.
    pub multiplier: u32,
    /// No delay exceeds this.
    pub max_delay: Duration,
    /// Fraction (0.0..=1.0) of each delay that is randomized away, to spread out
    /// processes retrying together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(2),
            multiplier: 2,
            max_delay: Duration::from_secs(10),
            jitter: 0.0,
        }
    }
}

impl RetryPolicy {
    /// A policy that tries once.
    pub fn no_retry() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        }
    }

    /// The same policy with no delays at all (for tests and fast local retries).
    pub fn without_delays(mut self) -> Self {
        self.base_delay = Duration::ZERO;
        self.max_delay = Duration::ZERO;
        self
    }

    /// The delay (before jitter) after failed attempt `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = (self.multiplier.max(1) as u64).saturating_pow(attempt.saturating_sub(1));
        let nanos = (self.base_delay.as_nanos() as u64).saturating_mul(factor);
        Duration::from_nanos(nanos).min(self.max_delay)
    }

    fn jittered(&self, d: Duration, seed: u64) -> Duration {
        let j = self.jitter.clamp(0.0, 1.0);
        if j == 0.0 {
            return d;
        }
        // xorshift64*: good enough to de-synchronize retries, no dependency.
        let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let unit = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        d.mul_f64(1.0 - j * unit)
    }
}

/// Run `op` until it succeeds, fails with an error `is_transient` rejects, or the
/// policy's attempts are used up; sleep on `clock` between attempts. `op` receives
/// the attempt number (1-based). Returns the last error.
///
/// ```
/// use vmcraft_block::{retry_with_backoff, RecordingClock, RetryPolicy};
/// let clock = RecordingClock::default();
/// let mut calls = 0;
/// let r: Result<u32, &str> = retry_with_backoff(&RetryPolicy::default(), &clock,
///     |e| *e == "busy",
///     |n| { calls += 1; if n < 3 { Err("busy") } else { Ok(n) } });
/// assert_eq!(r, Ok(3));
/// assert_eq!(clock.sleeps().len(), 2);
/// ```
pub fn retry_with_backoff<T, E: std::fmt::Display>(
    policy: &RetryPolicy,
    clock: &dyn Clock,
    is_transient: impl Fn(&E) -> bool,
    mut op: impl FnMut(u32) -> Result<T, E>,
) -> Result<T, E> {
    let max = policy.max_attempts.max(1);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ std::process::id() as u64;
    let mut attempt = 1;
    loop {
        match op(attempt) {
            Ok(v) => return Ok(v),
            Err(e) if attempt < max && is_transient(&e) => {
                let delay = policy.jittered(
                    policy.delay_after(attempt),
                    seed.wrapping_add(attempt as u64),
                );
                tracing::info!(attempt, max, ?delay, error = %e, "transient failure; retrying");
                clock.sleep(delay);
                attempt += 1;
            }
            Err(e) => {
                if attempt > 1 {
                    tracing::warn!(attempt, error = %e, "giving up");
                }
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum E {
        Busy,
        Fatal,
    }
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    #[test]
    fn default_schedule_is_2_4_8_then_capped_at_10() {
        let clock = RecordingClock::default();
        let mut attempts = 0;
        let r: Result<(), E> = retry_with_backoff(
            &RetryPolicy::default(),
            &clock,
            |e| *e == E::Busy,
            |_| {
                attempts += 1;
                Err(E::Busy)
            },
        );
        assert_eq!(r, Err(E::Busy));
        assert_eq!(attempts, 5);
        assert_eq!(clock.sleeps(), [2, 4, 8, 10].map(Duration::from_secs));
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        let clock = RecordingClock::default();
        let mut attempts = 0;
        let r: Result<(), E> = retry_with_backoff(
            &RetryPolicy::default(),
            &clock,
            |e| *e == E::Busy,
            |n| {
                attempts += 1;
                if n == 1 { Err(E::Busy) } else { Err(E::Fatal) }
            },
        );
        assert_eq!(r, Err(E::Fatal));
        assert_eq!(attempts, 2);
        assert_eq!(clock.sleeps(), [Duration::from_secs(2)]);
    }

    #[test]
    fn configurable_attempts_and_delays() {
        let clock = RecordingClock::default();
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            multiplier: 3,
            max_delay: Duration::from_millis(250),
            jitter: 0.0,
        };
        let _: Result<(), E> = retry_with_backoff(&policy, &clock, |_| true, |_| Err(E::Busy));
        assert_eq!(
            clock.sleeps(),
            [Duration::from_millis(100), Duration::from_millis(250)]
        );
        let clock = RecordingClock::default();
        let _: Result<(), E> =
            retry_with_backoff(&RetryPolicy::no_retry(), &clock, |_| true, |_| Err(E::Busy));
        assert!(clock.sleeps().is_empty());
        let clock = RecordingClock::default();
        let _: Result<(), E> = retry_with_backoff(
            &RetryPolicy::default().without_delays(),
            &clock,
            |_| true,
            |_| Err(E::Busy),
        );
        assert_eq!(clock.sleeps(), vec![Duration::ZERO; 4]);
    }

    #[test]
    fn jitter_only_shortens_within_its_fraction() {
        let policy = RetryPolicy {
            jitter: 0.5,
            ..Default::default()
        };
        for seed in 0..200 {
            let d = policy.jittered(Duration::from_secs(8), seed);
            assert!(
                d <= Duration::from_secs(8) && d >= Duration::from_secs(4),
                "{d:?}"
            );
        }
    }

    #[test]
    fn huge_attempt_numbers_saturate_at_the_cap() {
        assert_eq!(
            RetryPolicy::default().delay_after(200),
            Duration::from_secs(10)
        );
    }
}
