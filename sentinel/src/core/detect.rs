//! Failure detection: the timer, periodic PING/INFO/hello, SDOWN/ODOWN, asking the other
//! sentinels, and the votes (Redis's `sentinelVoteLeader`, `sentinelGetLeader`).

use rand::RngExt;

use super::*;

impl Core {
    // ------------------------------------------------------------------ timer

    pub(super) fn tick(&mut self, now: Ms) {
        // TILT: the timer stalled or jumped. (Writing the state file does not stall it: the
        // shell writes off the core, see `shell/state_file.rs`; Redis's fsync of its config
        // blocks and can put it in TILT in the middle of the failover it started.)
        if let Some(prev) = self.previous_tick {
            let delta = now as i64 - prev as i64;
            if delta < 0 || delta as u64 > self.timers.tilt_trigger {
                if self.tilt_since.is_none() {
                    self.event(Event::Tilt);
                }
                self.tilt_since = Some(now);
            }
        }
        self.previous_tick = Some(now);
        if let Some(since) = self.tilt_since {
            if now.saturating_sub(since) > self.timers.tilt_period {
                self.tilt_since = None;
                self.event(Event::TiltExit);
            }
        }
        let names: Vec<String> = self.masters.keys().cloned().collect();
        for name in names {
            self.periodic(now, &name);
        }
    }

    /// Everything done per master each tick (Redis's `sentinelHandleRedisInstance` for the
    /// master and its replicas and sentinels).
    pub(super) fn periodic(&mut self, now: Ms, name: &str) {
        let tilt = self.tilt_since.is_some();
        let timers = self.timers.clone();
        let myid = self.myid.clone();
        let epoch = self.current_epoch;
        let announce = (self.announce_ip.clone(), self.announce_port);
        // The master's address as announce-hostnames says (a name, or its IP).
        let Some(cur) = self
            .masters
            .get(name)
            .map(|m| self.shown(&m.current_addr()))
        else {
            return;
        };
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut out = Vec::new();
        let master_failing = m.odown_since.is_some() || m.in_failover();
        let hello = format!(
            "{},{},{},{},{},{},{},{}",
            announce.0, announce.1, myid, epoch, m.inst.name, cur.host, cur.port, m.config_epoch
        );
        let down_after = m.down_after;
        // A master is asked every second, not every 10 s as Redis does, while we know none of
        // its replicas or learned a new one within the last period: replicas that attach
        // right after start (or after a RESET, or one by one) are then known before the
        // master can fail. Otherwise a failover finds no replica to promote (and retries
        // only after 2 x failover-timeout), or promotes one and leaves the unknown others
        // following the dead master for good.
        let no_replicas =
            m.replicas.is_empty() || now.saturating_sub(m.replicas_changed) < timers.info_period;
        // How often INFO is asked: a replica being moved to the new master is watched
        // closely; one whose master is failing, or that lost its link to it, every second.
        // A strict master without its lease is watched every second too, so that its
        // recovery is seen at once (see `Core::lease_down`).
        let master_info_period = if no_replicas || m.lease_lost.is_some() {
            1000
        } else {
            timers.info_period
        };
        let replica_info_period = |r: &Replica| {
            if r.reconf_sent || r.reconf_inprog {
                200
            } else if master_failing || r.master_link_down_ms != 0 {
                1000
            } else {
                timers.info_period
            }
        };
        // Periodic commands; INFO every `info_period` (none to sentinels).
        let send = |t: Target, i: &mut Instance, info_period: Option<Ms>, out: &mut Vec<Action>| {
            if !i.connected {
                return;
            }
            if let Some(period) = info_period {
                let stale = i
                    .info_refresh
                    .is_none_or(|r| now.saturating_sub(r) > period);
                let asked = i
                    .info_sent
                    .is_some_and(|s| now.saturating_sub(s) < period.min(1000));
                if stale && !asked {
                    out.push(Action::Info(t.clone()));
                    i.info_sent = Some(now);
                }
            }
            let ping_period = down_after.min(timers.ping_period);
            if i.last_pong
                .is_none_or(|p| now.saturating_sub(p) > ping_period)
                && i.last_ping
                    .is_none_or(|p| now.saturating_sub(p) > ping_period / 2)
            {
                out.push(Action::Ping(t.clone()));
                i.last_ping = Some(now);
                if i.act_ping.is_none() {
                    i.act_ping = Some(now);
                }
            }
            if i.last_hello_sent
                .is_none_or(|h| now.saturating_sub(h) > timers.publish_period)
            {
                out.push(Action::Hello(t.clone(), hello.clone()));
                i.last_hello_sent = Some(now);
            }
        };
        let t = Target::Master(name.to_string());
        send(t, &mut m.inst, Some(master_info_period), &mut out);
        for (k, r) in m.replicas.iter_mut() {
            let period = replica_info_period(r);
            let t = Target::Replica(name.to_string(), k.clone());
            send(t, &mut r.inst, Some(period), &mut out);
        }
        for (k, s) in m.sentinels.iter_mut() {
            let t = Target::Sentinel(name.to_string(), k.clone());
            send(t, &mut s.inst, None, &mut out);
        }
        // Reconnect disconnected instances (the shell keeps trying; this re-requests).
        self.out.append(&mut out);
        if tilt {
            return;
        }
        self.check_down(now, name);
        self.failover_step(now, name);
        self.rejoin_fenced(now, name);
        self.ask_others(now, name, false);
    }

    pub(super) fn check_down(&mut self, now: Ms, name: &str) {
        let timers = self.timers.clone();
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut out = Vec::new();
        let at = Subject::master(m);
        let down_after = m.down_after;
        // A master that reports itself as a replica for long enough is down too.
        let reports_slave = m.inst.role == Role::Slave
            && now.saturating_sub(m.inst.role_time)
                > down_after.saturating_add(timers.info_period.saturating_mul(2));
        let lease_down = m.lease_down(now);
        let rebooted = m.reboot_down_after > 0
            && m.reboot_since
                .is_some_and(|t| now.saturating_sub(t) > m.reboot_down_after);
        {
            let inst = &mut m.inst;
            if reports_slave || rebooted || lease_down {
                if inst.sdown_since.is_none() {
                    inst.sdown_since = Some(now);
                    inst.last_sdown = Some(now);
                    out.push(Action::Event(Event::Sdown(at.clone())));
                }
            } else {
                let a = at.clone();
                check_sdown(inst, down_after, now, &mut out, &move |_| a.clone());
            }
        }
        let m_ro = m.clone();
        for r in m.replicas.values_mut() {
            check_sdown(&mut r.inst, down_after, now, &mut out, &|i| {
                Subject::replica(i, &m_ro)
            });
        }
        for s in m.sentinels.values_mut() {
            check_sdown(&mut s.inst, down_after, now, &mut out, &|i| {
                Subject::sentinel(i, &m_ro)
            });
        }
        // Votes older than 5 s do not count.
        for s in m.sentinels.values_mut() {
            if s.last_master_down_reply
                .is_some_and(|t| now.saturating_sub(t) > timers.ask_period.saturating_mul(5))
            {
                s.master_down = false;
                s.leader = None;
            }
        }
        // ODOWN: self (if SDOWN) + sentinels that say so >= quorum.
        let mut votes = 0u32;
        if m.inst.sdown_since.is_some() {
            votes = 1 + m.sentinels.values().filter(|s| s.master_down).count() as u32;
        }
        let odown = m.inst.sdown_since.is_some() && votes >= m.quorum;
        if odown && m.odown_since.is_none() {
            m.odown_since = Some(now);
            out.push(Action::Event(Event::Odown {
                at,
                votes,
                quorum: m.quorum,
            }));
        } else if !odown && m.odown_since.is_some() {
            m.odown_since = None;
            out.push(Action::Event(Event::OdownCleared(at)));
        }
        self.out.append(&mut out);
    }

    /// Ask the other sentinels whether they see the master down (and, during our failover,
    /// for their vote).
    pub(super) fn ask_others(&mut self, now: Ms, name: &str, force: bool) {
        let ask_period = self.timers.ask_period;
        let myid = self.myid.clone();
        let epoch = self.current_epoch;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if m.inst.sdown_since.is_none() {
            return;
        }
        let runid = if m.in_failover() {
            myid
        } else {
            "*".to_string()
        };
        let addr = m.inst.addr.clone();
        for (k, s) in m.sentinels.iter_mut() {
            if !s.inst.connected {
                continue;
            }
            let due = s
                .last_ask
                .is_none_or(|t| now.saturating_sub(t) >= ask_period);
            if !(force || due) {
                continue;
            }
            s.last_ask = Some(now);
            self.out.push(Action::AskMasterDown {
                to: Target::Sentinel(name.to_string(), k.clone()),
                master_ip: addr.host.clone(),
                master_port: addr.port,
                epoch,
                runid: runid.clone(),
            });
        }
    }

    pub(super) fn master_down_reply(
        &mut self,
        now: Ms,
        from: &Target,
        down: bool,
        leader: &str,
        epoch: u64,
    ) {
        let Target::Sentinel(m, k) = from else {
            return;
        };
        let Some(s) = self.masters.get_mut(m).and_then(|m| m.sentinels.get_mut(k)) else {
            return;
        };
        s.last_master_down_reply = Some(now);
        s.master_down = down;
        if leader != "*" {
            s.leader = Some(leader.to_string());
            s.leader_epoch = epoch;
        }
    }

    /// SENTINEL is-master-down-by-addr: our view, and our vote when a run id asks for it.
    /// Returns (down, leader, leader_epoch).
    pub fn is_master_down_by_addr(
        &mut self,
        now: Ms,
        addr: &Addr,
        req_epoch: u64,
        runid: &str,
    ) -> (bool, String, u64) {
        // Redis looks the master up through `createSentinelAddr`: with resolve-hostnames
        // off a name is logged and matches no master.
        if !self.usable_host(&addr.host) {
            return (false, "*".into(), 0);
        }
        let Some(name) = self
            .masters
            .iter()
            .find(|(_, m)| self.same_addr(&m.inst.addr, addr))
            .map(|(n, _)| n.clone())
        else {
            return (false, "*".into(), 0);
        };
        let tilt = self.tilt_since.is_some();
        let down = !tilt
            && self
                .masters
                .get(&name)
                .is_some_and(|m| m.inst.sdown_since.is_some());
        if runid == "*" {
            return (down, "*".into(), 0);
        }
        let (leader, epoch) = self.vote_leader(now, &name, req_epoch, runid);
        (down, leader.unwrap_or_else(|| "*".into()), epoch)
    }

    /// Redis's `sentinelVoteLeader`: one vote per epoch, first come first served.
    pub fn vote_leader(
        &mut self,
        now: Ms,
        name: &str,
        req_epoch: u64,
        runid: &str,
    ) -> (Option<String>, u64) {
        if req_epoch > self.current_epoch {
            self.current_epoch = req_epoch;
            self.out.push(Action::Flush);
            self.event(Event::NewEpoch {
                master: name.to_string(),
                epoch: self.current_epoch,
            });
        }
        let current = self.current_epoch;
        let myid = self.myid.clone();
        let jitter = self.rng.random::<u64>() % 1000;
        let Some(m) = self.masters.get_mut(name) else {
            return (None, 0);
        };
        if m.leader_epoch < req_epoch && current <= req_epoch {
            m.leader = Some(runid.to_string());
            m.leader_epoch = current;
            self.out.push(Action::Flush);
            self.out.push(Action::Event(Event::VoteForLeader {
                master: name.to_string(),
                runid: runid.to_string(),
                epoch: current,
            }));
            // Voting for another: do not start our own failover soon.
            if runid != myid {
                m.failover_start_time = now + jitter;
            }
        }
        (m.leader.clone(), m.leader_epoch)
    }

    /// Redis's `sentinelGetLeader`: the run id with a majority of the voters and at least
    /// quorum votes in `epoch`, if any.
    pub fn get_leader(&mut self, now: Ms, name: &str, epoch: u64) -> Option<String> {
        let myid = self.myid.clone();
        let m = self.masters.get(name)?;
        let voters = m.sentinels.len() as u32 + 1;
        let quorum = m.quorum;
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for s in m.sentinels.values() {
            if let Some(l) = &s.leader {
                if s.leader_epoch == self.current_epoch {
                    *counts.entry(l.clone()).or_default() += 1;
                }
            }
        }
        // Our own vote: for the most voted, or ourselves (ties: the smallest run id, for
        // determinism).
        let mut best: Option<(String, u32)> = None;
        for (id, n) in &counts {
            if best.as_ref().is_none_or(|(_, b)| n > b) {
                best = Some((id.clone(), *n));
            }
        }
        let mine = best.map(|(id, _)| id).unwrap_or(myid);
        let (voted, _) = self.vote_leader(now, name, epoch, &mine);
        if let Some(v) = voted {
            *counts.entry(v).or_default() += 1;
        }
        let (winner, n) = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, v)| (k.clone(), *v))?;
        (n > voters / 2 && n >= quorum).then_some(winner)
    }
}
