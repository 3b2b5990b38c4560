//! The mirror as the Worker keeps it, for the sync tests: rows by id with their content hash,
//! and a change log that gets an entry only when a row's content changed.
#![allow(dead_code)]

use std::collections::BTreeMap;

use aftersale::protocol::sync::{MirrorRow, SyncState};
use serde_json::Value;

/// The mirror: rows by id, the change log, the sync's checkpoint.
#[derive(Default)]
pub struct Mirror {
    pub rows: BTreeMap<String, MirrorRow>,
    pub changes: Vec<(String, &'static str)>,
    pub state: Option<SyncState>,
}

impl Mirror {
    /// One transaction: the page's rows and the checkpoint.
    pub fn commit(&mut self, rows: Vec<MirrorRow>, checkpoint: &SyncState) {
        for row in rows {
            match self.rows.get(&row.id) {
                None => self.changes.push((row.id.clone(), "created")),
                Some(old) if old.hash != row.hash => self.changes.push((row.id.clone(), "updated")),
                Some(_) => continue,
            }
            self.rows.insert(row.id.clone(), row);
        }
        self.state = Some(checkpoint.clone());
    }

    /// Each row's JSON.
    pub fn json(&self) -> BTreeMap<String, Value> {
        self.rows.iter().map(|(id, row)| (id.clone(), serde_json::from_str(&row.json).unwrap())).collect()
    }

    /// Each row's raw status, as a number (Xiaoe's).
    pub fn states(&self) -> BTreeMap<String, i64> {
        self.json().into_iter().map(|(id, v)| (id, v["status_raw"].as_i64().unwrap())).collect()
    }

    pub fn created(&self) -> usize {
        self.changes.iter().filter(|(_, c)| *c == "created").count()
    }

    /// No row created twice in the change log, and no change logged that did not change a row.
    pub fn assert_each_change_once(&self) {
        let mut seen = std::collections::BTreeSet::new();
        for (id, change) in &self.changes {
            if *change == "created" {
                assert!(seen.insert(id.clone()), "{id} created twice in the change log");
            } else {
                assert!(seen.contains(id), "{id} updated before it was created");
            }
        }
    }
}
