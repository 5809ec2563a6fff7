//! The failover state machine, replica selection, the address switch and RESET.

use rand::RngExt;

use super::*;

impl Core {
    // ------------------------------------------------------------------ failover

    pub(super) fn failover_step(&mut self, now: Ms, name: &str) {
        self.start_failover_if_needed(now, name);
        let Some(state) = self.masters.get(name).map(|m| m.failover_state) else {
            return;
        };
        match state {
            FailoverState::None => {}
            FailoverState::WaitStart => self.fo_wait_start(now, name),
            FailoverState::SelectSlave => self.fo_select_slave(now, name),
            FailoverState::SendSlaveofNoone => self.fo_send_slaveof_noone(now, name),
            FailoverState::WaitPromotion => {
                let timeout = self.masters[name].failover_timeout;
                if now.saturating_sub(self.masters[name].failover_state_change) > timeout {
                    self.abort_failover(name, Event::FailoverAbortSlaveTimeout);
                }
            }
            FailoverState::ReconfSlaves => self.fo_reconf_slaves(now, name),
            FailoverState::UpdateConfig => self.switch_to_promoted(now, name),
        }
    }

    pub(super) fn start_failover_if_needed(&mut self, now: Ms, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        if m.odown_since.is_none() || m.in_failover() {
            return;
        }
        if now.saturating_sub(m.failover_start_time) < m.failover_timeout.saturating_mul(2)
            && m.failover_start_time != 0
        {
            return;
        }
        self.start_failover(now, name);
    }

    /// A new epoch and the WAIT_START state; false (logged, nothing changed) when the
    /// current epoch is already [`MAX_EPOCH`]: an epoch never wraps.
    pub(super) fn start_failover(&mut self, now: Ms, name: &str) -> bool {
        let Some(epoch) = self
            .current_epoch
            .checked_add(1)
            .filter(|e| *e <= MAX_EPOCH)
        else {
            // As a failed attempt: the next one waits 2 x failover-timeout (no log storm).
            if let Some(m) = self.masters.get_mut(name) {
                m.failover_start_time = now;
            }
            self.log(
                Level::Warning,
                format!(
                    "Can't start a failover of {name}: the current epoch {} is the largest an epoch can be",
                    self.current_epoch
                ),
            );
            return false;
        };
        if !self.masters.contains_key(name) {
            return false;
        }
        self.current_epoch = epoch;
        let jitter = self.rng.random::<u64>() % 1000;
        let Some(m) = self.masters.get_mut(name) else {
            return false;
        };
        m.failover_state = FailoverState::WaitStart;
        m.failover_state_change = now;
        m.failover_epoch = epoch;
        m.fence = None;
        m.failover_start_time = now + jitter;
        let at = Subject::master(m);
        self.event(Event::NewEpoch {
            master: name.to_string(),
            epoch,
        });
        self.event(Event::TryFailover(at));
        self.out.push(Action::Flush);
        // Ask for votes at once.
        self.ask_others(now, name, true);
        true
    }

    /// Enter a failover state, with its `+failover-state-...` event.
    pub(super) fn set_state(&mut self, now: Ms, name: &str, st: FailoverState) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.failover_state = st;
        m.failover_state_change = now;
        if let Some(e) = Event::failover_state(st, Subject::master(m)) {
            self.event(e);
        }
    }

    pub(super) fn fo_wait_start(&mut self, now: Ms, name: &str) {
        let epoch = self.masters[name].failover_epoch;
        let forced = self.masters[name].force_failover;
        let leader = self.get_leader(now, name, epoch);
        let me = leader.as_deref() == Some(self.myid.as_str());
        if !me && !forced {
            let m = &self.masters[name];
            let timeout = self.timers.election_timeout.min(m.failover_timeout);
            if now.saturating_sub(m.failover_start_time) > timeout {
                self.abort_failover(name, Event::FailoverAbortNotElected);
            }
            return;
        }
        let at = Subject::master(&self.masters[name]);
        self.event(Event::ElectedLeader(at));
        if self.sim.crash_after_election {
            self.out.push(Action::Crash);
        }
        self.set_state(now, name, FailoverState::SelectSlave);
    }

    /// The replica to promote (Redis's `sentinelSelectSlave`).
    pub fn select_replica(&self, now: Ms, name: &str) -> Option<String> {
        let m = self.masters.get(name)?;
        let t = &self.timers;
        let info_validity = if m.inst.sdown_since.is_some() {
            t.ping_period.saturating_mul(5)
        } else {
            t.info_period.saturating_mul(3)
        };
        let max_link_down = m
            .inst
            .sdown_since
            .map_or(0, |s| now.saturating_sub(s))
            .saturating_add(m.down_after.saturating_mul(10));
        let mut c: Vec<(&String, &Replica)> = m
            .replicas
            .iter()
            .filter(|(_, r)| {
                r.inst.sdown_since.is_none()
                    && r.inst.connected
                    && now.saturating_sub(r.inst.last_avail) <= t.ping_period.saturating_mul(5)
                    && r.priority != 0
                    && r.inst
                        .info_refresh
                        .is_some_and(|i| now.saturating_sub(i) <= info_validity)
                    && r.master_link_down_ms <= max_link_down
            })
            .collect();
        c.sort_by(|a, b| {
            a.1.priority
                .cmp(&b.1.priority)
                .then(b.1.repl_offset.cmp(&a.1.repl_offset))
                .then(match (&a.1.inst.runid, &b.1.inst.runid) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
        });
        c.first().map(|(k, _)| (*k).clone())
    }

    pub(super) fn fo_select_slave(&mut self, now: Ms, name: &str) {
        // A strict master's replicas are fenced first (`fence.rs`).
        if let Some(safety) = self.masters.get(name).and_then(|m| m.safety) {
            return self.fo_select_fenced(now, name, safety);
        }
        match self.select_replica(now, name) {
            None => {
                self.abort_failover(name, Event::FailoverAbortNoGoodSlave);
            }
            Some(k) => self.promote_selected(now, name, &k),
        }
    }

    /// `+selected-slave`: the replica `k` is the one to promote.
    pub(super) fn promote_selected(&mut self, now: Ms, name: &str, k: &str) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let Some(r) = m.replicas.get_mut(k) else {
            return;
        };
        r.promoted = true;
        let at = Subject::replica(&m.replicas[k].inst, m);
        self.event(Event::SelectedSlave(at));
        self.set_state(now, name, FailoverState::SendSlaveofNoone);
    }

    pub(super) fn fo_send_slaveof_noone(&mut self, now: Ms, name: &str) {
        let m = &self.masters[name];
        let Some((k, r)) = m.replicas.iter().find(|(_, r)| r.promoted) else {
            return;
        };
        if !r.inst.connected {
            if now.saturating_sub(m.failover_state_change) > m.failover_timeout {
                self.abort_failover(name, Event::FailoverAbortSlaveTimeout);
            }
            return;
        }
        let t = Target::Replica(name.to_string(), k.clone());
        // A manual failover of a master we can reach hands over with the master's own
        // FAILOVER (Redis 6.2+): writes are held until the replica has them all, so none
        // that was acknowledged is lost (Redis Sentinel's SLAVEOF NO ONE loses those the
        // master took after the replica's last sync, redis/redis#6062). The classic
        // promotion remains for a master that is down or refuses.
        // (Not in strict mode: the fenced replicas no longer take the master's stream, so
        // the hand-over could not complete; they are promoted as below.)
        let switchover = m.force_failover
            && m.inst.connected
            && m.inst.sdown_since.is_none()
            && m.safety.is_none();
        if switchover {
            let to = r.inst.addr.clone();
            let timeout_ms = (m.failover_timeout / 4).clamp(1000, 10_000);
            self.out.push(Action::Switchover {
                master: Target::Master(name.to_string()),
                to,
                timeout_ms,
            });
            if let Some(m) = self.masters.get_mut(name) {
                m.switchover = true;
            }
        } else {
            self.out.push(Action::ReplicaOf(t.clone(), None));
            // Ask for its INFO right behind the reconfiguration (the link answers in
            // order): the promotion is seen at once, not at the next 1 s INFO round.
            self.out.push(Action::Info(t));
        }
        self.set_state(now, name, FailoverState::WaitPromotion);
    }

    /// The master answered our FAILOVER: on a refusal (an old server without FAILOVER, a
    /// replica not online...) promote the replica the classic way.
    pub(super) fn switchover_reply(&mut self, _now: Ms, name: &str, result: Result<(), String>) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        if !m.switchover || m.failover_state != FailoverState::WaitPromotion {
            return;
        }
        let Err(why) = result else {
            // Accepted: the promotion shows in the replica's INFO.
            if let Some((k, _)) = m.replicas.iter().find(|(_, r)| r.promoted) {
                self.out
                    .push(Action::Info(Target::Replica(name.to_string(), k.clone())));
            }
            return;
        };
        let Some((k, r)) = m.replicas.iter().find(|(_, r)| r.promoted) else {
            return;
        };
        let at = Subject::replica(&r.inst, m);
        let t = Target::Replica(name.to_string(), k.clone());
        if let Some(m) = self.masters.get_mut(name) {
            m.switchover = false;
        }
        self.event(Event::SwitchoverRefused { at, why });
        self.out.push(Action::ReplicaOf(t.clone(), None));
        self.out.push(Action::Info(t));
    }

    pub(super) fn fo_reconf_slaves(&mut self, now: Ms, name: &str) {
        let timers = self.timers.clone();
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let Some(promoted) = m.promoted().map(|p| p.inst.addr.clone()) else {
            return;
        };
        let mut out = Vec::new();
        let m_ro = m.clone();
        let mut in_progress = m
            .replicas
            .values()
            .filter(|r| !r.promoted && (r.reconf_sent || r.reconf_inprog))
            .count() as u32;
        for (k, r) in m.replicas.iter_mut() {
            if r.promoted || r.reconf_done {
                continue;
            }
            // Sent too long ago: consider it done.
            if r.reconf_sent && now.saturating_sub(r.reconf_sent_time) > timers.slave_reconf_timeout
            {
                r.reconf_sent = false;
                r.reconf_done = true;
                in_progress = in_progress.saturating_sub(1);
                out.push(Action::Event(Event::SlaveReconfSentTimeout(
                    Subject::replica(&r.inst, &m_ro),
                )));
                continue;
            }
            if r.reconf_sent || r.reconf_inprog {
                continue;
            }
            if in_progress >= m_ro.parallel_syncs.max(1) {
                break;
            }
            if !r.inst.connected || r.inst.sdown_since.is_some() {
                continue;
            }
            r.reconf_sent = true;
            r.reconf_sent_time = now;
            in_progress += 1;
            out.push(Action::ReplicaOf(
                Target::Replica(name.to_string(), k.clone()),
                Some(promoted.clone()),
            ));
            out.push(Action::Info(Target::Replica(name.to_string(), k.clone())));
            out.push(Action::Event(Event::SlaveReconfSent(Subject::replica(
                &r.inst, &m_ro,
            ))));
        }
        self.out.append(&mut out);
        // Done when every replica not down is reconfigured, or on timeout.
        let m = &self.masters[name];
        let pending = m
            .replicas
            .values()
            .filter(|r| !r.promoted && !r.reconf_done && r.inst.sdown_since.is_none())
            .count();
        let timed_out = now.saturating_sub(m.failover_state_change) > m.failover_timeout;
        if pending == 0 || timed_out {
            let at = Subject::master(m);
            if timed_out && pending > 0 {
                self.event(Event::FailoverEndForTimeout(at.clone()));
                // Best effort for the rest.
                let m = self.masters.get_mut(name).expect("checked above");
                let mut out = Vec::new();
                let m_ro = m.clone();
                for (k, r) in m.replicas.iter_mut() {
                    if !r.promoted && !r.reconf_done && !r.reconf_sent {
                        r.reconf_sent = true;
                        out.push(Action::ReplicaOf(
                            Target::Replica(name.to_string(), k.clone()),
                            Some(promoted.clone()),
                        ));
                        out.push(Action::Event(Event::SlaveReconfSentBe(Subject::replica(
                            &r.inst, &m_ro,
                        ))));
                    }
                }
                self.out.append(&mut out);
            }
            self.event(Event::FailoverEnd(at));
            let m = self.masters.get_mut(name).expect("checked above");
            m.failover_state = FailoverState::UpdateConfig;
            m.failover_state_change = now;
        }
    }

    /// Abort the failover with `event` (one of the `-failover-abort-...`).
    pub(super) fn abort_failover(&mut self, name: &str, event: fn(Subject) -> Event) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if m.failover_state > FailoverState::WaitPromotion {
            return;
        }
        m.failover_state = FailoverState::None;
        m.force_failover = false;
        m.switchover = false;
        m.fence = None;
        for r in m.replicas.values_mut() {
            r.promoted = false;
        }
        let at = Subject::master(m);
        self.event(event(at));
    }

    /// The failover is done: the promoted replica is the master (Redis's
    /// `sentinelFailoverSwitchToPromotedSlave`).
    pub(super) fn switch_to_promoted(&mut self, now: Ms, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let Some(p) = m.promoted().map(|p| p.inst.addr.clone()) else {
            return;
        };
        self.switch_master(now, name, p);
    }

    /// Move a master to a new address: `+switch-master`, its replicas become the old
    /// master and the other replicas (Redis's `sentinelResetMasterAndChangeAddress`).
    pub fn switch_master(&mut self, now: Ms, name: &str, to: Addr) {
        let timers = self.timers.clone();
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let old = m.inst.addr.clone();
        // The same instance named or given by IP counts once (Redis's
        // `sentinelAddrOrHostnameEqual`).
        let mut replicas: Vec<Addr> = m
            .replicas
            .values()
            .map(|r| r.inst.addr.clone())
            .filter(|a| !self.same_addr(a, &to))
            .collect();
        if !self.same_addr(&old, &to) && !replicas.iter().any(|a| self.same_addr(a, &old)) {
            replicas.push(old.clone());
        }
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let switched = Event::SwitchMaster {
            name: name.to_string(),
            old: old.clone(),
            new: to.clone(),
        };
        // The links of the old replicas, the promoted one among them: Redis releases those
        // instances (and closes their links) when it makes the new ones.
        let old_replicas: Vec<String> = m.replicas.keys().cloned().collect();
        // Reset the master.
        let mut fresh = m.reset_at(to.clone(), &timers, now);
        fresh.leader = m.leader.clone();
        fresh.leader_epoch = m.leader_epoch;
        fresh.failover_start_time = m.failover_start_time;
        fresh.sentinels = m
            .sentinels
            .iter()
            .map(|(k, s)| {
                let mut s = s.clone();
                s.master_down = false;
                s.leader = None;
                (k.clone(), s)
            })
            .collect();
        replicas.sort();
        for a in &replicas {
            fresh
                .replicas
                .insert(a.name(), Replica::new(a.clone(), now));
        }
        for k in old_replicas {
            if !fresh.replicas.contains_key(&k) {
                self.out
                    .push(Action::Disconnect(Target::Replica(name.to_string(), k)));
            }
        }
        *m = fresh;
        self.out
            .push(Action::Disconnect(Target::Master(name.to_string())));
        self.out.push(Action::Connect(
            Target::Master(name.to_string()),
            to.clone(),
        ));
        self.event(switched);
        let m = &self.masters[name];
        let mut adds = Vec::new();
        for (k, r) in &m.replicas {
            // Fresh links, as Redis creates new instances.
            adds.push(Action::Disconnect(Target::Replica(
                name.to_string(),
                k.clone(),
            )));
            adds.push(Action::Connect(
                Target::Replica(name.to_string(), k.clone()),
                r.inst.addr.clone(),
            ));
            adds.push(Action::Event(Event::Slave(Subject::replica(&r.inst, m))));
        }
        self.out.append(&mut adds);
        self.out.push(Action::Flush);
    }

    // ------------------------------------------------------------------ commands

    /// SENTINEL FAILOVER: start a failover without agreement.
    pub fn force_failover(&mut self, now: Ms, name: &str) -> Result<(), &'static str> {
        let m = self
            .masters
            .get(name)
            .ok_or("No such master with that name")?;
        if m.in_failover() {
            return Err("-INPROG Failover already in progress");
        }
        if self.select_replica(now, name).is_none() {
            return Err("-NOGOODSLAVE No suitable replica to promote");
        }
        if !self.start_failover(now, name) {
            return Err("Can't start a failover: the current epoch is the largest an epoch can be");
        }
        if let Some(m) = self.masters.get_mut(name) {
            m.force_failover = true;
        }
        Ok(())
    }

    /// SENTINEL RESET for one master: forget replicas and sentinels.
    pub fn reset_master(&mut self, now: Ms, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let addr = m.inst.addr.clone();
        let old: Vec<Target> = m
            .replicas
            .keys()
            .map(|k| Target::Replica(name.into(), k.clone()))
            .chain(
                m.sentinels
                    .keys()
                    .map(|k| Target::Sentinel(name.into(), k.clone())),
            )
            .collect();
        for t in old {
            self.out.push(Action::Disconnect(t));
        }
        let timers = self.timers.clone();
        let m = self.masters.get_mut(name).expect("checked");
        *m = m.reset_at(addr.clone(), &timers, now);
        let at = Subject::master(m);
        self.out
            .push(Action::Disconnect(Target::Master(name.into())));
        self.out
            .push(Action::Connect(Target::Master(name.into()), addr));
        self.event(Event::ResetMaster(at));
        self.out.push(Action::Flush);
    }
}
