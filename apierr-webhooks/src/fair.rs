//! Shares of a dispatcher: how many of its claims and attempts one endpoint and one
//! partner (the endpoint's owner) may hold, so that one partner's slow or dead endpoints
//! cannot take every slot from the others.
//!
//! Two caps, per dispatcher process: attempts in flight per endpoint and per owner. An
//! attempt whose endpoint or owner is at its cap waits while later claims of others
//! start (work-conserving: a slot is idle only when nothing that may start is held). So
//! that the waiting claims do not fill the dispatcher's claim budget either, one claim
//! takes at most half a hold's worth of one endpoint's or owner's deliveries (a hold is
//! half the budget for an owner, less for an endpoint with a small cap), and an endpoint
//! or owner holding a whole hold is left out of the next claim: one owner holds at
//! most three quarters of the budget.
//!
//! A partner with dead endpoints then ties up at most its owner cap of slots for a
//! timeout each; the others keep theirs, and their deliveries keep their latency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::queue::{Claimed, Share};

/// Claims held per endpoint, in multiples of its cap of attempts: enough that a fast
/// endpoint's next attempts are claimed while the last ones are in flight.
const HOLD: usize = 8;

/// A dispatcher's claim budget (claims in hand, started or not), in multiples of its
/// concurrency.
pub(crate) const BUDGET: usize = 16;

/// The caps on attempts in flight, and on claims held.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    endpoint: usize,
    owner: usize,
    endpoint_hold: usize,
    owner_hold: usize,
}

impl Caps {
    /// The caps of a dispatcher of `concurrency` attempts, `owner` of them at most for
    /// one owner's endpoints and `endpoint` for one endpoint (each at least 1 and at most
    /// the one above).
    pub(crate) fn new(concurrency: usize, endpoint: usize, owner: usize) -> Caps {
        let concurrency = concurrency.max(1);
        let owner = owner.clamp(1, concurrency);
        let endpoint = endpoint.clamp(1, owner);
        let owner_hold = BUDGET * concurrency / 2;
        Caps {
            endpoint,
            owner,
            endpoint_hold: (HOLD * endpoint).min(owner_hold),
            owner_hold,
        }
    }
}

#[derive(Debug, Default)]
struct Count {
    /// Claims held, started or not.
    held: usize,
    /// Attempts in flight.
    running: usize,
}

#[derive(Debug)]
struct Tally {
    caps: Caps,
    /// Told when an endpoint or owner that was full holds fewer claims: the claiming
    /// loop may take more of its deliveries.
    room: Arc<Notify>,
    endpoints: HashMap<String, Count>,
    owners: HashMap<String, Count>,
}

/// The claims and attempts of one dispatcher's run, by endpoint and owner; shared by its
/// claiming loop and its attempts.
#[derive(Debug, Clone)]
pub(crate) struct Load(Arc<Mutex<Tally>>);

/// Who a claim counts for.
fn keys(c: &Claimed) -> (&str, &str) {
    (&c.endpoint_id, &c.owner)
}

fn count<'a>(map: &'a mut HashMap<String, Count>, key: &str) -> &'a mut Count {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), Count::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// Takes one claim off `key`'s count, and the entry when nothing is left (the maps hold
/// only what is in hand, however many endpoints there are). Whether `key` now holds
/// half of `full`: worth another claim of its share (an earlier one would claim a few
/// deliveries a round trip).
fn release(map: &mut HashMap<String, Count>, key: &str, started: bool, full: usize) -> bool {
    let Some(c) = map.get_mut(key) else {
        return false;
    };
    c.held = c.held.saturating_sub(1);
    if started {
        c.running = c.running.saturating_sub(1);
    }
    let freed = c.held + 1 == full.div_ceil(2);
    if c.held == 0 {
        map.remove(key);
    }
    freed
}

impl Tally {
    fn release(&mut self, endpoint: &str, owner: &str, started: bool) {
        let caps = self.caps;
        let a = release(&mut self.endpoints, endpoint, started, caps.endpoint_hold);
        let b = release(&mut self.owners, owner, started, caps.owner_hold);
        if a || b {
            self.room.notify_one();
        }
    }
}

impl Load {
    pub(crate) fn new(caps: Caps) -> Load {
        Load(Arc::new(Mutex::new(Tally {
            caps,
            room: Arc::new(Notify::new()),
            endpoints: HashMap::new(),
            owners: HashMap::new(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Tally> {
        // Every change is a few counter updates that cannot panic halfway.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How the next claim is to share itself out, and how many due deliveries it reads
    /// at most: as many as it may take of one owner (more would be read and, on
    /// PostgreSQL, locked for nothing when one owner has all the due deliveries).
    pub(crate) fn share(&self) -> (Share, usize) {
        let t = self.lock();
        let full = |map: &HashMap<String, Count>, cap: usize| {
            map.iter()
                .filter(|(_, c)| c.held >= cap)
                .map(|(k, _)| k.clone())
                .collect()
        };
        let share = Share {
            endpoints: full(&t.endpoints, t.caps.endpoint_hold),
            owners: full(&t.owners, t.caps.owner_hold),
            caps: Some((
                t.caps.endpoint_hold.div_ceil(2),
                t.caps.owner_hold.div_ceil(2),
            )),
        };
        (share, t.caps.owner_hold.div_ceil(2))
    }

    /// Told when an endpoint or owner that held all it may holds less.
    pub(crate) fn room(&self) -> Arc<Notify> {
        self.lock().room.clone()
    }

    /// Counts a claimed delivery. Whether its endpoint or owner now holds all it may
    /// (the next claim leaves it out).
    pub(crate) fn hold(&self, c: &Claimed) -> bool {
        let mut t = self.lock();
        let (endpoint, owner) = keys(c);
        let caps = t.caps;
        let e = count(&mut t.endpoints, endpoint);
        e.held += 1;
        let endpoint_full = e.held == caps.endpoint_hold;
        let o = count(&mut t.owners, owner);
        o.held += 1;
        endpoint_full || o.held == caps.owner_hold
    }

    /// The first of `held` that may start now (its endpoint and owner are under their
    /// caps of attempts in flight), if any.
    pub(crate) fn first_startable<'a, T: 'a>(
        &self,
        held: impl IntoIterator<Item = &'a (Claimed, T)>,
    ) -> Option<usize> {
        let t = self.lock();
        let running =
            |map: &HashMap<String, Count>, key: &str| map.get(key).map_or(0, |c| c.running);
        held.into_iter().position(|(c, _)| {
            let (endpoint, owner) = keys(c);
            running(&t.endpoints, endpoint) < t.caps.endpoint
                && running(&t.owners, owner) < t.caps.owner
        })
    }

    /// Marks a held claim's attempt started; the guard ends it when dropped (also
    /// when the attempt's task panics).
    pub(crate) fn start(&self, c: &Claimed) -> Running {
        let mut t = self.lock();
        let (endpoint, owner) = keys(c);
        count(&mut t.endpoints, endpoint).running += 1;
        count(&mut t.owners, owner).running += 1;
        Running {
            load: self.clone(),
            endpoint: endpoint.to_owned(),
            owner: owner.to_owned(),
        }
    }

    /// Drops a held claim that was never started (its lease ran short, or the run is
    /// stopping).
    pub(crate) fn forget(&self, c: &Claimed) {
        let (endpoint, owner) = keys(c);
        self.lock().release(endpoint, owner, false);
    }
}

/// An attempt in flight, counted for its endpoint and owner until dropped.
#[derive(Debug)]
pub(crate) struct Running {
    load: Load,
    endpoint: String,
    owner: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.load.lock().release(&self.endpoint, &self.owner, true);
    }
}
