//! The outage policy: when local layers may be trusted, when they must be flushed, and when the
//! namespace must be bumped. A pure state machine: the tier feeds it events and carries out the
//! steps it returns; it never sleeps, reads a clock or does I/O, so the tests below drive it event
//! by event.
//!
//! Local layers (the caller's in-process store and near caches) are coherent only while this
//! instance hears every invalidation, that is while its subscription to the invalidation channel is
//! up. So:
//!
//! - **Down** (the subscription is lost): not trustworthy. The caller serves no local entry, and the
//!   tier does not read Redis either (a restarted server may hold data from before a delete); every
//!   `get` is a miss, and Vendure reads its database.
//! - **Subscribed again**: the tier flushes the local layers (`invalidate_all`), since invalidations
//!   were missed, before it reports trustworthy again.
//! - **A delete or clear that may not have reached Redis** (an error or a timeout) is remembered.
//!   Before the tier reports trustworthy again, it bumps the namespace (`INCR`, broadcast as a clear),
//!   which makes every value stored before unreachable on every instance: a session deleted during
//!   the outage cannot come back from Redis.
//! - **The server restarted** (its `run_id` changed while we were away): it may have loaded a
//!   snapshot taken before some deletes, so the same bump is owed.
//! - **Recovering** (a bump is owed): not trustworthy until a bump that covers every lost write has
//!   succeeded. Bumps are numbered by tickets so that a write lost while a bump is in flight is
//!   covered by a later one.

/// Where the tier stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The invalidation channel is down.
    Down,
    /// Subscribed, but a namespace bump is owed.
    Recovering,
    /// Subscribed, nothing owed: local layers are coherent.
    Up,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The subscription is confirmed, on the server whose `run_id` is given.
    Subscribed { server_id: String },
    /// The subscription connection closed, or stopped answering.
    SubscriptionLost,
    /// A delete or clear may not have reached Redis.
    WriteLost,
    /// A bump asked for with this ticket succeeded.
    BumpSucceeded { ticket: u64 },
    /// A bump asked for with this ticket failed.
    BumpFailed { ticket: u64 },
    /// Time to retry whatever is owed (the tier ticks after a failure, with backoff).
    Tick,
}

/// What the tier must do after an event, in this order: flush, then (outside any lock) bump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    /// Call `invalidate_all()` on the sink before reporting trustworthy.
    pub flush_local: bool,
    /// `INCR` the namespace and broadcast it, then report `BumpSucceeded`/`BumpFailed` with this ticket.
    pub bump: Option<u64>,
}

/// Counts of what happened, for the stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutageCounts {
    /// Transitions from Up or Recovering to Down.
    pub outages: u64,
    /// Subscriptions regained after Down.
    pub reconnects: u64,
    /// Deletes and clears that may not have reached Redis.
    pub lost_writes: u64,
    /// Server restarts noticed (another `run_id` after a reconnect).
    pub restarts: u64,
    /// Namespace bumps that succeeded.
    pub bumps: u64,
    /// Namespace bumps that failed (and were retried).
    pub failed_bumps: u64,
    /// Local flushes asked for.
    pub flushes: u64,
}

#[derive(Debug, Clone)]
pub struct OutagePolicy {
    phase: Phase,
    /// Reasons for a bump so far (lost writes, restarts): a bump with ticket `t` covers the first `t`.
    owed: u64,
    /// The highest ticket a successful bump had.
    covered: u64,
    in_flight: Option<u64>,
    /// Invalidations may have been missed since the last time the phase was Up.
    flush_when_up: bool,
    server_id: String,
    counts: OutageCounts,
}

impl OutagePolicy {
    /// Freshly connected and subscribed to the server `server_id`.
    pub fn connected(server_id: &str) -> Self {
        Self {
            phase: Phase::Up,
            owed: 0,
            covered: 0,
            in_flight: None,
            flush_when_up: false,
            server_id: server_id.to_string(),
            counts: OutageCounts::default(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether local entries may be served, and Redis read: only when Up.
    pub fn trustworthy(&self) -> bool {
        self.phase == Phase::Up
    }

    /// Whether a bump is owed.
    pub fn bump_owed(&self) -> bool {
        self.covered < self.owed
    }

    pub fn counts(&self) -> OutageCounts {
        self.counts
    }

    pub fn on(&mut self, event: Event) -> Step {
        match event {
            Event::Subscribed { server_id } => {
                if self.phase == Phase::Down {
                    self.counts.reconnects += 1;
                }
                if server_id != self.server_id {
                    self.counts.restarts += 1;
                    self.owed += 1;
                    self.server_id = server_id;
                }
                self.phase = Phase::Recovering;
                self.settle()
            }
            Event::SubscriptionLost => {
                if self.phase != Phase::Down {
                    self.counts.outages += 1;
                }
                self.phase = Phase::Down;
                self.flush_when_up = true;
                Step::default()
            }
            Event::WriteLost => {
                self.counts.lost_writes += 1;
                self.owed += 1;
                if self.phase == Phase::Up {
                    self.phase = Phase::Recovering;
                }
                // Down: the bump waits for the subscription. Recovering with a bump in flight: that
                // bump's ticket no longer covers `owed`, so another one follows it.
                self.settle()
            }
            Event::BumpSucceeded { ticket } => {
                if self.in_flight == Some(ticket) {
                    self.in_flight = None;
                }
                self.counts.bumps += 1;
                self.covered = self.covered.max(ticket);
                self.settle()
            }
            Event::BumpFailed { ticket } => {
                if self.in_flight == Some(ticket) {
                    self.in_flight = None;
                }
                self.counts.failed_bumps += 1;
                // Retried on the next Tick, after the tier's backoff.
                Step::default()
            }
            Event::Tick => self.settle(),
        }
    }

    /// While Recovering: ask for a bump if one is owed and none is in flight, or go Up if nothing
    /// is owed (flushing first if invalidations may have been missed).
    fn settle(&mut self) -> Step {
        if self.phase != Phase::Recovering {
            return Step::default();
        }
        if self.bump_owed() {
            if self.in_flight.is_some() {
                return Step::default();
            }
            self.in_flight = Some(self.owed);
            return Step {
                flush_local: false,
                bump: Some(self.owed),
            };
        }
        self.phase = Phase::Up;
        let flush_local = std::mem::take(&mut self.flush_when_up);
        if flush_local {
            self.counts.flushes += 1;
        }
        Step {
            flush_local,
            bump: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribed(id: &str) -> Event {
        Event::Subscribed {
            server_id: id.to_string(),
        }
    }

    const FLUSH: Step = Step {
        flush_local: true,
        bump: None,
    };

    fn bump(ticket: u64) -> Step {
        Step {
            flush_local: false,
            bump: Some(ticket),
        }
    }

    #[test]
    fn starts_up_and_trustworthy() {
        let policy = OutagePolicy::connected("r1");
        assert_eq!(policy.phase(), Phase::Up);
        assert!(policy.trustworthy());
        assert!(!policy.bump_owed());
    }

    #[test]
    fn a_lost_subscription_is_untrustworthy_until_resubscribed_then_flushes_once() {
        let mut p = OutagePolicy::connected("r1");
        assert_eq!(p.on(Event::SubscriptionLost), Step::default());
        assert!(!p.trustworthy());
        assert_eq!(p.on(Event::SubscriptionLost), Step::default());
        assert_eq!(
            p.on(Event::Tick),
            Step::default(),
            "nothing to do while down"
        );
        assert!(!p.trustworthy());
        assert_eq!(p.on(subscribed("r1")), FLUSH);
        assert!(p.trustworthy());
        assert_eq!(p.on(Event::Tick), Step::default(), "flushed once only");
        let c = p.counts();
        assert_eq!((c.outages, c.reconnects, c.flushes, c.bumps), (1, 1, 1, 0));
    }

    #[test]
    fn every_down_up_transition_flushes() {
        let mut p = OutagePolicy::connected("r1");
        for _ in 0..3 {
            p.on(Event::SubscriptionLost);
            assert_eq!(p.on(subscribed("r1")), FLUSH);
        }
        assert_eq!(p.counts().flushes, 3);
        assert_eq!(p.counts().reconnects, 3);
    }

    #[test]
    fn a_delete_lost_during_an_outage_is_bumped_before_trusting_again() {
        let mut p = OutagePolicy::connected("r1");
        p.on(Event::SubscriptionLost);
        assert_eq!(
            p.on(Event::WriteLost),
            Step::default(),
            "no bump while down"
        );
        assert_eq!(p.on(subscribed("r1")), bump(1));
        assert_eq!(p.phase(), Phase::Recovering);
        assert!(!p.trustworthy(), "not before the bump");
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 1 }), FLUSH);
        assert!(p.trustworthy());
        assert!(!p.bump_owed());
    }

    #[test]
    fn a_failed_bump_is_retried_on_tick_and_stays_untrustworthy() {
        let mut p = OutagePolicy::connected("r1");
        p.on(Event::SubscriptionLost);
        p.on(Event::WriteLost);
        assert_eq!(p.on(subscribed("r1")), bump(1));
        assert_eq!(
            p.on(Event::Tick),
            Step::default(),
            "one bump in flight at a time"
        );
        assert_eq!(p.on(Event::BumpFailed { ticket: 1 }), Step::default());
        assert!(!p.trustworthy());
        assert_eq!(p.on(Event::Tick), bump(1));
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 1 }), FLUSH);
        assert_eq!(p.counts().failed_bumps, 1);
        assert_eq!(p.counts().bumps, 1);
    }

    #[test]
    fn a_write_lost_while_up_bumps_at_once_without_flushing() {
        let mut p = OutagePolicy::connected("r1");
        assert_eq!(p.on(Event::WriteLost), bump(1));
        assert!(!p.trustworthy());
        assert_eq!(
            p.on(Event::BumpSucceeded { ticket: 1 }),
            Step::default(),
            "the subscription never dropped: nothing was missed"
        );
        assert!(p.trustworthy());
    }

    #[test]
    fn a_write_lost_while_a_bump_is_in_flight_gets_its_own_bump() {
        let mut p = OutagePolicy::connected("r1");
        assert_eq!(p.on(Event::WriteLost), bump(1));
        assert_eq!(p.on(Event::WriteLost), Step::default());
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 1 }), bump(2));
        assert!(!p.trustworthy());
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 2 }), Step::default());
        assert!(p.trustworthy());
    }

    #[test]
    fn a_restarted_server_owes_a_bump_even_without_lost_writes() {
        let mut p = OutagePolicy::connected("r1");
        p.on(Event::SubscriptionLost);
        assert_eq!(p.on(subscribed("r2")), bump(1));
        assert!(!p.trustworthy());
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 1 }), FLUSH);
        assert_eq!(p.counts().restarts, 1);
        // The same server again later: no bump.
        p.on(Event::SubscriptionLost);
        assert_eq!(p.on(subscribed("r2")), FLUSH);
    }

    #[test]
    fn losing_the_subscription_while_recovering_waits_for_it_again() {
        let mut p = OutagePolicy::connected("r1");
        p.on(Event::SubscriptionLost);
        p.on(Event::WriteLost);
        assert_eq!(p.on(subscribed("r1")), bump(1));
        p.on(Event::SubscriptionLost);
        // The bump completes while down: it counts, but nothing is trusted yet.
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 1 }), Step::default());
        assert!(!p.trustworthy());
        assert!(!p.bump_owed());
        assert_eq!(p.on(subscribed("r1")), FLUSH);
        assert_eq!(p.counts().outages, 2);
    }

    #[test]
    fn a_bump_in_flight_across_a_restart_is_followed_by_another() {
        let mut p = OutagePolicy::connected("r1");
        assert_eq!(p.on(Event::WriteLost), bump(1));
        p.on(Event::SubscriptionLost);
        assert_eq!(
            p.on(subscribed("r2")),
            Step::default(),
            "ticket 1 still in flight"
        );
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 1 }), bump(2));
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 2 }), FLUSH);
        assert!(p.trustworthy());
    }

    #[test]
    fn a_stale_bump_result_changes_nothing_else() {
        let mut p = OutagePolicy::connected("r1");
        assert_eq!(p.on(Event::WriteLost), bump(1));
        assert_eq!(p.on(Event::BumpFailed { ticket: 7 }), Step::default());
        assert_eq!(
            p.on(Event::Tick),
            Step::default(),
            "ticket 1 is still in flight"
        );
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 1 }), Step::default());
        assert!(p.trustworthy());
        assert_eq!(p.on(Event::BumpSucceeded { ticket: 1 }), Step::default());
        assert!(p.trustworthy());
    }

    #[test]
    fn resubscribing_while_up_is_harmless() {
        let mut p = OutagePolicy::connected("r1");
        assert_eq!(p.on(subscribed("r1")), Step::default());
        assert!(p.trustworthy());
        assert_eq!(p.counts().reconnects, 0);
    }
}
