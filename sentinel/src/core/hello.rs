//! Hello messages: peers, epochs and newer master configurations.

use super::*;

impl Core {
    // ------------------------------------------------------------------ hello

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
        let (Ok(port), Ok(epoch), Ok(mport), Ok(mepoch)) = (
            port.parse::<u16>(),
            epoch.parse::<u64>(),
            mport.parse::<u16>(),
            mepoch.parse::<u64>(),
        ) else {
            return;
        };
        if !self.masters.contains_key(mname) {
            return;
        }
        let addr = Addr::new(ip, port);
        let m = self.masters.get_mut(mname).expect("checked");
        let known = m.sentinels.get(runid).map(|s| s.addr.clone());
        match known {
            Some(a) if a == addr => {}
            Some(_) => {
                // Same sentinel at a new address.
                m.sentinels.remove(runid);
                let mut s = Instance::new(runid.to_string(), addr.clone(), now);
                s.runid = Some(runid.to_string());
                m.sentinels.insert(runid.to_string(), s);
                let msg = format!(
                    "{} ip {} port {} for {runid}",
                    Core::at_master(m),
                    addr.host,
                    addr.port
                );
                self.out.push(Action::Disconnect(Target::Sentinel(
                    mname.into(),
                    runid.into(),
                )));
                self.out.push(Action::Connect(
                    Target::Sentinel(mname.into(), runid.into()),
                    addr.clone(),
                ));
                self.event(Level::Notice, "+sentinel-address-switch", msg, Some(mname));
                self.out.push(Action::Flush);
            }
            None => {
                // Another run id at this address is stale.
                let stale: Vec<String> = m
                    .sentinels
                    .iter()
                    .filter(|(_, s)| s.addr == addr)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in stale {
                    m.sentinels.remove(&k);
                    self.out
                        .push(Action::Disconnect(Target::Sentinel(mname.into(), k)));
                }
                let m = self.masters.get_mut(mname).expect("checked");
                let mut s = Instance::new(runid.to_string(), addr.clone(), now);
                s.runid = Some(runid.to_string());
                let msg = Core::at_child("sentinel", &s, m);
                m.sentinels.insert(runid.to_string(), s);
                self.out.push(Action::Connect(
                    Target::Sentinel(mname.into(), runid.into()),
                    addr.clone(),
                ));
                self.event(Level::Notice, "+sentinel", msg, Some(mname));
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
        if epoch > self.current_epoch {
            self.current_epoch = epoch;
            self.out.push(Action::Flush);
            self.event(Level::Warning, "+new-epoch", epoch.to_string(), Some(mname));
        }
        // A newer configuration of the master: adopt it.
        let m = &self.masters[mname];
        if mepoch > m.config_epoch {
            let to = Addr::new(mip, mport);
            let from = m.inst.addr.clone();
            let s = &m.sentinels[runid];
            let msg = Core::at_child("sentinel", s, m);
            let m = self.masters.get_mut(mname).expect("checked");
            m.config_epoch = mepoch;
            if to != from {
                self.event(Level::Warning, "+config-update-from", msg, Some(mname));
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
}
