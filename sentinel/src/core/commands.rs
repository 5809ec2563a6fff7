//! Client commands that change the state (SENTINEL MONITOR, REMOVE, RESET, FAILOVER,
//! IS-MASTER-DOWN-BY-ADDR, SIMULATE-FAILURE, DEBUG <param> <ms>..., SET and CONFIG SET:
//! the last two in `settings.rs`), as inputs of the core:
//! [`Input::Command`] gives the reply ([`Action::Reply`], a value the shell encodes) with
//! the actions (events, links, the save), so each change is replayable and testable with
//! exact outputs. The shell checks the arguments' syntax (arity, numbers, addresses, in
//! Redis's order); everything that depends on the state is decided here.

use super::*;

/// A state-changing SENTINEL command, its arguments parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// SENTINEL MONITOR: the name, address and quorum are valid.
    Monitor {
        name: String,
        addr: Addr,
        quorum: u32,
    },
    /// SENTINEL REMOVE.
    Remove { name: String },
    /// SENTINEL RESET <glob>.
    Reset { pattern: String },
    /// SENTINEL FAILOVER.
    Failover { name: String },
    /// SENTINEL IS-MASTER-DOWN-BY-ADDR: `addr` is None for a port out of range (it matches
    /// no master, as Redis's `createSentinelAddr` fails); `runid` `*` asks for no vote.
    IsMasterDownByAddr {
        addr: Option<Addr>,
        epoch: u64,
        runid: String,
    },
    /// SENTINEL SIMULATE-FAILURE with its flags as given (lower case).
    SimulateFailure(Vec<String>),
    /// SENTINEL DEBUG <param> <value> ...: the pairs as given (a last lone name has an
    /// empty value list: the whole list is the arguments after DEBUG, in order).
    Debug(Vec<String>),
    /// SENTINEL SET <name> <option> <value> ...: `args` the words after the name, as given;
    /// `executable` the values given to a script option that name an executable file (the
    /// shell looks at the disk, as Redis's `access(X_OK)`).
    Set {
        name: String,
        args: Vec<String>,
        executable: std::collections::BTreeSet<String>,
    },
    /// SENTINEL CONFIG SET <param> <value>.
    ConfigSet { param: String, value: String },
}

/// A command's reply, as a value (the shell encodes it in the client's protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok,
    Int(i64),
    /// An error line, without the `-`.
    Error(String),
    /// An array of bulk strings.
    Bulks(Vec<String>),
    /// IS-MASTER-DOWN-BY-ADDR's `[down, leader, epoch]`.
    MasterDown {
        down: bool,
        leader: String,
        epoch: u64,
    },
    /// `+OK` once the state is on disk, else Redis's `ERR Failed to save config file. Check
    /// server logs.` (always with an [`Action::Flush`]).
    Saved,
}

pub(super) const NO_MASTER: &str = "ERR No such master with that name";

impl Core {
    pub(super) fn command(&mut self, now: Ms, cmd: Command) {
        let reply = match cmd {
            Command::Monitor { name, addr, quorum } => {
                self.monitor_command(now, &name, addr, quorum)
            }
            Command::Remove { name } => self.remove_command(&name),
            Command::Reset { pattern } => {
                let names: Vec<String> = self
                    .masters
                    .keys()
                    .filter(|k| picket_common::glob::string_match_str(&pattern, k, false))
                    .cloned()
                    .collect();
                for k in &names {
                    self.reset_master(now, k);
                }
                Reply::Int(names.len() as i64)
            }
            Command::Failover { name } => match self.force_failover(now, &name) {
                Ok(()) => Reply::Ok,
                Err(e) => match e.strip_prefix('-') {
                    Some(e) => Reply::Error(e.to_string()),
                    None => Reply::Error(format!("ERR {e}")),
                },
            },
            Command::IsMasterDownByAddr { addr, epoch, runid } => {
                let (down, leader, epoch) = match addr {
                    Some(addr) => self.is_master_down_by_addr(now, &addr, epoch, &runid),
                    None => (false, "*".to_string(), 0),
                };
                Reply::MasterDown {
                    down,
                    leader,
                    epoch,
                }
            }
            Command::SimulateFailure(flags) => self.simulate_failure(&flags),
            Command::Debug(args) => self.debug_command(&args),
            Command::Set {
                name,
                args,
                executable,
            } => self.set_command(now, &name, &args, &executable),
            Command::ConfigSet { param, value } => self.config_set_command(&param, &value),
        };
        self.out.push(Action::Reply(reply));
    }

    fn monitor_command(&mut self, now: Ms, name: &str, addr: Addr, quorum: u32) -> Reply {
        if self.masters.contains_key(name) {
            return Reply::Error("ERR Duplicate master name.".into());
        }
        let m = self.monitor(name, addr, quorum, now);
        let monitored = Event::Monitor {
            at: Subject::master(m),
            quorum,
        };
        self.event(monitored);
        self.out.push(Action::Flush);
        Reply::Ok
    }

    fn remove_command(&mut self, name: &str) -> Reply {
        let Some(m) = self.masters.remove(name) else {
            return Reply::Error(NO_MASTER.into());
        };
        self.event(Event::Unmonitor(Subject::master(&m)));
        self.out
            .push(Action::Disconnect(Target::Master(name.to_string())));
        for k in m.replicas.keys() {
            self.out.push(Action::Disconnect(Target::Replica(
                name.to_string(),
                k.clone(),
            )));
        }
        for k in m.sentinels.keys() {
            self.out.push(Action::Disconnect(Target::Sentinel(
                name.to_string(),
                k.clone(),
            )));
        }
        self.out.push(Action::Flush);
        Reply::Ok
    }

    /// As Redis: the flags are cleared first (so `HELP`, or an unknown flag after a known
    /// one, leaves what came before it).
    fn simulate_failure(&mut self, flags: &[String]) -> Reply {
        self.sim = SimFailure::default();
        for f in flags {
            match f.as_str() {
                "crash-after-election" => {
                    self.log(Level::Warning, "Failure simulation: this Sentinel will crash after being successfully elected as failover leader".into());
                    self.sim.crash_after_election = true;
                }
                "crash-after-promotion" => {
                    self.log(Level::Warning, "Failure simulation: this Sentinel will crash after promoting the selected replica to master".into());
                    self.sim.crash_after_promotion = true;
                }
                "help" => {
                    return Reply::Bulks(vec![
                        "crash-after-election".into(),
                        "crash-after-promotion".into(),
                    ])
                }
                _ => return Reply::Error("ERR Unknown failure simulation specified".into()),
            }
        }
        Reply::Ok
    }

    /// `<param> <ms> ...` set in order (as Redis, those before a bad pair stay set).
    fn debug_command(&mut self, args: &[String]) -> Reply {
        let mut j = 0;
        while j < args.len() {
            let raw = &args[j];
            let more = args.len() - 1 - j;
            let Some(slot) = self
                .timers
                .get_mut(&raw.to_ascii_lowercase())
                .filter(|_| more > 0)
            else {
                return Reply::Error(format!(
                    "ERR Unknown option or number of arguments for SENTINEL DEBUG '{raw}'"
                ));
            };
            let v = &args[j + 1];
            // Redis's getLongLongFromObject: strict decimal (no sign, blanks or leading
            // zeros), then > 0. Up to 2^63-1 is taken; every use of a timer saturates.
            match picket_common::sds::string2ll(v.as_bytes()) {
                Some(ms) if ms > 0 => *slot = ms as u64,
                _ => {
                    return Reply::Error(format!(
                        "ERR Invalid argument '{v}' for SENTINEL DEBUG '{raw}'"
                    ))
                }
            }
            j += 2;
        }
        Reply::Ok
    }
}
