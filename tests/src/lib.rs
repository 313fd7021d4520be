//! Helpers for end-to-end tests that run the real `lindung-agent` and
//! `lindung-server` binaries, as an officer or an operator would.
//!
//! The binaries are the ones `cargo test --workspace` builds next to this test
//! executable (`target/<profile>/`); cargo builds them because the `agent` and
//! `server` packages have integration tests of their own.

// Test support: a failed assumption must stop the test with its reason.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod browser;
pub mod central;
pub mod fault_proxy;
pub mod privacy;
pub mod slow_link;
pub mod ui;
pub mod web;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Path of a workspace binary built by the same `cargo test` run.
///
/// # Panics
/// When the binary is missing: run the tests with `cargo test --workspace`.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test runs from target/<profile>/deps");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the suite with `cargo test --workspace`, which builds it",
        path.display()
    );
    path
}

/// What a finished process printed and how it ended.
#[derive(Debug)]
pub struct Finished {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output, as UTF-8.
    pub stdout: String,
    /// Standard error, as UTF-8.
    pub stderr: String,
}

impl Finished {
    /// What a process that has ended printed, and how it ended.
    pub fn from_output(output: Output) -> Finished {
        Finished {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Whether a signal ended it (SIGKILL from a test) rather than an exit.
    pub fn killed(&self) -> bool {
        self.code.is_none()
    }

    /// Standard output parsed as JSON.
    ///
    /// # Panics
    /// When it is not JSON, showing what it was.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// How long a process started by [`Running`] may take before it counts as
/// hung: far more than any healthy command of these tests needs.
pub const HANG_LIMIT: Duration = Duration::from_secs(90);

/// A started process whose output is collected as it comes (so a full pipe
/// never blocks it), which a test can kill at a moment of its choosing.
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Running {
    /// Starts `command` with its output captured.
    pub fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the program starts");
        let collect = |stream: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut stream) = stream {
                    let _ = stream.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = collect(child.stdout.take().map(|s| Box::new(s) as _));
        let stderr = collect(child.stderr.take().map(|s| Box::new(s) as _));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Whether it has ended.
    pub fn ended(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// Sends SIGKILL (nothing if it has already ended).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Waits for the end and returns what it printed.
    ///
    /// # Panics
    /// When it is still running after [`HANG_LIMIT`] (it is killed first).
    pub fn finish(mut self) -> Finished {
        let deadline = std::time::Instant::now() + HANG_LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waits for the program") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                self.kill();
                let _ = self.child.wait();
                panic!(
                    "hung: still running after {} s\nstdout: {}\nstderr: {}",
                    HANG_LIMIT.as_secs(),
                    String::from_utf8_lossy(&self.stdout.join().unwrap_or_default()),
                    String::from_utf8_lossy(&self.stderr.join().unwrap_or_default())
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        Finished::from_output(Output {
            status,
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
        })
    }
}

/// Runs `command`, and with `kill_after` sends it SIGKILL after that long
/// (a power cut at a chosen moment); returns how it ended. A process that
/// finished before the kill ends normally (`Finished::killed` is false).
///
/// # Panics
/// When it hangs ([`Running::finish`]).
pub fn run_killed_after(command: Command, kill_after: Option<Duration>) -> Finished {
    let mut running = Running::start(command);
    if let Some(delay) = kill_after {
        std::thread::sleep(delay);
        running.kill();
    }
    running.finish()
}

/// A small deterministic generator (a 64-bit LCG), so that a test driven by
/// random choices replays exactly from its printed seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next number (31 bits).
    pub fn number(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.number().checked_rem(bound).unwrap_or(0)
    }

    /// A number from 1 to 2^`powers` - 1, spread evenly over the powers of two
    /// (so that small and large values are both common).
    pub fn spread(&mut self, powers: u64) -> u64 {
        let scale = 1u64 << self.below(powers);
        scale + self.below(scale)
    }

    /// True `percent` times in a hundred.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A number from an environment variable, if it is set and is one.
pub fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The seed named by the environment variable `name`, else one from the clock.
pub fn seed_from_env(name: &str) -> u64 {
    env_number(name).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    })
}

/// A woman from Sangir (NIK district 131101) unique to `i`: her NIK, and a
/// name no other `i` comes close to, so no two are probable duplicates
/// whatever their birth dates and villages: `Pekerja` and four letters (two
/// different four-letter parts never match), past 26⁴ `Buruh` and two such
/// parts (a conflicting first word keeps them apart from the others).
pub fn worker(i: u64) -> (String, String) {
    const FOUR_LETTERS: u64 = 26 * 26 * 26 * 26;
    let day = 1 + i % 28;
    let month = 1 + (i / 28) % 12;
    let year = 60 + (i / 336) % 40;
    let serial = 1 + i / 13_440;
    let nik = format!("131101{:02}{month:02}{year:02}{serial:04}", day + 40);
    let letters = |n: u64| -> String {
        (0..4)
            .map(|k| char::from(b'a' + u8::try_from((n / 26u64.pow(k)) % 26).unwrap_or(0)))
            .collect()
    };
    let name = if i < FOUR_LETTERS {
        format!("Pekerja {}", letters(i))
    } else {
        format!("Buruh {} {}", letters(i), letters(i / FOUR_LETTERS))
    };
    (nik, name)
}

/// Runs a workspace binary to completion with the given arguments and a clean
/// language environment (so a developer's `LINDUNG_LANG` cannot change results).
pub fn run<I, S>(name: &str, args: I) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new(binary(name))
        .args(args)
        .env_remove("LINDUNG_LANG")
        .env_remove("LINDUNG_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Finished::from_output(output)
}

/// Runs `lindung-agent` with the given arguments.
pub fn agent<I, S>(args: I) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run("lindung-agent", args)
}

/// Runs `lindung-server` with the given arguments.
pub fn server<I, S>(args: I) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run("lindung-server", args)
}

/// The passphrase the test laptops use.
pub const TEST_PASSPHRASE: &str = "sandi-uji-lapangan";

/// An officer's laptop: a fresh data directory with an initialised agent store.
#[derive(Debug)]
pub struct Laptop {
    dir: tempfile::TempDir,
}

impl Laptop {
    /// Imports `rows` (`NIK;Nama Lengkap;Kode Desa;Pekerjaan`, `;`-separated,
    /// without the header) as a village spreadsheet, paid by the regional
    /// budget with signed consent forms; asserts the import succeeded.
    pub fn import_workers<S: AsRef<str>>(&self, rows: &[S]) -> Finished {
        let csv = self.dir().join("pekerja.csv");
        let mut text = String::from("NIK;Nama Lengkap;Kode Desa;Pekerjaan\n");
        for row in rows {
            text.push_str(row.as_ref());
            text.push('\n');
        }
        std::fs::write(&csv, text).expect("csv");
        let imported = self.agent([
            "import",
            csv.to_str().expect("utf-8"),
            "--payer",
            "apbd",
            "--consent",
            "signed_form",
        ]);
        assert_eq!(
            imported.code,
            Some(0),
            "{}{}",
            imported.stdout,
            imported.stderr
        );
        imported
    }

    /// `register … --json` of a worker in a village (nelayan, paid by the
    /// regional budget, signed consent), not started yet.
    pub fn register_command(&self, nik: &str, name: &str, village: &str) -> Command {
        let mut command = self.command();
        command.args([
            "register",
            "--nik",
            nik,
            "--name",
            name,
            "--village",
            village,
            "--category",
            "nelayan",
            "--payer",
            "apbd",
            "--consent",
            "signed_form",
            "--json",
        ]);
        command
    }

    /// `import FILE --json` (payer and consent for the rows that leave them
    /// empty: regional budget, verbal), not started yet.
    pub fn import_command(&self, path: &std::path::Path) -> Command {
        let mut command = self.command();
        command
            .arg("import")
            .arg(path)
            .args(["--payer", "apbd", "--consent", "verbal", "--json"]);
        command
    }

    /// `status --json`, which must succeed.
    pub fn status(&self) -> serde_json::Value {
        let out = self.agent(["status", "--json"]);
        assert_eq!(out.code, Some(0), "status: {}{}", out.stdout, out.stderr);
        out.json()
    }

    /// Changes waiting to be sent (`status`).
    pub fn pending_changes(&self) -> u64 {
        self.status()["status"]["pending_changes"]
            .as_u64()
            .expect("pending count")
    }

    /// A new laptop, initialised for an officer (with the fast test key derivation).
    pub fn init(officer: &str) -> Laptop {
        let laptop = Laptop {
            dir: tempfile::tempdir().expect("temporary directory"),
        };
        let out = laptop.agent(["init", "--officer", officer, "--insecure-fast-kdf"]);
        assert_eq!(
            out.code,
            Some(0),
            "init failed: {}{}",
            out.stdout,
            out.stderr
        );
        laptop
    }

    /// Enrols this laptop with a server (URL) using a fresh code for `officer`.
    pub fn enroll(&self, central: &central::Central, officer: &str, server_url: &str) {
        let code = central.enroll_code(officer);
        let out = self.agent(["enroll", "--server", server_url, "--code", &code]);
        assert_eq!(out.code, Some(0), "enroll: {}{}", out.stdout, out.stderr);
    }

    /// Registers a worker in a village (the usual test values for the rest).
    pub fn register(&self, nik: &str, name: &str, village: &str) -> String {
        let out = Finished::from_output(
            self.register_command(nik, name, village)
                .output()
                .expect("lindung-agent starts"),
        );
        assert_eq!(out.code, Some(0), "register: {}{}", out.stdout, out.stderr);
        let json = out.json();
        json["registration"]["id"]
            .as_str()
            .or_else(|| json["id"].as_str())
            .unwrap_or_else(|| panic!("no id in {json}"))
            .to_owned()
    }

    /// `sync --json`, which must succeed; returns the summary.
    pub fn sync(&self) -> serde_json::Value {
        let out = self.agent(["sync", "--json"]);
        assert!(
            matches!(out.code, Some(0 | 1)),
            "sync failed: {}{}",
            out.stdout,
            out.stderr
        );
        out.json()["summary"].clone()
    }

    /// Every registration this laptop holds, as `list --json` prints them,
    /// sorted by id, without what differs by laptop (who made it, sync state).
    pub fn registrations(&self) -> Vec<serde_json::Value> {
        let out = self.agent(["list", "--json", "--limit", "100000"]);
        assert_eq!(out.code, Some(0), "list: {}{}", out.stdout, out.stderr);
        let json = out.json();
        let mut rows = json
            .as_array()
            .cloned()
            .or_else(|| json["registrations"].as_array().cloned())
            .unwrap_or_else(|| panic!("no list in {json}"));
        for row in &mut rows {
            if let Some(object) = row.as_object_mut() {
                object.remove("sync");
                object.remove("registered_by_this_laptop");
            }
        }
        rows.sort_by(|a, b| a["id"].to_string().cmp(&b["id"].to_string()));
        rows
    }

    /// The data directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Runs `lindung-agent` on this laptop with the right passphrase.
    pub fn agent<I, S>(&self, args: I) -> Finished
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.agent_with_passphrase(args, Some(TEST_PASSPHRASE))
    }

    /// Runs `lindung-agent` on this laptop with the given passphrase (or none).
    pub fn agent_with_passphrase<I, S>(&self, args: I, passphrase: Option<&str>) -> Finished
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command();
        command.args(args);
        match passphrase {
            Some(passphrase) => command.env("LINDUNG_PASSPHRASE", passphrase),
            None => command.env_remove("LINDUNG_PASSPHRASE"),
        };
        Finished::from_output(command.output().expect("lindung-agent starts"))
    }

    /// A `lindung-agent` command on this laptop, not started yet: its data
    /// directory, the right passphrase, no terminal input, output captured,
    /// and no `LINDUNG_LANG` from the developer's environment.
    pub fn command(&self) -> Command {
        let mut command = Command::new(binary("lindung-agent"));
        command
            .env_remove("LINDUNG_LANG")
            .env("LINDUNG_DATA_DIR", self.dir.path())
            .env("LINDUNG_PASSPHRASE", TEST_PASSPHRASE)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    }
}

/// Sends one raw HTTP/1.1 request (`head`: request line and headers, without
/// `Host`, `Content-Length` and the blank line) and returns the status code
/// and the body. Raw on purpose: tests can send what no client library would.
pub fn raw_request(address: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    let request = format!(
        "{head}\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("head sent");
    stream.write_all(body).expect("body sent");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}
