//! Hello messages: peers, epochs and newer master configurations.

use super::*;

impl Core {
    // ------------------------------------------------------------------ hello

    /// Redis's `sentinelProcessHelloMessage`, with two checks Redis lacks: a hello whose
    /// current epoch or master config epoch is not a sane epoch (an integer below 2^63) is
    /// ignored whole, and a hello from a new run id never makes more than
    /// `max-sentinels-per-master` sentinels known (the one unheard of for the longest is
    /// forgotten). With `resolve-hostnames no`, a hello whose sentinel address is a name
    /// creates no sentinel (its current epoch still counts, as in Redis), and a newer
    /// configuration whose master address is a name is not adopted.
    pub(super) fn hello(&mut self, now: Ms, payload: &str) {
        let parts: Vec<&str> = payload.split(',').collect();
        if parts.len() != 8 {
            return;
        }
        let (ip, port, runid, epoch, mname, mip, mport, mepoch) = (
            parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7],
        );
        if runid == self.myid || ip.is_empty() || mip.is_empty() {
            return;
        }
        let (Ok(port), Ok(mport)) = (port.parse::<u16>(), mport.parse::<u16>()) else {
            return;
        };
        if !self.masters.contains_key(mname) {
            return;
        }
        let (Some(epoch), Some(mepoch)) = (parse_epoch(epoch), parse_epoch(mepoch)) else {
            self.log(
                Level::Verbose,
                format!(
                    "Ignoring a hello for {mname} from {runid} ({ip}:{port}): epoch '{epoch}' or config epoch '{mepoch}' is not an integer below 2^63"
                ),
            );
            return;
        };
        // Redis creates the sentinel only if its address resolves; the epoch below is
        // adopted either way, the master's configuration only from a known sentinel.
        let known = self.usable_host(ip);
        if known {
            self.hello_sentinel(now, mname, runid, Addr::new(ip, port));
        }
        if epoch > self.current_epoch {
            self.current_epoch = epoch;
            self.out.push(Action::Flush);
            self.event(Event::NewEpoch {
                master: mname.to_string(),
                epoch,
            });
        }
        if !known {
            return;
        }
        // A newer configuration of the master: adopt it.
        let m = &self.masters[mname];
        if mepoch > m.config_epoch {
            let to = Addr::new(mip, mport);
            let from = m.inst.addr.clone();
            // Redis adopts the config epoch, announces +switch-master and then fails to
            // switch to a name it may not resolve; picket leaves the configuration as it
            // is (epoch included), so the same configuration announced with an IP is
            // still taken.
            // The same master told by name or by IP is no new address.
            let moved = !self.same_addr(&to, &from);
            if moved && !self.usable_host(mip) {
                return;
            }
            let m = &self.masters[mname];
            let s = &m.sentinels[runid];
            let at = Subject::sentinel(&s.inst, m);
            let m = self.masters.get_mut(mname).expect("checked");
            m.config_epoch = mepoch;
            if moved {
                self.event(Event::ConfigUpdateFrom(at));
                self.switch_master(now, mname, to.clone());
                self.out.push(Action::ReconfigScript {
                    master: mname.to_string(),
                    role: "observer",
                    from,
                    to,
                });
            }
            self.out.push(Action::Flush);
        }
    }

    /// The sentinel part of a hello: a new sentinel, a known one at a new address, or a
    /// known one heard from again.
    fn hello_sentinel(&mut self, now: Ms, mname: &str, runid: &str, addr: Addr) {
        let m = self.masters.get_mut(mname).expect("checked");
        let known = m.sentinels.get(runid).map(|s| s.inst.addr.clone());
        match known {
            Some(a) if a == addr => {}
            Some(_) => {
                // Same sentinel at a new address.
                m.sentinels.remove(runid);
                let s = PeerSentinel::new(runid.to_string(), addr.clone(), now);
                m.sentinels.insert(runid.to_string(), s);
                let switched = Event::SentinelAddressSwitch {
                    at: Subject::master(m),
                    addr: addr.clone(),
                    runid: runid.to_string(),
                };
                self.out.push(Action::Disconnect(Target::Sentinel(
                    mname.into(),
                    runid.into(),
                )));
                self.out.push(Action::Connect(
                    Target::Sentinel(mname.into(), runid.into()),
                    addr.clone(),
                ));
                self.event(switched);
                self.out.push(Action::Flush);
            }
            None => {
                // Another run id at this address is stale.
                let stale: Vec<String> = m
                    .sentinels
                    .iter()
                    .filter(|(_, s)| s.inst.addr == addr)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in stale {
                    m.sentinels.remove(&k);
                    self.out
                        .push(Action::Disconnect(Target::Sentinel(mname.into(), k)));
                }
                self.make_room_for_sentinel(now, mname);
                let m = self.masters.get_mut(mname).expect("checked");
                let s = PeerSentinel::new(runid.to_string(), addr.clone(), now);
                let at = Subject::sentinel(&s.inst, m);
                m.sentinels.insert(runid.to_string(), s);
                self.out.push(Action::Connect(
                    Target::Sentinel(mname.into(), runid.into()),
                    addr.clone(),
                ));
                self.event(Event::Sentinel(at));
                self.out.push(Action::Flush);
            }
        }
        if let Some(s) = self
            .masters
            .get_mut(mname)
            .and_then(|m| m.sentinels.get_mut(runid))
        {
            s.last_hello = Some(now);
        }
    }

    /// Room for one more sentinel of `mname` under `max-sentinels-per-master`: while the
    /// master has that many, forget the one whose last hello is the oldest (one never heard
    /// from, e.g. a `known-sentinel` line not confirmed since the start, first; ties by run
    /// id), with a `-sentinel` event, as the `+sentinel` that made it known. One pass over
    /// the sentinels per eviction: O(n) per new sentinel.
    fn make_room_for_sentinel(&mut self, now: Ms, mname: &str) {
        let max = self.max_sentinels.max(1);
        loop {
            let Some(m) = self.masters.get_mut(mname) else {
                return;
            };
            if m.sentinels.len() < max {
                return;
            }
            let Some(victim) = m
                .sentinels
                .iter()
                .min_by_key(|(k, s)| (s.last_hello, *k))
                .map(|(k, _)| k.clone())
            else {
                return;
            };
            let Some(s) = m.sentinels.remove(&victim) else {
                return;
            };
            let at = Subject::sentinel(&s.inst, m);
            let unseen = s.last_hello.map_or_else(
                || "never heard from".to_string(),
                |t| format!("last hello {} ms ago", now.saturating_sub(t)),
            );
            self.out.push(Action::Disconnect(Target::Sentinel(
                mname.into(),
                victim.clone(),
            )));
            self.log(
                Level::Warning,
                format!(
                    "Too many Sentinels for master {mname} (max-sentinels-per-master {max}): forgetting Sentinel {victim} ({unseen}) to make room for a new one"
                ),
            );
            self.event(Event::SentinelRemoved(at));
        }
    }
}
