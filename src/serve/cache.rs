//! The one cache type of the web service: entries by key within a budget (a count, or
//! bytes), the least recently used evicted first. Rendered page images and search
//! answers both use it.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

pub struct Lru<K, V> {
    /// Each entry with the stamp of its last use.
    entries: HashMap<K, (V, u64)>,
    /// Uses, oldest first; a use older than its entry's stamp is stale and skipped
    /// (touching an entry is O(1): no search through the order).
    order: VecDeque<(K, u64)>,
    stamp: u64,
    /// What the entries weigh together, and may at most.
    weight: usize,
    budget: usize,
    weigh: fn(&V) -> usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// A cache of at most `budget`, each entry weighing `weigh` of it.
    pub fn new(budget: usize, weigh: fn(&V) -> usize) -> Lru<K, V> {
        Lru {
            entries: HashMap::new(),
            order: VecDeque::new(),
            stamp: 0,
            weight: 0,
            budget,
            weigh,
        }
    }

    /// The entry, now the most recently used.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.stamp += 1;
        let stamp = self.stamp;
        let (_, used) = self.entries.get_mut(key)?;
        *used = stamp;
        self.order.push_back((key.clone(), stamp));
        self.compact();
        self.entries.get_mut(key).map(|(value, _)| value)
    }

    /// Adds or replaces an entry, then evicts the least recently used beyond the budget
    /// (never the one just added, even when it alone is over).
    pub fn put(&mut self, key: K, value: V) {
        self.stamp += 1;
        self.weight += (self.weigh)(&value);
        if let Some((old, _)) = self.entries.insert(key.clone(), (value, self.stamp)) {
            self.weight -= (self.weigh)(&old);
        }
        self.order.push_back((key, self.stamp));
        while self.weight > self.budget && self.entries.len() > 1 {
            let Some((oldest, used)) = self.order.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&oldest)
                .is_some_and(|(_, last)| *last == used)
                && let Some((old, _)) = self.entries.remove(&oldest)
            {
                self.weight -= (self.weigh)(&old);
            }
        }
        self.compact();
    }

    /// Drops stale uses once they outnumber the entries: the order stays within twice
    /// the entries.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.entries.len() + 16 {
            let entries = &self.entries;
            self.order
                .retain(|(k, used)| entries.get(k).is_some_and(|(_, last)| last == used));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used_beyond_the_budget() {
        let mut cache: Lru<&str, Vec<u8>> = Lru::new(10, Vec::len);
        cache.put("a", vec![0; 4]);
        cache.put("b", vec![0; 4]);
        assert!(cache.get_mut(&"a").is_some(), "a is now the most recent");
        cache.put("c", vec![0; 4]);
        assert!(
            cache.get_mut(&"b").is_none(),
            "b was the least recently used"
        );
        assert!(cache.get_mut(&"a").is_some() && cache.get_mut(&"c").is_some());
        // Replacing an entry reweighs it.
        cache.put("a", vec![0; 1]);
        cache.put("d", vec![0; 5]);
        assert_eq!(cache.weight, 10);
        // One entry over the budget alone is kept (it was just asked for).
        cache.put("big", vec![0; 50]);
        assert!(cache.get_mut(&"big").is_some());
        assert_eq!(cache.entries.len(), 1);
    }
}
