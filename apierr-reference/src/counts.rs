//! Totals of listings that do not scan a partner's rows on every page: exact and fresh
//! up to [`EXACT_UP_TO`] (a bounded count of the index), above it counted in full at most
//! once a minute per partner and kept meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::store::{Error, Store};

/// Up to this many accounts a partner's total is counted at every page.
pub(crate) const EXACT_UP_TO: i64 = 1_000;

/// How long a full count of a larger partner is used before it is counted again.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(60);

/// The most partners whose full counts are kept (about a megabyte); past it the oldest
/// half is forgotten.
const MAX_KEPT: usize = 10_000;

/// The totals of the partners with more than [`EXACT_UP_TO`] accounts.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    kept: Mutex<HashMap<String, (u64, Instant)>>,
    /// One full count at a time: partners asking meanwhile use what is kept.
    counting: tokio::sync::Mutex<()>,
}

impl Counts {
    fn kept(&self, partner: &str) -> Option<(u64, Instant)> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(partner)
            .copied()
    }

    fn keep(&self, partner: &str, total: Option<u64>) {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match total {
            None => {
                kept.remove(partner);
            }
            Some(total) => {
                if kept.len() >= MAX_KEPT && !kept.contains_key(partner) {
                    let mut ages: Vec<Instant> = kept.values().map(|(_, at)| *at).collect();
                    ages.sort();
                    let cut = ages[ages.len() / 2];
                    kept.retain(|_, (_, at)| *at > cut);
                }
                kept.insert(partner.to_owned(), (total, Instant::now()));
            }
        }
    }

    /// The partner's number of accounts (see the module).
    pub(crate) async fn accounts(&self, store: &Store, partner: &str) -> Result<u64, Error> {
        let kept = self.kept(partner);
        if let Some((total, at)) = kept
            && at.elapsed() < FRESH_FOR
        {
            return Ok(total);
        }
        if kept.is_none() {
            let some = store.count_accounts(partner, Some(EXACT_UP_TO + 1)).await?;
            if some <= EXACT_UP_TO as u64 {
                return Ok(some);
            }
        }
        let _counting = match (kept, self.counting.try_lock()) {
            (_, Ok(guard)) => guard,
            // Another count runs: what is kept will do until it is done.
            (Some((total, _)), Err(_)) => return Ok(total),
            (None, Err(_)) => {
                let guard = self.counting.lock().await;
                if let Some((total, _)) = self.kept(partner) {
                    return Ok(total);
                }
                guard
            }
        };
        let total = store.count_accounts(partner, None).await?;
        self.keep(partner, (total > EXACT_UP_TO as u64).then_some(total));
        Ok(total)
    }
}
