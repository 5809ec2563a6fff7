//! Links that cannot be opened for a reason of our own, and the descriptors links need.
//!
//! A sentinel out of descriptors (or buffers, memory, local ports) cannot connect to any
//! instance; Redis's sentinel then sees every instance silent for `down-after-milliseconds`
//! and declares them down (`+sdown`, then `+odown` and a failover with a low quorum),
//! promoting a replica while the master is healthy. Here the shell reports such a failure as
//! [`Input::LocalLinkError`]: the instance's SDOWN state is frozen while it lasts (neither
//! set nor cleared, see `check_sdown`), and when a link opens again (or fails because of
//! the instance) the down-after clock starts from that moment. Each instance logs the
//! change once each way.

use super::*;

impl Core {
    /// `%@` of an instance for logs (`master m 10.0.0.1 6379`, `slave ... @ m ...`).
    fn describe(&self, t: &Target) -> Option<Subject> {
        let m = self.masters.get(t.master())?;
        Some(match t {
            Target::Master(_) => Subject::master(m),
            Target::Replica(_, r) => Subject::replica(&m.replicas.get(r)?.inst, m),
            Target::Sentinel(_, s) => Subject::sentinel(&m.sentinels.get(s)?.inst, m),
        })
    }

    /// The shell could not open a link to `t` because of a local error.
    pub(super) fn local_link_error(&mut self, now: Ms, t: &Target, error: &str) {
        let Some(desc) = self.describe(t) else {
            return;
        };
        let Some(i) = self.instance_mut(t) else {
            return;
        };
        i.connected = false;
        if i.local_error_since.is_some() {
            return;
        }
        i.local_error_since = Some(now);
        self.log(
            Level::Warning,
            format!("Can't open a link to {desc}: {error}. This is a local error: the instance is not considered down while it lasts."),
        );
    }

    /// A link to `t` opened (`opened`), or failed because of the instance: a local error, if
    /// there was one, is over. An open link gives the instance a whole down-after to answer
    /// (as any new link); a failure counts the silence before the local error and after it,
    /// not during it (so alternating local and remote failures still end in SDOWN).
    pub(super) fn local_error_over(&mut self, now: Ms, t: &Target, opened: bool) {
        let desc = self.describe(t);
        let Some(i) = self.instance_mut(t) else {
            return;
        };
        let Some(since) = i.local_error_since.take() else {
            return;
        };
        let frozen = now.saturating_sub(since);
        i.act_ping = Some(if opened {
            now
        } else {
            i.act_ping
                .unwrap_or(i.last_avail)
                .saturating_add(frozen)
                .min(now)
        });
        let secs = frozen / 1000;
        let how = if opened {
            "a link is open again"
        } else {
            "the instance itself is now unreachable"
        };
        self.log(
            Level::Notice,
            format!(
                "Local error over for {} after {secs} seconds: {how}.",
                desc.map(|d| d.to_string()).unwrap_or_default()
            ),
        );
    }

    /// Descriptors the links to every known instance take: two per master and per replica
    /// (commands and hellos), one per other sentinel (picket keeps one per sentinel and
    /// master).
    pub fn link_descriptors(&self) -> u64 {
        self.masters
            .values()
            .map(|m| 2 + 2 * m.replicas.len() as u64 + m.sentinels.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "1111111111111111111111111111111111111111";

    fn core(quorum: u32) -> Core {
        let mut c = Core::new(ME.into(), picket_common::ids::seeded(1));
        let m = c.monitor("m", Addr::new("10.0.0.1", 6379), quorum, 0);
        m.down_after = 1000;
        c.take_actions();
        c
    }

    fn events(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Event(e) => Some(format!("{} {e}", e.kind())),
                _ => None,
            })
            .collect()
    }

    fn logs(actions: &[Action]) -> Vec<(Level, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Log(l, m) => Some((*l, m.clone())),
                _ => None,
            })
            .collect()
    }

    /// Ticks every 100 ms over (from, to]; every action.
    fn ticks(c: &mut Core, from: Ms, to: Ms) -> Vec<Action> {
        let mut all = Vec::new();
        let mut now = from;
        while now < to {
            now += 100;
            all.extend(c.step(now, Input::Tick));
        }
        all
    }

    #[test]
    fn a_local_error_never_makes_the_master_down() {
        let mut c = core(1);
        let t = Target::Master("m".into());
        c.step(0, Input::Connected(t.clone()));
        c.step(10, Input::PingReply(t.clone(), "+PONG".into()));
        c.step(100, Input::Disconnected(t.clone()));
        let a = c.step(
            150,
            Input::LocalLinkError(t.clone(), "Too many open files".into()),
        );
        assert_eq!(
            logs(&a),
            vec![(
                Level::Warning,
                "Can't open a link to master m 10.0.0.1 6379: Too many open files. This is a local error: the instance is not considered down while it lasts.".to_string()
            )]
        );
        // The shell retries every second and fails the same way: logged once only, and ten
        // down-after periods pass with neither SDOWN nor ODOWN nor a failover.
        let mut all = Vec::new();
        let mut now = 150;
        while now < 10_000 {
            all.extend(ticks(&mut c, now, now + 1000));
            now += 1000;
            all.extend(c.step(
                now,
                Input::LocalLinkError(t.clone(), "Too many open files".into()),
            ));
        }
        assert!(events(&all).is_empty(), "{:?}", events(&all));
        assert!(logs(&all).is_empty(), "{:?}", logs(&all));
        let m = &c.masters["m"];
        assert!(m.inst.sdown_since.is_none() && m.odown_since.is_none());
        assert!(!m.in_failover());
        assert_eq!(m.flags(), "master,disconnected");
        let addr = Addr::new("10.0.0.1", 6379);
        assert!(!c.is_master_down_by_addr(now, &addr, 0, "*").0);
        // A link opens: logged once; the master then has a whole down-after to answer.
        let a = c.step(10_050, Input::Connected(t.clone()));
        assert_eq!(
            logs(&a),
            vec![(
                Level::Notice,
                "Local error over for master m 10.0.0.1 6379 after 9 seconds: a link is open again.".to_string()
            )]
        );
        let a = ticks(&mut c, 10_050, 11_000);
        assert!(events(&a).is_empty(), "{:?}", events(&a));
        // Silent after that: down as usual.
        let a = ticks(&mut c, 11_000, 11_200);
        assert!(
            events(&a).contains(&"+sdown master m 10.0.0.1 6379".to_string()),
            "{a:?}"
        );
    }

    #[test]
    fn without_the_local_error_the_same_silence_is_sdown() {
        // The contrast: a link that fails because of the instance gives +sdown and +odown.
        let mut c = core(1);
        let t = Target::Master("m".into());
        c.step(0, Input::Connected(t.clone()));
        c.step(10, Input::PingReply(t.clone(), "+PONG".into()));
        c.step(100, Input::Disconnected(t.clone()));
        let a = ticks(&mut c, 100, 1500);
        let ev = events(&a);
        assert!(ev.iter().any(|e| e.starts_with("+sdown master")), "{ev:?}");
        assert!(ev.iter().any(|e| e.starts_with("+odown master")), "{ev:?}");
    }

    #[test]
    fn a_remote_failure_after_a_local_error_counts_the_time_outside_it() {
        let mut c = core(1);
        let t = Target::Master("m".into());
        c.step(0, Input::Connected(t.clone()));
        c.step(10, Input::PingReply(t.clone(), "+PONG".into()));
        c.step(100, Input::Disconnected(t.clone()));
        // 400 ms of silence, then a local error for 4.5 s.
        c.step(
            500,
            Input::LocalLinkError(t.clone(), "Too many open files".into()),
        );
        ticks(&mut c, 500, 5000);
        // Now the connection is refused: the instance's own failure. The 400 ms before the
        // local error count, the 4.5 s during it do not: down after 600 ms more.
        let a = c.step(5000, Input::Disconnected(t.clone()));
        assert_eq!(logs(&a).len(), 1, "{a:?}");
        assert!(logs(&a)[0]
            .1
            .contains("the instance itself is now unreachable"));
        let a = ticks(&mut c, 5000, 5500);
        assert!(events(&a).is_empty(), "{:?}", events(&a));
        let a = ticks(&mut c, 5500, 5700);
        assert!(
            events(&a).iter().any(|e| e.starts_with("+sdown master")),
            "{a:?}"
        );
    }

    #[test]
    fn alternating_local_and_remote_failures_still_end_in_sdown() {
        let mut c = core(1);
        let t = Target::Master("m".into());
        c.step(0, Input::Connected(t.clone()));
        c.step(10, Input::PingReply(t.clone(), "+PONG".into()));
        c.step(100, Input::Disconnected(t.clone()));
        let mut all = Vec::new();
        let mut now = 100;
        while now < 3000 {
            // 250 ms refused by the instance, then 250 ms of local error.
            all.extend(ticks(&mut c, now, now + 200));
            all.extend(c.step(now + 250, Input::LocalLinkError(t.clone(), "x".into())));
            all.extend(ticks(&mut c, now + 250, now + 450));
            all.extend(c.step(now + 500, Input::Disconnected(t.clone())));
            now += 500;
        }
        all.extend(ticks(&mut c, now, now + 300));
        // Half the time is the instance's: 1000 ms of it are reached within ~2.2 s.
        assert!(
            events(&all).iter().any(|e| e.starts_with("+sdown master")),
            "{:?}",
            events(&all)
        );
    }

    #[test]
    fn an_instance_already_down_stays_down_during_a_local_error() {
        let mut c = core(2);
        let t = Target::Master("m".into());
        c.step(0, Input::Connected(t.clone()));
        let a = ticks(&mut c, 0, 1300);
        assert!(events(&a).iter().any(|e| e.starts_with("+sdown")));
        c.step(
            1300,
            Input::LocalLinkError(t.clone(), "Too many open files".into()),
        );
        let a = ticks(&mut c, 1300, 5000);
        assert!(events(&a).is_empty(), "{:?}", events(&a));
        assert!(c.masters["m"].inst.sdown_since.is_some());
    }

    #[test]
    fn replicas_and_sentinels_are_spared_too() {
        let mut c = core(1);
        let m = Target::Master("m".into());
        c.step(0, Input::Connected(m.clone()));
        let info = format!(
            "run_id:{}\r\nrole:master\r\nslave0:ip=10.0.0.2,port=6379,state=online,offset=1,lag=0\r\n",
            "9".repeat(40)
        );
        c.step(5, Input::InfoReply(m.clone(), info));
        let r = Target::Replica("m".into(), "10.0.0.2:6379".into());
        assert!(c.instance(&r).is_some());
        c.step(
            10,
            Input::LocalLinkError(r.clone(), "Cannot assign requested address".into()),
        );
        // The master keeps answering; the replica is never judged.
        let mut all = Vec::new();
        for k in 0..50 {
            let now = 100 + k * 100;
            c.step(now, Input::PingReply(m.clone(), "+PONG".into()));
            all.extend(c.step(now, Input::Tick));
        }
        assert!(events(&all).is_empty(), "{:?}", events(&all));
        assert_eq!(c.link_descriptors(), 4);
    }
}
