//! Strict failover safety on the sentinel's side (docs/failover-safety.md, rule 2): what
//! the servers' INFO says about their safety, and the failover leader's fencing round.
//!
//! A master that reports `failover_safety:strict` acknowledges a write only once `W`
//! replicas hold it. The leader of epoch `E` therefore does not pick a replica from INFO as
//! Redis does: it sends `REPLFENCE E` to the replicas (each stops taking the old master's
//! stream and answers with its replication id and offset), waits until `n - W + 1` of them
//! answered (so at least one holds every acknowledged write), then one lease (so the old
//! master has stopped serving), and promotes the fenced replica with the greatest offset on
//! the master's history. Short of that it waits, says so with `+failover-wait-fence`, and
//! gives up after failover-timeout (`-failover-abort-no-good-slave`), as Redis gives up.

use super::*;

/// How often a fence is sent again to a replica that has not answered.
const FENCE_RESEND_MS: Ms = 1000;

impl Core {
    /// Take what an INFO reply says about failover safety: a strict master's promise and
    /// its lease, and its replication id.
    pub(super) fn learn_safety(&mut self, now: Ms, t: &Target, info: &InfoFields) {
        let Some(m) = self.masters.get_mut(t.master()) else {
            return;
        };
        match t {
            Target::Master(_) if info.role == Role::Master => {
                m.replid = info.replid.clone();
                m.server_epoch = info.failover_epoch;
                m.safety = info.strict.then(|| StrictSafety {
                    min_acks: info.min_acks.unwrap_or(1).max(1),
                    lease_ms: info.lease_ms.unwrap_or(500),
                });
                m.lease_lost = match (m.safety, info.lease_lost_ms) {
                    (Some(_), Some(ms)) => Some((now, ms)),
                    _ => None,
                };
            }
            // A deployment whose master we never heard from: its replicas say it is strict
            // (the defaults are the safe side, see `StrictSafety::default`).
            Target::Replica(..) if info.strict && m.inst.info_refresh.is_none() => {
                m.safety.get_or_insert_with(StrictSafety::default);
            }
            _ => {}
        }
    }

    /// The SELECT_SLAVE state of a strict failover: fence, wait, then select.
    pub(super) fn fo_select_fenced(&mut self, now: Ms, name: &str, safety: StrictSafety) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let epoch = m.failover_epoch;
        if m.fence.as_ref().is_none_or(|f| f.epoch != epoch) {
            m.fence = Some(FenceRound {
                epoch,
                ..FenceRound::default()
            });
        }
        let round = m.fence.as_mut().expect("set just above");
        // (Re)send the fence to every reachable replica that has not answered.
        let mut out = Vec::new();
        for (k, r) in &m.replicas {
            if !r.inst.connected || round.fenced.contains_key(k) {
                continue;
            }
            if round
                .sent
                .get(k)
                .is_some_and(|t| now.saturating_sub(*t) < FENCE_RESEND_MS)
            {
                continue;
            }
            round.sent.insert(k.clone(), now);
            out.push(Action::Fence(
                Target::Replica(name.to_string(), k.clone()),
                epoch,
            ));
        }
        self.out.append(&mut out);
        let m = &self.masters[name];
        let round = m.fence.as_ref().expect("set above");
        let need = fences_needed(m.replicas.len(), safety.min_acks);
        let fenced = round.fenced.len();
        let timed_out = now.saturating_sub(m.failover_state_change) > m.failover_timeout;
        if m.replicas.is_empty() {
            return self.abort_failover(name, Event::FailoverAbortNoGoodSlave);
        }
        if fenced < need {
            if timed_out {
                return self.abort_failover(name, Event::FailoverAbortNoGoodSlave);
            }
            return self.announce_wait(name, fenced, need, "waiting for replicas to fence");
        }
        let m = self.masters.get_mut(name).expect("checked above");
        let round = m.fence.as_mut().expect("set above");
        let complete_at = *round.complete_at.get_or_insert(now);
        // The old master serves (reads included) while W replicas acknowledged within its
        // lease; after the fences it cannot gather W, so one lease from now it has stopped.
        if now.saturating_sub(complete_at) < safety.lease_ms {
            return self.announce_wait(
                name,
                fenced,
                need,
                "waiting for the old master's lease to end",
            );
        }
        match self.select_fenced(name) {
            Some(k) => self.promote_selected(now, name, &k),
            None if timed_out => self.abort_failover(name, Event::FailoverAbortNoGoodSlave),
            None => self.announce_wait(name, fenced, need, "no fenced replica can be promoted"),
        }
    }

    /// `+failover-wait-fence`, once per fenced count and reason.
    fn announce_wait(&mut self, name: &str, fenced: usize, need: usize, why: &'static str) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let Some(round) = m.fence.as_mut() else {
            return;
        };
        if round.announced == Some((fenced, why)) {
            return;
        }
        round.announced = Some((fenced, why));
        let at = Subject::master(m);
        self.event(Event::FailoverWaitFence {
            at,
            fenced,
            need,
            why,
        });
    }

    /// The fenced replica to promote: on the master's history (its replication id), the
    /// greatest offset; among those equal, Redis's order (priority, then run id). A replica
    /// with priority 0, or not reachable, is not promoted, nor one behind another fenced
    /// replica: that would lose what only the other holds.
    pub fn select_fenced(&self, name: &str) -> Option<String> {
        let m = self.masters.get(name)?;
        let round = m.fence.as_ref()?;
        let history = match &m.replid {
            Some(id) => id.clone(),
            // Never heard the master: only if all fenced replicas share one history.
            None => {
                let mut ids = round.fenced.values().map(|f| &f.replid);
                let first = ids.next()?;
                if ids.any(|i| i != first) {
                    return None;
                }
                first.clone()
            }
        };
        let on_history = || {
            round
                .fenced
                .iter()
                .filter(|(_, f)| f.replid == history && f.role == Role::Slave)
        };
        let best = on_history().map(|(_, f)| f.offset).max()?;
        let mut c: Vec<(&String, &Replica)> = on_history()
            .filter(|(_, f)| f.offset == best)
            .filter_map(|(k, _)| m.replicas.get(k).map(|r| (k, r)))
            .filter(|(_, r)| r.priority != 0 && r.inst.connected && r.inst.sdown_since.is_none())
            .collect();
        c.sort_by(|a, b| {
            a.1.priority
                .cmp(&b.1.priority)
                .then(match (&a.1.inst.runid, &b.1.inst.runid) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => a.0.cmp(b.0),
                })
        });
        c.first().map(|(k, _)| (*k).clone())
    }

    /// Replicas fenced by a failover that never promoted anyone (its leader gave up or
    /// died) refuse the master's stream for good: its epoch is older than theirs. Once such
    /// a replica has been cut off for longer than failover-timeout (by then the leader of
    /// that epoch has promoted or aborted: it aborts a fencing round at failover-timeout)
    /// and the master is healthy, raise the master's epoch to theirs (`REPLFENCE` to the
    /// master) so they rejoin it.
    pub(super) fn rejoin_fenced(&mut self, now: Ms, name: &str) {
        let info_period = self.timers.info_period;
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let healthy = m.safety.is_some()
            && !m.in_failover()
            && m.odown_since.is_none()
            && m.inst.sdown_since.is_none()
            && m.inst.connected
            && m.inst.role == Role::Master
            && m.inst
                .info_refresh
                .is_some_and(|t| now.saturating_sub(t) <= info_period.saturating_mul(2));
        if !healthy {
            return;
        }
        let cut_off_for = m.failover_timeout.saturating_add(info_period);
        let epoch = m
            .replicas
            .values()
            .filter(|r| {
                r.failover_epoch > m.server_epoch
                    && !r.master_link_up
                    && r.master_link_down_ms > cut_off_for
                    && r.master_host
                        .as_deref()
                        .is_some_and(|h| self.same_host(h, &m.inst.addr.host))
                    && r.master_port == m.inst.addr.port
                    && r.inst
                        .info_refresh
                        .is_some_and(|t| now.saturating_sub(t) <= info_period.saturating_mul(2))
            })
            .map(|r| r.failover_epoch)
            .max();
        let Some(epoch) = epoch else { return };
        if m.rejoin_sent
            .is_some_and(|(e, t)| e == epoch && now.saturating_sub(t) < info_period)
        {
            return;
        }
        let addr = m.inst.addr.clone();
        if let Some(m) = self.masters.get_mut(name) {
            m.rejoin_sent = Some((epoch, now));
        }
        self.log(
            Level::Notice,
            format!(
                "Raising the failover epoch of master {name} {} {} to {epoch}: replicas fenced by a failover that did not finish rejoin it",
                addr.host, addr.port
            ),
        );
        self.out
            .push(Action::Fence(Target::Master(name.to_string()), epoch));
    }

    /// A replica answered REPLFENCE (or the master, raised by `rejoin_fenced`).
    pub(super) fn fence_reply(
        &mut self,
        _now: Ms,
        t: &Target,
        epoch: u64,
        result: Result<FenceReport, String>,
    ) {
        if let (Target::Master(name), Err(why)) = (t, &result) {
            return self.log(
                Level::Warning,
                format!("Master {name} refused failover epoch {epoch}: {why}"),
            );
        }
        let Target::Replica(name, k) = t else { return };
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let current = m.failover_state == FailoverState::SelectSlave
            && m.fence.as_ref().is_some_and(|f| f.epoch == epoch);
        if !current || !m.replicas.contains_key(k) {
            return;
        }
        match result {
            Ok(report) if report.epoch == epoch => {
                let at = Subject::replica(&m.replicas[k].inst, m);
                let offset = report.offset;
                if let Some(round) = m.fence.as_mut() {
                    round.fenced.insert(k.clone(), report);
                }
                self.event(Event::SlaveFenced { at, epoch, offset });
            }
            Ok(report) => self.log(
                Level::Warning,
                format!(
                    "Replica {k} answered the fence at epoch {epoch} with epoch {}: not fenced",
                    report.epoch
                ),
            ),
            Err(why) => self.log(
                Level::Warning,
                format!("Replica {k} refused the fence at epoch {epoch}: {why}"),
            ),
        }
    }
}

impl Master {
    /// A strict master that has served nothing for longer than down-after plus
    /// failover-timeout (it has no lease: its replicas are gone or were fenced by a failover
    /// that never finished) is down: a new failover, at a new epoch, fences and promotes.
    pub fn lease_down(&self, now: Ms) -> bool {
        self.safety.is_some()
            && self.inst.role == Role::Master
            && self.lease_lost.is_some_and(|(at, ms)| {
                ms.saturating_add(now.saturating_sub(at))
                    > self.down_after.saturating_add(self.failover_timeout)
            })
    }
}

/// `n - W + 1` fences (at least one): with `W` replicas holding each acknowledged write,
/// any `n - W + 1` of the `n` share one of them.
pub fn fences_needed(replicas: usize, min_acks: u32) -> usize {
    (replicas + 1).saturating_sub(min_acks as usize).max(1)
}
