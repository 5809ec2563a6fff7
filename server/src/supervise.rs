//! The process around the server, as redis-server manages it: `supervised` (systemd's
//! readiness notifications over `$NOTIFY_SOCKET`), `daemonize` (detach from the terminal)
//! and the pidfile a daemon writes by default. Only the binary uses this; the simulation
//! never runs it.

use std::ffi::OsString;
use std::io;
use std::process::{Command, Stdio};

use tracing::Level;

/// Set in the environment of the daemon `daemonize yes` starts, so that it runs instead of
/// starting another one. Its arguments are the launcher's, unchanged, so that CONFIG GET
/// shows `daemonize yes` and CONFIG REWRITE keeps it, as in Redis.
pub const DAEMON_ENV: &str = "PICKET_DAEMON_CHILD";

/// The pidfile of a daemon when `pidfile` is not set (Redis's `/var/run/redis.pid`).
pub const DEFAULT_PIDFILE: &str = "/var/run/picket.pid";

/// The supervisor the server reports its state to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Supervision {
    None,
    /// systemd, with the `$NOTIFY_SOCKET` address (a path, or `@name` for an abstract
    /// socket).
    Systemd {
        socket: String,
    },
}

impl Supervision {
    /// INFO's `process_supervised`.
    pub fn info_name(&self) -> &'static str {
        match self {
            Supervision::None => "no",
            Supervision::Systemd { .. } => "systemd",
        }
    }

    /// Sends `msg` (lines such as `READY=1\n`) to systemd; nothing when unsupervised.
    /// Failures are logged, as Redis does, and otherwise ignored.
    pub fn notify(&self, msg: &str) {
        let Supervision::Systemd { socket } = self else {
            return;
        };
        if let Err(e) = send_datagram(socket, msg.as_bytes()) {
            tracing::warn!("Can't send notification to systemd: {e}");
        }
    }
}

/// Redis's `redisIsSupervised`: the supervisor of `supervised <mode>` given the
/// environment, and what to log about it. `auto` looks for `UPSTART_JOB`, then
/// `NOTIFY_SOCKET`. Upstart (its SIGSTOP handshake) is not supported: the server then runs
/// unsupervised.
pub fn detect(
    mode: &str,
    env: impl Fn(&str) -> Option<String>,
) -> (Supervision, Vec<(Level, String)>) {
    let mut log = Vec::new();
    let mode = if mode == "auto" {
        if env("UPSTART_JOB").is_some() {
            log.push((Level::DEBUG, "Upstart supervision detected.".to_string()));
            "upstart"
        } else if env("NOTIFY_SOCKET").is_some() {
            log.push((Level::DEBUG, "Systemd supervision detected.".to_string()));
            "systemd"
        } else {
            "no"
        }
    } else {
        mode
    };
    let supervision = match mode {
        "systemd" => match env("NOTIFY_SOCKET").filter(|s| !s.is_empty()) {
            Some(socket) => Supervision::Systemd { socket },
            None => {
                log.push((
                    Level::WARN,
                    "systemd supervision requested or auto-detected, but NOTIFY_SOCKET not found!"
                        .to_string(),
                ));
                Supervision::None
            }
        },
        "upstart" => {
            log.push((
                Level::WARN,
                if env("UPSTART_JOB").is_some() {
                    "upstart supervision is not supported by picket (no SIGSTOP handshake): running unsupervised"
                } else {
                    "upstart supervision requested, but UPSTART_JOB not found!"
                }
                .to_string(),
            ));
            Supervision::None
        }
        _ => Supervision::None,
    };
    (supervision, log)
}

fn send_datagram(socket: &str, msg: &[u8]) -> io::Result<()> {
    let sock = std::os::unix::net::UnixDatagram::unbound()?;
    match socket.strip_prefix('@') {
        Some(name) => send_abstract(&sock, name, msg),
        None => sock.send_to(msg, socket).map(|_| ()),
    }
}

#[cfg(target_os = "linux")]
fn send_abstract(
    sock: &std::os::unix::net::UnixDatagram,
    name: &str,
    msg: &[u8],
) -> io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    sock.send_to_addr(msg, &addr).map(|_| ())
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &std::os::unix::net::UnixDatagram, _: &str, _: &[u8]) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract unix sockets exist on Linux only",
    ))
}

/// `daemonize yes`: starts this executable again with the same arguments, in its own
/// process group (so the terminal's job control signals do not reach it), with standard
/// input and output on /dev/null, marked by [`DAEMON_ENV`]. The caller then exits 0, as
/// Redis's parent does after `fork`. Returns the daemon's pid.
pub fn spawn_daemon() -> io::Result<u32> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let child = Command::new(exe)
        .args(args)
        .env(DAEMON_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    Ok(child.id())
}

/// Redis's `checkTcpBacklogSettings`: the warning when the kernel caps the backlog.
pub fn backlog_warning(backlog: u32) -> Option<String> {
    const SOMAXCONN: &str = "/proc/sys/net/core/somaxconn";
    let max: u32 = std::fs::read_to_string(SOMAXCONN)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (max < backlog).then(|| {
        format!("WARNING: The TCP backlog setting of {backlog} cannot be enforced because {SOMAXCONN} is set to the lower value of {max}.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn detection_as_redis() {
        let sock = [("NOTIFY_SOCKET", "/run/systemd/notify")];
        let systemd = Supervision::Systemd {
            socket: "/run/systemd/notify".into(),
        };
        assert_eq!(detect("auto", env(&sock)).0, systemd);
        assert_eq!(detect("systemd", env(&sock)).0, systemd);
        assert_eq!(detect("no", env(&sock)).0, Supervision::None);
        assert_eq!(detect("auto", env(&[])), (Supervision::None, vec![]));
        let (s, log) = detect("systemd", env(&[]));
        assert_eq!(s, Supervision::None);
        assert_eq!(log[0].0, Level::WARN);
        // Upstart is detected first, and not supported.
        let both = [("UPSTART_JOB", "redis"), ("NOTIFY_SOCKET", "/x")];
        let (s, log) = detect("auto", env(&both));
        assert_eq!(s, Supervision::None);
        assert!(log[1].1.contains("not supported"), "{log:?}");
        assert_eq!(systemd.info_name(), "systemd");
    }

    #[test]
    fn notify_reaches_a_datagram_socket() {
        let dir = std::env::temp_dir().join(format!("picket-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let rx = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let s = Supervision::Systemd {
            socket: path.to_string_lossy().into_owned(),
        };
        s.notify("READY=1\n");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
