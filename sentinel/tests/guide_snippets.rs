//! Every client snippet of docs/guide.md §4 ("Connecting applications") runs as written:
//! this test extracts them from the guide, points them at a `deploy/picket-ha` deployment of
//! its own (the only change: the sentinel ports), runs each one and checks what it wrote,
//! fails the deployment over with `deploy/picket-ha drill`, and then checks the claim each
//! snippet's comments make: the same client object writes to the new master.
//!
//! Each snippet runs inside a small harness (sentinel/tests/snippets/follow.*) that runs
//! it, prints SNIPPET-DONE, waits for `go` on stdin (sent after the failover), writes
//! `followed:<language>` through the snippet's own client and prints FOLLOWED.
//!
//! What they need: python3 with redis-py (`pip install redis`), node with ioredis
//! (`npm ci` in sentinel/tests/snippets), cargo and crates.io for the `redis` crate (built
//! once into <target>/guide-snippets), Java with Jedis on PICKET_JEDIS_CLASSPATH, a Go
//! toolchain that can fetch go-redis v9. A missing one is skipped loudly; under
//! PICKET_REQUIRE_REDIS=1 (CI, where .ci/run installs them) a missing Python, Node or Rust
//! prerequisite fails the test. Jedis (Maven Central) and go-redis v9 (proxy.golang.org)
//! cannot be had on the CI machine, so those two are skipped loudly even there.

mod ha_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ha_support::*;

const LANGS: [&str; 5] = ["python", "js", "rust", "java", "go"];
const DEFAULT_SENTINELS: [u16; 3] = [26479, 26480, 26481];
/// Seconds a harness may retry its write after the failover.
const FOLLOW_SECS: u64 = 60;

fn snippets_dir() -> PathBuf {
    root().join("sentinel/tests/snippets")
}

/// The fenced blocks of the guide's section 4, by language tag; each tag appears once.
fn guide_snippets() -> BTreeMap<String, String> {
    let guide = std::fs::read_to_string(root().join("docs/guide.md")).expect("docs/guide.md");
    let start = guide
        .find("\n## 4. Connecting applications")
        .expect("section 4 of the guide");
    let end = guide[start + 1..]
        .find("\n## ")
        .map_or(guide.len(), |i| start + 1 + i);
    let mut out = BTreeMap::new();
    let mut block: Option<(String, String)> = None;
    for line in guide[start..end].lines() {
        match (&mut block, line.strip_prefix("```")) {
            (None, Some(tag)) => block = Some((tag.trim().to_string(), String::new())),
            (Some(_), Some("")) => {
                let (tag, code) = block.take().expect("in a block");
                assert!(
                    out.insert(tag.clone(), code).is_none(),
                    "two ```{tag} blocks in section 4"
                );
            }
            (Some((_, code)), _) => {
                code.push_str(line);
                code.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(block.is_none(), "an unclosed block in section 4");
    out
}

/// The snippet with the default sentinel ports replaced by the deployment's.
fn on_ports(code: &str, sentinels: [u16; 3]) -> String {
    let mut code = code.to_string();
    for (d, p) in DEFAULT_SENTINELS.iter().zip(sentinels) {
        assert!(
            code.contains(&d.to_string()),
            "the snippet does not name sentinel port {d}:\n{code}"
        );
        code = code.replace(&d.to_string(), &p.to_string());
    }
    code
}

fn fill(template: &str, snippet: &str) -> String {
    let t = std::fs::read_to_string(snippets_dir().join(template)).expect("template");
    assert!(t.contains("// SNIPPET"), "{template} has no SNIPPET line");
    t.replacen("// SNIPPET", snippet, 1)
}

fn on_path(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs a command to its end (killed after `secs`): Ok, or what it printed.
fn run_quiet(cmd: &mut Command, secs: u64) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let log = dir.path().join("output");
    let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .spawn()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    match status {
        Some(st) if st.success() => Ok(()),
        Some(st) => Err(format!("{cmd:?} failed ({st}):\n{output}")),
        None => Err(format!("{cmd:?} did not finish within {secs}s:\n{output}")),
    }
}

/// Why a language cannot run here; `required` ones fail under PICKET_REQUIRE_REDIS=1.
struct Skip {
    why: String,
    required: bool,
}

fn skip(why: impl Into<String>, required: bool) -> Skip {
    Skip {
        why: why.into(),
        required,
    }
}

/// The command that runs a language's snippet in its harness, or why it cannot run here.
fn prepare(
    lang: &str,
    all: &BTreeMap<String, String>,
    sentinels: [u16; 3],
    work: &Path,
) -> Result<Command, Skip> {
    let code = on_ports(&all[lang], sentinels);
    let secs = FOLLOW_SECS.to_string();
    match lang {
        "python" => {
            if Command::new("python3")
                .args(["-c", "import redis.sentinel"])
                .stderr(Stdio::null())
                .status()
                .map_or(true, |s| !s.success())
            {
                return Err(skip("python3 has no redis-py: pip install redis", true));
            }
            let file = work.join("snippet.py");
            std::fs::write(&file, code).expect("write");
            let mut c = Command::new("python3");
            c.arg(snippets_dir().join("follow.py")).arg(file).arg(secs);
            Ok(c)
        }
        "js" => {
            let modules = snippets_dir().join("node_modules");
            if !on_path("node") {
                return Err(skip(
                    "node is not installed (apt-get install nodejs npm)",
                    true,
                ));
            }
            if !modules.join("ioredis").exists() {
                return Err(skip(
                    "ioredis is not installed: npm ci --prefix sentinel/tests/snippets",
                    true,
                ));
            }
            let file = work.join("snippet.js");
            std::fs::write(&file, code).expect("write");
            let mut c = Command::new("node");
            c.arg(snippets_dir().join("follow.js"))
                .arg(file)
                .arg(secs)
                .env("NODE_PATH", modules);
            Ok(c)
        }
        "rust" => build_rust(&fill("follow.rs.in", &code), &all["toml"]).map(|exe| {
            let mut c = Command::new(exe);
            c.arg(secs);
            c
        }),
        "java" => {
            if !on_path("java") {
                return Err(skip("no Java runtime (java is not on PATH)", false));
            }
            let Ok(cp) = std::env::var("PICKET_JEDIS_CLASSPATH") else {
                return Err(skip(
                    "Jedis is not available: it comes from Maven Central, which this machine \
                     does not reach, and Debian has no package of it. Set \
                     PICKET_JEDIS_CLASSPATH to the Jedis jar and its dependencies \
                     (commons-pool2, slf4j-api, gson, json) to run it",
                    false,
                ));
            };
            let file = work.join("Follow.java");
            std::fs::write(&file, fill("Follow.java.in", &code)).expect("write");
            let mut c = Command::new("java");
            c.args(["-cp", &cp]).arg(file).arg(secs);
            Ok(c)
        }
        "go" => build_go(&fill("follow.go.in", &code), work).map(|exe| {
            let mut c = Command::new(exe);
            c.arg(secs);
            c
        }),
        _ => unreachable!("LANGS"),
    }
}

/// Builds the Rust harness with the guide's [dependencies] in a crate of its own, cached in
/// <target>/guide-snippets (the first build compiles the `redis` crate and tokio).
fn build_rust(main_rs: &str, deps: &str) -> Result<PathBuf, Skip> {
    let profile_dir = bin_dir();
    let target = profile_dir
        .parent()
        .expect("the profile directory is in the target directory")
        .join("guide-snippets");
    let krate = target.join("crate");
    std::fs::create_dir_all(krate.join("src")).expect("mkdir");
    let manifest = format!(
        "[package]\nname = \"guide-snippet\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[workspace]\n\n{deps}"
    );
    write_if_changed(&krate.join("Cargo.toml"), &manifest);
    write_if_changed(&krate.join("src/main.rs"), main_rs);
    let lock = krate.join("Cargo.lock");
    if !lock.exists() {
        // The workspace's versions of the crates both use.
        std::fs::copy(root().join("Cargo.lock"), &lock).expect("copy Cargo.lock");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!(
        "guide snippets: building the Rust snippet (the first build compiles the redis crate)"
    );
    let t0 = Instant::now();
    let o = Command::new(cargo)
        .arg("build")
        .arg("--manifest-path")
        .arg(krate.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target.join("target"))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .output()
        .expect("cargo");
    let err = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        if err.contains("failed to get") || err.contains("failed to download") {
            return Err(skip(
                format!("cargo cannot fetch the guide's dependencies:\n{err}"),
                true,
            ));
        }
        panic!("the Rust snippet of docs/guide.md does not compile as written:\n{err}\n{main_rs}");
    }
    eprintln!(
        "guide snippets: built the Rust snippet in {:.0?}",
        t0.elapsed()
    );
    Ok(target.join("target/debug/guide-snippet"))
}

fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).expect("write");
    }
}

/// Builds the Go harness, when a Go toolchain is there and can fetch go-redis v9.
fn build_go(main_go: &str, work: &Path) -> Result<PathBuf, Skip> {
    let unreachable = "go-redis v9 comes from proxy.golang.org, which this machine does not \
                       reach (Debian packages only go-redis v5)";
    if !on_path("go") {
        return Err(skip(
            format!("no Go toolchain (go is not on PATH); and {unreachable}"),
            false,
        ));
    }
    let dir = work.join("go");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("main.go"), main_go).expect("write");
    let go = |args: &[&str]| {
        let mut c = Command::new("go");
        c.args(args).current_dir(&dir);
        c
    };
    run_quiet(&mut go(&["mod", "init", "picket.test/guidesnippet"]), 60)
        .map_err(|e| skip(e, false))?;
    if let Err(e) = run_quiet(&mut go(&["get", "github.com/redis/go-redis/v9"]), 120) {
        return Err(skip(format!("{unreachable}: {e}"), false));
    }
    if let Err(e) = run_quiet(&mut go(&["build", "-o", "follow", "."]), 300) {
        panic!("the Go snippet of docs/guide.md does not compile as written:\n{e}\n{main_go}");
    }
    Ok(dir.join("follow"))
}

/// A running harness: its stdout lines as they come, killed if the test ends early.
struct Running {
    lang: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: PathBuf,
}

impl Running {
    fn start(lang: &'static str, mut cmd: Command, work: &Path) -> Running {
        let stderr = work.join(format!("{lang}.stderr"));
        let mut child = cmd
            .current_dir(work)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("{lang}: {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Running {
            lang,
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    fn report(&self) -> String {
        format!(
            "the {} snippet printed:\n{}\nand on stderr:\n{}",
            self.lang,
            self.seen.join("\n"),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Waits for a line; panics with everything it printed when it exits or times out.
    fn expect_line(&mut self, want: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(l) => {
                    let hit = l == want;
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let st = self.child.wait().ok();
                    panic!("waiting for {want}: it exited ({st:?}); {}", self.report());
                }
                Err(mpsc::RecvTimeoutError::Timeout) if left.is_zero() => {
                    panic!("no {want} within {secs}s; {}", self.report());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn go(&mut self) {
        let mut stdin = self.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("write go");
    }

    fn wait_exit(&mut self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                assert!(st.success(), "it exited with {st}; {}", self.report());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "it did not exit within {secs}s of FOLLOWED; {}",
                self.report()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn guide_client_snippets_run_and_follow_a_failover() {
    let all = guide_snippets();
    for tag in LANGS.iter().chain(&["toml"]) {
        assert!(all.contains_key(*tag), "no ```{tag} snippet in section 4");
    }
    if !python3_available() {
        return;
    }
    let ha = Ha::new();
    let work = tempfile::tempdir().expect("temp dir");
    let mut ready = Vec::new();
    let mut skipped = Vec::new();
    for lang in LANGS {
        match prepare(lang, &all, ha.sentinels, work.path()) {
            Ok(c) => ready.push((lang, c)),
            Err(s) => {
                if s.required {
                    skip_or_fail(&format!("the {lang} snippet of docs/guide.md"), &s.why);
                } else {
                    eprintln!(
                        "\n!!! SKIPPED the {lang} snippet of docs/guide.md: {}\n",
                        s.why
                    );
                }
                skipped.push(lang);
            }
        }
    }
    ha.ok("up");
    let old = ha.master_port().expect("a master");
    let mut running = Vec::new();
    for (lang, c) in ready {
        assert_eq!(cmd(old, &["DEL", "greeting"]).expect("DEL").len(), 1);
        let mut r = Running::start(lang, c, work.path());
        r.expect_line("SNIPPET-DONE", 60);
        let got = cmd(old, &["GET", "greeting"]).expect("GET");
        assert_eq!(
            got,
            ["hello"],
            "what the {lang} snippet wrote; {}",
            r.report()
        );
        // What the snippets print: redis-py reads it back from a replica, ioredis from the master.
        let printed = match lang {
            "python" => Some("b'hello'"),
            "js" => Some("hello"),
            _ => None,
        };
        if let Some(p) = printed {
            assert!(r.seen.iter().any(|l| l == p), "{}", r.report());
        }
        running.push(r);
    }
    let drill = ha.ok("drill");
    let new = ha.master_port().expect("a master after the drill");
    assert_ne!(new, old, "{drill}");
    for r in &mut running {
        r.go();
    }
    for r in &mut running {
        r.expect_line("FOLLOWED", FOLLOW_SECS + 30);
        r.wait_exit(20);
        let key = format!("followed:{}", if r.lang == "js" { "node" } else { r.lang });
        assert_eq!(
            cmd(new, &["GET", &key]).expect("GET"),
            ["after-failover"],
            "the {} client's write after the failover is on the new master :{new}",
            r.lang
        );
    }
    let ran: Vec<&str> = running.iter().map(|r| r.lang).collect();
    eprintln!("guide snippets: ran {ran:?}; skipped {skipped:?}");
}
