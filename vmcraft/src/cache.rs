//! The facade's TTL caches (partition lists, probe results), held in `dashmap` so
//! readers on many threads never block one another, with an injectable clock so
//! expiry is tested without sleeping.
//!
//! A value computed while an invalidation of its key lands must not be stored (it
//! may describe the device as it was before the change): every key has a
//! generation, bumped by [`TtlCache::remove`], and the whole cache an epoch, bumped
//! by [`TtlCache::remove_where`] and [`TtlCache::clear`]. A [`Ticket`] taken before
//! computing is only honoured by [`TtlCache::insert_if_current`] when neither moved.

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

/// The state of a key's invalidations when a value for it started to be computed
/// ([`TtlCache::ticket`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    epoch: u64,
    generation: u64,
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
    /// Per-key invalidation counts (bumped by `remove`).
    generations: DashMap<K, u64>,
    /// Whole-cache invalidation count (bumped by `remove_where` and `clear`).
    epoch: AtomicU64,
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
            generations: DashMap::new(),
            epoch: AtomicU64::new(0),
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

    /// The state of `key`'s invalidations, to take before computing a value for
    /// it (see [`TtlCache::insert_if_current`]).
    pub fn ticket(&self, key: &K) -> Ticket {
        // The epoch first: an invalidation racing with this read moves one of
        // the two after it, which the check then sees.
        let epoch = self.epoch.load(Ordering::SeqCst);
        let generation = self.generations.get(key).map_or(0, |g| *g);
        Ticket { epoch, generation }
    }

    /// Store an entry computed under `ticket`, unless the key (or the whole
    /// cache) was invalidated since the ticket was taken; `true` when stored.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use vmcraft::cache::{MonotonicClock, TtlCache};
    /// let cache: TtlCache<String, u32> = TtlCache::new(Duration::from_secs(60), Arc::new(MonotonicClock));
    /// let key = "/dev/sda".to_string();
    /// let ticket = cache.ticket(&key);
    /// cache.remove(&key); // a change lands while the value is computed
    /// assert!(!cache.insert_if_current(ticket, key.clone(), 1));
    /// assert_eq!(cache.get(&key), None);
    /// ```
    pub fn insert_if_current(&self, ticket: Ticket, key: K, value: V) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        // Both held while checking and inserting (always generations, then map):
        // a remove of this key waits for the insert and then removes the value,
        // and a clear or remove_where bumps the epoch before it visits the key's
        // shard, so it either is seen here or removes what was inserted.
        let generation = self.generations.entry(key.clone()).or_insert(0);
        if *generation != ticket.generation {
            return false;
        }
        let slot = self.map.entry(key);
        if self.epoch.load(Ordering::SeqCst) != ticket.epoch {
            return false;
        }
        slot.insert((self.clock.now(), value));
        true
    }

    /// The entry if fresh, else compute it with `f`, store it and return it. Errors
    /// are returned and not cached; a value computed while its key was invalidated
    /// is returned but not stored.
    pub fn get_or_try_insert<E>(&self, key: &K, f: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        let ticket = self.ticket(key);
        let v = f()?;
        self.insert_if_current(ticket, key.clone(), v.clone());
        Ok(v)
    }

    /// Drop one entry (and make any value of it being computed unstorable).
    pub fn remove(&self, key: &K) {
        *self.generations.entry(key.clone()).or_insert(0) += 1;
        self.map.remove(key);
    }

    /// Drop the entries whose key matches (and make every value being computed
    /// unstorable).
    pub fn remove_where(&self, pred: impl Fn(&K) -> bool) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.map.retain(|k, _| !pred(k));
    }

    /// Drop everything.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.map.clear();
        // Every older ticket now fails on the epoch: the per-key counts can go
        // (so that they stay bounded by what one epoch saw).
        self.generations.clear();
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
    fn a_value_computed_across_an_invalidation_is_not_stored() {
        let c: TtlCache<u32, u32> =
            TtlCache::new(Duration::from_secs(60), Arc::new(MonotonicClock));
        // The key removed while its value is computed: returned, not stored.
        let v = c.get_or_try_insert(&1, || {
            c.remove(&1);
            Ok::<_, ()>(10)
        });
        assert_eq!(v, Ok(10));
        assert_eq!(c.get(&1), None);
        // Another key's removal does not matter.
        assert_eq!(
            c.get_or_try_insert(&1, || {
                c.remove(&2);
                Ok::<_, ()>(11)
            }),
            Ok(11)
        );
        assert_eq!(c.get(&1), Some(11));
        // A clear or a remove_where during the computation: not stored.
        for invalidate in [
            &(|c: &TtlCache<u32, u32>| c.clear()) as &dyn Fn(&TtlCache<u32, u32>),
            &|c: &TtlCache<u32, u32>| c.remove_where(|k| *k == 99),
        ] {
            let t = c.ticket(&3);
            invalidate(&c);
            assert!(!c.insert_if_current(t, 3, 30));
            assert_eq!(c.get(&3), None);
        }
        // A fresh ticket stores.
        let t = c.ticket(&3);
        assert!(c.insert_if_current(t, 3, 31));
        assert_eq!(c.get(&3), Some(31));
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
