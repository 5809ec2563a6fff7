//! Host names (Redis's `sentinelAddr`, which keeps both the host as given and the IP it
//! resolved to). The core keeps every address as it was given (configuration, SENTINEL
//! MONITOR, INFO, hellos): a name stays a name, in the state file too, and the links
//! resolve it again on every connection (the shell reports each answer as
//! [`Input::Resolved`]), so an instance that comes back at a new address is found again
//! (Redis caches the IP; see `shared/reference/redis-ha.md` §5 #8).
//!
//! What the others are told follows `announce-hostnames` as in Redis's
//! `announceSentinelAddr`: the name with it on; the last IP the name resolved to with it
//! off (in events, hellos, replies, SLAVEOF, scripts, a replica's `ip:port` name).
//! Addresses are compared as Redis's `sentinelAddrEqualsHostname`: the same text (case
//! aside), or the same IP once resolved.

use super::*;

impl Core {
    /// A name's answer from the links (lower case name -> IP). An IP is itself.
    pub(super) fn resolved_ip<'a>(&'a self, host: &'a str) -> Option<&'a str> {
        if is_ip(host) {
            return Some(host);
        }
        self.resolved
            .get(&host.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The host as others are told it (Redis's `announceSentinelAddr`): itself with
    /// `announce-hostnames yes` or when it is an IP, else the IP the name last resolved to
    /// (the name until it resolved once: Redis would show an empty address).
    pub fn shown_host(&self, host: &str) -> String {
        if self.announce_hostnames {
            return host.to_string();
        }
        self.resolved_ip(host).unwrap_or(host).to_string()
    }

    /// [`Core::shown_host`] with the port.
    pub fn shown(&self, a: &Addr) -> Addr {
        Addr::new(self.shown_host(&a.host), a.port)
    }

    /// Whether two hosts are the same (Redis's `sentinelAddrEqualsHostname`): the same
    /// text, case aside, or names (or a name and an IP) that resolved to the same IP.
    pub fn same_host(&self, a: &str, b: &str) -> bool {
        if a.eq_ignore_ascii_case(b) {
            return true;
        }
        matches!((self.resolved_ip(a), self.resolved_ip(b)), (Some(x), Some(y)) if x == y)
    }

    /// [`Core::same_host`] and the same port.
    pub fn same_addr(&self, a: &Addr, b: &Addr) -> bool {
        a.port == b.port && self.same_host(&a.host, &b.host)
    }

    /// The shell resolved `host` to `ip` for a link.
    pub(super) fn host_resolved(&mut self, host: &str, ip: &str) {
        if is_ip(host) || !is_ip(ip) {
            return;
        }
        let key = host.to_ascii_lowercase();
        if self.resolved.get(&key).map(String::as_str) != Some(ip) {
            self.log(
                Level::Verbose,
                format!("Hostname '{host}' resolved to {ip}"),
            );
            self.resolved.insert(key, ip.to_string());
        }
    }

    /// An action as the others must see it: with `announce-hostnames no`, the names in
    /// events, SLAVEOF, script arguments and IS-MASTER-DOWN-BY-ADDR become their IPs. Links
    /// keep the names (they resolve them on every connection), and so does FAILOVER TO: the
    /// master finds the replica by the address its INFO lists, the one the core keeps.
    pub(super) fn present(&self, a: Action) -> Action {
        if self.announce_hostnames || self.resolved.is_empty() {
            return a;
        }
        match a {
            Action::Event(mut e) => {
                if let Some(s) = e.subject_mut() {
                    self.present_subject(s);
                }
                match &mut e {
                    Event::SwitchMaster { old, new, .. } => {
                        *old = self.shown(old);
                        *new = self.shown(new);
                    }
                    Event::SentinelAddressSwitch { addr, .. } => *addr = self.shown(addr),
                    _ => {}
                }
                Action::Event(e)
            }
            Action::ReplicaOf(t, to) => Action::ReplicaOf(t, to.map(|a| self.shown(&a))),
            Action::ReconfigScript {
                master,
                role,
                from,
                to,
            } => Action::ReconfigScript {
                master,
                role,
                from: self.shown(&from),
                to: self.shown(&to),
            },
            Action::AskMasterDown {
                to,
                master_ip,
                master_port,
                epoch,
                runid,
            } => Action::AskMasterDown {
                to,
                master_ip: self.shown_host(&master_ip),
                master_port,
                epoch,
                runid,
            },
            a => a,
        }
    }

    /// `%@` as others see it: addresses shown, and a replica named by its shown
    /// `ip:port` (Redis names replicas by the announced address).
    fn present_subject(&self, s: &mut Subject) {
        s.addr = self.shown(&s.addr);
        if s.kind == InstanceKind::Replica {
            s.name = s.addr.name();
        }
        if let Some((_, a)) = &mut s.of {
            *a = self.shown(a);
        }
    }

    /// The name of a replica as replies show it (`ip:port`, or `host:port` with
    /// `announce-hostnames yes`).
    pub fn shown_replica_name(&self, r: &Replica) -> String {
        self.shown(&r.inst.addr).name()
    }
}
