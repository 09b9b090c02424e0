//! One table of the in-memory store: rows by key, and what a commit in progress would have to put
//! back to undo its writes.

use std::collections::BTreeMap;

/// Rows by key, kept in key order (so every read is deterministic), with the undo log of the
/// commit in progress: each write records the row it replaced, so a failed commit is undone in
/// reverse order and leaves the table exactly as it was. A commit costs what it writes, not the
/// size of the table.
#[derive(Debug)]
pub(super) struct Table<K, V> {
    rows: BTreeMap<K, V>,
    undo: Vec<(K, Option<V>)>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self { rows: BTreeMap::new(), undo: Vec::new() }
    }
}

impl<K: Ord + Clone, V> Table<K, V> {
    /// The row with this key.
    pub(super) fn get(&self, key: &K) -> Option<&V> {
        self.rows.get(key)
    }

    /// Whether a row has this key.
    pub(super) fn contains(&self, key: &K) -> bool {
        self.rows.contains_key(key)
    }

    /// Every row, in key order.
    pub(super) fn values(&self) -> impl Iterator<Item = &V> {
        self.rows.values()
    }

    /// Stores `row` under `key`, replacing any row there.
    pub(super) fn put(&mut self, key: K, row: V) {
        let replaced = self.rows.insert(key.clone(), row);
        self.undo.push((key, replaced));
    }

    /// Deletes the row with this key; whether there was one.
    pub(super) fn delete(&mut self, key: &K) -> bool {
        match self.rows.remove(key) {
            Some(row) => {
                self.undo.push((key.clone(), Some(row)));
                true
            }
            None => false,
        }
    }

    /// Deletes every row `doomed` picks; how many.
    pub(super) fn delete_where(&mut self, doomed: impl Fn(&V) -> bool) -> usize {
        let keys: Vec<K> = self.rows.iter().filter(|(_, row)| doomed(row)).map(|(key, _)| key.clone()).collect();
        for key in &keys {
            self.delete(key);
        }
        keys.len()
    }

    /// Undoes every write since the last [`Table::settle`], latest first.
    pub(super) fn rollback(&mut self) {
        while let Some((key, replaced)) = self.undo.pop() {
            match replaced {
                Some(row) => {
                    self.rows.insert(key, row);
                }
                None => {
                    self.rows.remove(&key);
                }
            }
        }
    }

    /// Keeps every write since the last settle: the commit succeeded.
    pub(super) fn settle(&mut self) {
        self.undo.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_puts_back_every_row_as_it_was_and_a_settle_keeps_the_writes() {
        let mut table: Table<u8, &str> = Table::default();
        table.put(1, "one");
        table.put(2, "two");
        table.settle();

        table.put(1, "uno");
        table.put(3, "three");
        table.delete(&2);
        table.put(2, "dos");
        assert_eq!(table.delete_where(|row| row.starts_with('u')), 1);
        table.rollback();
        assert_eq!(table.values().copied().collect::<Vec<_>>(), ["one", "two"]);

        table.put(3, "three");
        table.settle();
        table.rollback();
        assert_eq!(table.values().copied().collect::<Vec<_>>(), ["one", "two", "three"]);
    }
}
