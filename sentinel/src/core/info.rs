//! INFO replies: what Sentinel reads from them, replica discovery, reboots, the promoted
//! replica's promotion, conversions and reconfiguration progress.

use super::*;

impl Core {
    // ------------------------------------------------------------------ INFO

    pub(super) fn info_reply(&mut self, now: Ms, t: &Target, text: &str) {
        let tilt = self.tilt_since.is_some();
        let name = t.master().to_string();
        let Some(inst) = self.instance_mut(t) else {
            return;
        };
        // A reply the link sent before the core dropped it (SENTINEL RESET forgets the
        // replicas and reconnects: an INFO already on its way would bring them back at once).
        // Every link reports `Connected` before its first reply.
        if !inst.connected {
            return;
        }
        let info = parse_info(text);
        inst.info_refresh = Some(now);
        inst.info = Some(text.to_string());
        let old_runid = inst.runid.clone();
        if let Some(id) = info.run_id.clone() {
            inst.runid = Some(id);
        }
        let reported = info.role;
        if reported != inst.role {
            inst.role = reported;
            inst.role_time = now;
        }
        if let Target::Replica(_, rk) = t {
            if let Some(r) = self
                .masters
                .get_mut(&name)
                .and_then(|m| m.replicas.get_mut(rk))
            {
                r.refresh(&info, now);
            }
        }
        // A new run id: the instance restarted. Redis reports it (NOTICE) for masters and
        // replicas, before what the rest of the reply says (run_id comes first in INFO); a
        // master is marked for master-reboot-down-after-period when that is set.
        let rebooted = matches!((&old_runid, &info.run_id), (Some(old), Some(new)) if old != new);
        if rebooted {
            let m = &self.masters[&name];
            let at = match t {
                Target::Replica(_, rk) => Subject::replica(&m.replicas[rk].inst, m),
                _ => Subject::master(m),
            };
            let mark = matches!(t, Target::Master(_)) && m.reboot_down_after != 0;
            if mark {
                if let Some(m) = self.masters.get_mut(&name) {
                    m.reboot_since = Some(now);
                }
            }
            self.event(Event::Reboot(at));
        }
        self.learn_safety(now, t, &info);
        // Replicas listed by a master.
        if let Target::Master(_) = t {
            if reported == Role::Master {
                // With resolve-hostnames off, a replica announced by name is not added
                // (Redis: `createSentinelAddr` fails, logged).
                let listed: Vec<&Addr> = info
                    .replicas
                    .iter()
                    .filter(|a| self.usable_host(&a.host))
                    .collect();
                let m = self.masters.get_mut(&name).expect("instance exists");
                let mut new = Vec::new();
                for a in listed {
                    let k = a.name();
                    if !m.replicas.contains_key(&k) {
                        m.replicas.insert(k.clone(), Replica::new(a.clone(), now));
                        m.replicas_changed = now;
                        new.push(k);
                    }
                }
                let added: Vec<(String, Subject, Addr)> = new
                    .into_iter()
                    .map(|k| {
                        let r = &m.replicas[&k];
                        (k.clone(), Subject::replica(&r.inst, m), r.inst.addr.clone())
                    })
                    .collect();
                for (k, at, addr) in added {
                    self.out.push(Action::Connect(
                        Target::Replica(name.clone(), k.clone()),
                        addr,
                    ));
                    self.event(Event::Slave(at));
                    self.out.push(Action::Flush);
                }
            }
        }
        if tilt {
            return;
        }
        let Target::Replica(_, rk) = t else { return };
        let m = self.masters.get(&name).expect("instance exists");
        let r = &m.replicas[rk];
        // The promoted replica became a master: the failover goes on.
        if reported == Role::Master
            && r.promoted
            && m.failover_state == FailoverState::WaitPromotion
        {
            let epoch = m.failover_epoch;
            let at = Subject::replica(&r.inst, m);
            let from = m.inst.addr.clone();
            let to = r.inst.addr.clone();
            let m = self.masters.get_mut(&name).expect("instance exists");
            m.config_epoch = epoch;
            if std::mem::take(&mut m.switchover) {
                // FAILOVER swapped the roles; what Sentinel's own promotion also does is
                // still to do: both servers record their role (CONFIG REWRITE) and drop
                // their clients, which then find the new master through us.
                let rk = Target::Replica(name.clone(), rk.clone());
                self.out.push(Action::ReplicaOf(rk, None));
                self.out.push(Action::ReplicaOf(
                    Target::Master(name.clone()),
                    Some(to.clone()),
                ));
            }
            self.out.push(Action::Flush);
            self.event(Event::PromotedSlave(at));
            if self.sim.crash_after_promotion {
                self.out.push(Action::Crash);
            }
            self.set_state(now, &name, FailoverState::ReconfSlaves);
            self.out.push(Action::ReconfigScript {
                master: name.clone(),
                role: "leader",
                from,
                to,
            });
            // Hellos at once so the others learn the new configuration.
            if let Some(m) = self.masters.get_mut(&name) {
                m.inst.last_hello_sent = None;
                for x in m.replicas.values_mut() {
                    x.inst.last_hello_sent = None;
                }
                for x in m.sentinels.values_mut() {
                    x.inst.last_hello_sent = None;
                }
            }
            return;
        }
        // A replica that reports being a master outside a failover is converted back, if
        // the master looks sane.
        let master_sane = m.inst.role == Role::Master
            && m.inst.sdown_since.is_none()
            && m.inst
                .info_refresh
                .is_some_and(|i| now.saturating_sub(i) < self.timers.info_period.saturating_mul(2));
        if reported == Role::Master
            && !r.promoted
            && !m.in_failover()
            && master_sane
            && now.saturating_sub(r.inst.role_time) > self.timers.publish_period.saturating_mul(4)
        {
            let at = Subject::replica(&r.inst, m);
            let addr = m.inst.addr.clone();
            self.out.push(Action::ReplicaOf(t.clone(), Some(addr)));
            self.event(Event::ConvertToSlave(at));
            return;
        }
        // A replica following another master is pointed at ours, once the master looks
        // sane and the replica has been neither down nor reconfigured for failover-timeout
        // (Redis's `+fix-slave-config`): after a partition heals, a replica left behind a
        // demoted master rejoins the current one.
        let wait = m.failover_timeout;
        let follows_other = !r
            .master_host
            .as_deref()
            .is_some_and(|h| self.same_host(h, &m.inst.addr.host))
            || r.master_port != m.inst.addr.port;
        let no_down_for = [r.inst.last_sdown, m.odown_since]
            .into_iter()
            .flatten()
            .max()
            .is_none_or(|t| now.saturating_sub(t) > wait);
        if reported == Role::Slave
            && r.master_host.is_some()
            && follows_other
            && !r.promoted
            && !m.in_failover()
            && master_sane
            && no_down_for
            && now.saturating_sub(r.conf_change_time) > wait
        {
            let at = Subject::replica(&r.inst, m);
            let addr = m.inst.addr.clone();
            let m = self.masters.get_mut(&name).expect("instance exists");
            if let Some(r) = m.replicas.get_mut(rk) {
                // Not again before its INFO shows the change (or failover-timeout passes).
                r.conf_change_time = now;
            }
            self.out.push(Action::ReplicaOf(t.clone(), Some(addr)));
            self.event(Event::FixSlaveConfig(at));
            return;
        }
        // Replicas being reconfigured during our failover.
        if m.failover_state == FailoverState::ReconfSlaves && !r.promoted {
            let Some(p) = m.promoted().map(|p| p.inst.addr.clone()) else {
                return;
            };
            let follows = r
                .master_host
                .as_deref()
                .is_some_and(|h| self.same_host(h, &p.host))
                && r.master_port == p.port;
            let at = Subject::replica(&r.inst, m);
            let (sent, inprog, up) = (r.reconf_sent, r.reconf_inprog, r.master_link_up);
            let m = self.masters.get_mut(&name).expect("instance exists");
            let r = m.replicas.get_mut(rk).expect("instance exists");
            if sent && follows {
                r.reconf_sent = false;
                r.reconf_inprog = true;
                self.event(Event::SlaveReconfInprog(at.clone()));
            }
            let m = self.masters.get_mut(&name).expect("instance exists");
            let r = m.replicas.get_mut(rk).expect("instance exists");
            if (inprog || sent) && follows && up {
                r.reconf_inprog = false;
                r.reconf_done = true;
                self.event(Event::SlaveReconfDone(at));
            }
        }
    }
}

/// What Sentinel reads from INFO.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InfoFields {
    pub run_id: Option<String>,
    pub role: Role,
    pub replicas: Vec<Addr>,
    pub master_host: Option<String>,
    pub master_port: u16,
    pub link_up: bool,
    pub link_down_ms: u64,
    pub priority: Option<i64>,
    pub repl_offset: u64,
    pub announced: bool,
    /// `master_replid`.
    pub replid: Option<String>,
    /// picket's `failover_safety:strict` (docs/failover-safety.md).
    pub strict: bool,
    /// `failover_epoch`: the highest failover epoch the server has seen (fenced at, or
    /// promoted at).
    pub failover_epoch: u64,
    /// `failover_min_acks`, `failover_lease_ms` (a strict master).
    pub min_acks: Option<u32>,
    pub lease_ms: Option<u64>,
    /// `failover_lease_lost_ms` when `failover_lease:lost`; None while held.
    pub lease_lost_ms: Option<u64>,
}

/// C's `atoi`: optional blanks and sign, then the leading digits; 0 when there are none.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t']);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Parse the INFO fields Sentinel uses (Redis's `sentinelRefreshInstanceInfo`).
pub fn parse_info(text: &str) -> InfoFields {
    let mut f = InfoFields {
        announced: true,
        ..Default::default()
    };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k {
            "run_id" if v.len() == 40 => f.run_id = Some(v.to_string()),
            "role" => {
                f.role = match v {
                    "master" => Role::Master,
                    "slave" => Role::Slave,
                    _ => Role::Unknown,
                }
            }
            "master_host" => f.master_host = Some(v.to_string()),
            "master_port" => f.master_port = v.parse().unwrap_or(0),
            "master_link_status" => f.link_up = v == "up",
            "master_link_down_since_seconds" => {
                f.link_down_ms = v.parse::<i64>().map_or(0, |s| (s.max(0) as u64) * 1000)
            }
            "slave_priority" => f.priority = v.parse().ok(),
            "slave_repl_offset" => f.repl_offset = v.parse().unwrap_or(0),
            // Redis reads it with atoi: anything that does not start with a non-zero
            // number hides the replica.
            "replica_announced" => f.announced = atoi(v) != 0,
            "master_replid" => f.replid = Some(v.to_string()),
            "failover_safety" => f.strict = v == "strict",
            "failover_epoch" => f.failover_epoch = v.parse().unwrap_or(0),
            "failover_min_acks" => f.min_acks = v.parse().ok(),
            "failover_lease_ms" => f.lease_ms = v.parse().ok(),
            "failover_lease" if v == "held" => f.lease_lost_ms = None,
            "failover_lease_lost_ms" => {
                if let Ok(ms) = v.parse::<u64>() {
                    if ms > 0 {
                        f.lease_lost_ms = Some(ms);
                    }
                }
            }
            k if k.starts_with("slave")
                && k[5..].chars().all(|c| c.is_ascii_digit())
                && k.len() > 5 =>
            {
                // ip=..,port=..,state=..,offset=..,lag=..
                let mut ip = None;
                let mut port = None;
                for kv in v.split(',') {
                    if let Some(x) = kv.strip_prefix("ip=") {
                        ip = Some(x.to_string());
                    } else if let Some(x) = kv.strip_prefix("port=") {
                        port = x.parse::<u16>().ok();
                    }
                }
                if let (Some(ip), Some(port)) = (ip, port) {
                    f.replicas.push(Addr::new(ip, port));
                }
            }
            _ => {}
        }
    }
    f
}
