//! The facade's TTL caches (partition lists, probe results), held in `dashmap` so
//! readers on many threads never block one another, with an injectable clock so
//! expiry is tested without sleeping.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// A monotonic clock for cache expiry.
pub trait CacheClock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct MonotonicClock;

impl CacheClock for MonotonicClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to, for tests.
///
/// ```
/// use std::time::Duration;
/// use vmcraft::cache::{CacheClock, ManualClock};
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(clock.now() - t0, Duration::from_secs(61));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    offset_ns: AtomicU64,
}

impl ManualClock {
    /// A clock standing at the moment it was made.
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            offset_ns: AtomicU64::new(0),
        }
    }

    /// Move the clock forward.
    pub fn advance(&self, d: Duration) {
        self.offset_ns
            .fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl CacheClock for ManualClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_nanos(self.offset_ns.load(Ordering::SeqCst))
    }
}

/// A map whose entries expire `ttl` after they were stored.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use vmcraft::cache::{ManualClock, TtlCache};
/// let clock = Arc::new(ManualClock::new());
/// let cache: TtlCache<String, u32> = TtlCache::new(Duration::from_secs(60), clock.clone());
/// cache.insert("a".into(), 1);
/// assert_eq!(cache.get(&"a".to_string()), Some(1));
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(cache.get(&"a".to_string()), None);
/// ```
#[derive(Debug)]
pub struct TtlCache<K: Eq + Hash, V> {
    map: DashMap<K, (Instant, V)>,
    ttl: Duration,
    clock: Arc<dyn CacheClock>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// An empty cache; `ttl` zero disables caching.
    pub fn new(ttl: Duration, clock: Arc<dyn CacheClock>) -> Self {
        TtlCache {
            map: DashMap::new(),
            ttl,
            clock,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The entry, unless missing or expired. The key may be given borrowed (a
    /// `&str` for a `String` key), so a lookup need not allocate.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hit = self.peek(key);
        self.count(hit.is_some());
        hit
    }

    /// [`TtlCache::get`] without counting a hit or a miss (a first try under
    /// another spelling of the key; count it with [`TtlCache::count`]).
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = self.clock.now();
        self.map
            .get(key)
            .filter(|e| now.saturating_duration_since(e.0) < self.ttl)
            .map(|e| e.1.clone())
    }

    /// Count a lookup made with [`TtlCache::peek`] as a hit or a miss.
    pub fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Store an entry, stamped now.
    pub fn insert(&self, key: K, value: V) {
        if !self.ttl.is_zero() {
            self.map.insert(key, (self.clock.now(), value));
        }
    }

    /// The entry if fresh, else compute it with `f`, store it and return it. Errors
    /// are returned and not cached.
    pub fn get_or_try_insert<E>(&self, key: &K, f: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        let v = f()?;
        self.insert(key.clone(), v.clone());
        Ok(v)
    }

    /// Drop one entry.
    pub fn remove(&self, key: &K) {
        self.map.remove(key);
    }

    /// Drop the entries whose key matches.
    pub fn remove_where(&self, pred: impl Fn(&K) -> bool) {
        self.map.retain(|k, _| !pred(k));
    }

    /// Drop everything.
    pub fn clear(&self) {
        self.map.clear();
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_exactly_the_ttl() {
        let clock = Arc::new(ManualClock::new());
        let c: TtlCache<u32, u32> = TtlCache::new(Duration::from_secs(120), clock.clone());
        c.insert(1, 10);
        clock.advance(Duration::from_secs(119));
        assert_eq!(c.get(&1), Some(10));
        clock.advance(Duration::from_secs(1));
        assert_eq!(c.get(&1), None);
        assert_eq!(c.stats(), (1, 1));
    }

    #[test]
    fn zero_ttl_caches_nothing_and_errors_are_not_cached() {
        let c: TtlCache<u32, u32> = TtlCache::new(Duration::ZERO, Arc::new(MonotonicClock));
        c.insert(1, 1);
        assert_eq!(c.get(&1), None);
        let c: TtlCache<u32, u32> =
            TtlCache::new(Duration::from_secs(1), Arc::new(ManualClock::new()));
        assert_eq!(
            c.get_or_try_insert(&1, || Err::<u32, &str>("boom")),
            Err("boom")
        );
        assert_eq!(c.get_or_try_insert(&1, || Ok::<u32, &str>(7)), Ok(7));
        assert_eq!(c.get_or_try_insert(&1, || Ok::<u32, &str>(8)), Ok(7));
    }

    #[test]
    fn remove_where_and_clear() {
        let c: TtlCache<String, u32> =
            TtlCache::new(Duration::from_secs(1), Arc::new(ManualClock::new()));
        for k in ["/dev/sda", "/dev/sda1", "/dev/sdb1"] {
            c.insert(k.to_string(), 1);
        }
        c.remove_where(|k| k.starts_with("/dev/sda"));
        assert_eq!(c.get(&"/dev/sda1".to_string()), None);
        assert_eq!(c.get(&"/dev/sdb1".to_string()), Some(1));
        c.clear();
        assert_eq!(c.get(&"/dev/sdb1".to_string()), None);
    }

    #[test]
    fn concurrent_readers_and_writers() {
        let c: Arc<TtlCache<u32, u32>> = Arc::new(TtlCache::new(
            Duration::from_secs(60),
            Arc::new(MonotonicClock),
        ));
        std::thread::scope(|s| {
            for t in 0..8 {
                let c = c.clone();
                s.spawn(move || {
                    for i in 0..10_000u32 {
                        let k = i % 64;
                        let v = c.get_or_try_insert(&k, || Ok::<u32, ()>(k * 2)).unwrap();
                        assert_eq!(v, k * 2);
                        if t == 0 && i % 1000 == 0 {
                            c.remove(&k);
                        }
                    }
                });
            }
        });
    }
}
