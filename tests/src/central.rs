//! A real `lindung-server` process on 127.0.0.1 with its own SQLite file, and
//! the staff commands run against the same database.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::{Finished, binary};

/// A running server (killed when dropped).
#[derive(Debug)]
pub struct Central {
    dir: tempfile::TempDir,
    database: String,
    child: Option<Child>,
    address: SocketAddr,
    /// Certificate and key files (PEM) when it serves TLS.
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// The SHA-256 of its certificate, as it printed it (TLS only).
    fingerprint: Option<String>,
    /// Secrets handed out through this server (enrolment codes, staff
    /// passwords): none may appear in its log.
    secrets: std::sync::Mutex<Vec<String>>,
    /// Extra environment of the server process.
    env: Vec<(String, String)>,
}

impl Central {
    /// Imports reference rows (`tahun;kode_wilayah;penduduk_bekerja;
    /// peserta_bpjs;target_persen`, one per line, without the header) with
    /// `lindung-server reference import`; asserts it succeeded.
    pub fn import_reference(&self, rows: &str) {
        let dir = tempfile::tempdir().expect("temp dir");
        let reference = dir.path().join("acuan.csv");
        std::fs::write(
            &reference,
            format!("tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs;target_persen\n{rows}"),
        )
        .expect("written");
        let loaded = self.admin(["reference", "import", reference.to_str().expect("utf-8")]);
        assert_eq!(loaded.code, Some(0), "{}{}", loaded.stdout, loaded.stderr);
    }

    /// Starts a server on a free port with a fresh SQLite database.
    pub fn start() -> Central {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = format!("sqlite://{}", dir.path().join("server.sqlite").display());
        Central::start_with(dir, database)
    }

    /// Starts a server on a free port with the given database URL (e.g. PostgreSQL).
    pub fn start_with_database(database: &str) -> Central {
        Central::start_with(
            tempfile::tempdir().expect("temporary directory"),
            database.to_owned(),
        )
    }

    /// Starts a server on a fresh SQLite database with extra environment
    /// variables (e.g. `LINDUNG_LOG_FORMAT`).
    pub fn start_with_env(env: &[(&str, &str)]) -> Central {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = format!("sqlite://{}", dir.path().join("server.sqlite").display());
        let mut central = Central::new(dir, database);
        central.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        central.spawn();
        central
    }

    /// Starts a server serving TLS with this certificate chain and key
    /// (PEM), on a free port with a fresh SQLite database.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Central {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = format!("sqlite://{}", dir.path().join("server.sqlite").display());
        let mut central = Central::new(dir, database);
        central.use_certificate(cert_pem, key_pem);
        central.spawn();
        central
    }

    /// Serves with another certificate and key from the next (re)start on.
    pub fn use_certificate(&mut self, cert_pem: &str, key_pem: &str) {
        let n = std::fs::read_dir(self.dir.path()).map_or(0, |d| d.count());
        let cert = self.dir.path().join(format!("cert-{n}.pem"));
        let key = self.dir.path().join(format!("key-{n}.pem"));
        std::fs::write(&cert, cert_pem).expect("certificate written");
        std::fs::write(&key, key_pem).expect("key written");
        self.tls = Some((cert, key));
    }

    fn new(dir: tempfile::TempDir, database: String) -> Central {
        Central {
            dir,
            database,
            child: None,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            fingerprint: None,
            secrets: std::sync::Mutex::default(),
            env: Vec::new(),
        }
    }

    fn start_with(dir: tempfile::TempDir, database: String) -> Central {
        let mut central = Central::new(dir, database);
        central.spawn();
        central
    }

    fn spawn(&mut self) {
        // Benchmarks may keep the server's log (`BENCH_SERVER_LOG=FILE`,
        // with `BENCH_RUST_LOG` for its filter) to read per-push timings.
        let log = File::options()
            .create(true)
            .append(true)
            .open(
                std::env::var("BENCH_SERVER_LOG")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|_| self.dir.path().join("server.log")),
            )
            .expect("log file");
        let mut command = Command::new(binary("lindung-server"));
        command.args(["serve", "--listen", &self.address.to_string()]);
        if let Some((cert, key)) = &self.tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        let mut child = command
            .env("LINDUNG_DATABASE", &self.database)
            .env(
                "RUST_LOG",
                std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .stdin(Stdio::null())
            .spawn()
            .expect("lindung-server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("server prints its address");
        let scheme = if self.tls.is_some() {
            "https://"
        } else {
            "http://"
        };
        if self.tls.is_some() {
            let mut second = String::new();
            stdout
                .read_line(&mut second)
                .expect("server prints its certificate's fingerprint");
            self.fingerprint = second
                .trim()
                .strip_prefix("certificate SHA-256: ")
                .map(str::to_owned);
        }
        let address = line
            .trim()
            .rsplit(scheme)
            .next()
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no address in {line:?}; log:\n{}",
                    std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
                )
            });
        self.address = address;
        self.child = Some(child);
    }

    /// The server's base URL (`https://127.0.0.1:PORT` when it serves TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// The SHA-256 of the certificate it serves, as it printed it (`AB:CD:…`).
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Kills the server with SIGKILL (a power cut), leaving its data as it was.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM (as systemd does) and waits for it to
    /// exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        assert!(sent, "SIGTERM delivered");
        child.wait().is_ok_and(|status| status.success())
    }

    /// Starts the server again on the same address and database.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Stops the server and deletes its database: a server reset to empty
    /// (a new store id), then starts it again on the same address.
    pub fn reset(&mut self) {
        self.kill();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(self.dir.path().join(format!("server.sqlite{suffix}")));
        }
        self.spawn();
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs a staff command (`lindung-server …`) against this server's database
    /// (no `LINDUNG_STAFF` from the developer's environment).
    pub fn admin<I, S>(&self, args: I) -> Finished
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.admin_with_env(args, &[])
    }

    /// Runs a staff command with extra environment variables (e.g. `LINDUNG_STAFF`).
    pub fn admin_with_env<I, S>(&self, args: I, env: &[(&str, &str)]) -> Finished
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        for (name, value) in env {
            if name.contains("PASSWORD") || name.contains("PASSPHRASE") || name.contains("TOKEN") {
                self.remember_secret(value);
            }
        }
        let output = Command::new(binary("lindung-server"))
            .args(args)
            .env("LINDUNG_DATABASE", &self.database)
            .env_remove("LINDUNG_LANG")
            .env_remove("LINDUNG_STAFF")
            .envs(env.iter().copied())
            .output()
            .expect("lindung-server runs");
        Finished::from_output(output)
    }

    /// Adds an officer for the regions and returns their id.
    pub fn add_officer(&self, name: &str, regions: &[&str]) -> String {
        let mut args = vec!["officer", "add", name, "--json"];
        for region in regions {
            args.push("--region");
            args.push(region);
        }
        let out = self.admin(args);
        assert_eq!(
            out.code,
            Some(0),
            "officer add: {}{}",
            out.stdout,
            out.stderr
        );
        out.json()["id"].as_str().expect("officer id").to_owned()
    }

    /// A fresh enrolment code for an officer.
    pub fn enroll_code(&self, officer: &str) -> String {
        let out = self.admin(["enroll-code", "--officer", officer, "--json"]);
        assert_eq!(
            out.code,
            Some(0),
            "enroll-code: {}{}",
            out.stdout,
            out.stderr
        );
        let code = out.json()["code"].as_str().expect("code").to_owned();
        self.remember_secret(&code);
        code
    }

    /// Notes a secret handed out through this server: its log must never
    /// show it (checked when the server is dropped).
    pub fn remember_secret(&self, secret: &str) {
        if let Ok(mut secrets) = self.secrets.lock() {
            secrets.push(secret.to_owned());
        }
    }

    /// `stats --json`.
    pub fn stats(&self) -> serde_json::Value {
        let out = self.admin(["stats", "--json"]);
        assert_eq!(out.code, Some(0), "stats: {}{}", out.stdout, out.stderr);
        out.json()
    }
}

/// A fresh, empty database `name` on the PostgreSQL server that `url` names
/// (dropped first if it exists, with `psql`); returns its URL.
pub fn fresh_postgres(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a database in the URL");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        let status = Command::new("psql")
            .args([url, "-q", "-c", &sql])
            .status()
            .expect("psql runs");
        assert!(status.success(), "{sql}");
    }
    format!("{base}/{name}")
}

impl Drop for Central {
    /// Stops the server and checks its whole log: no full NIK, no secret
    /// this test handed out (`privacy::leaks`). A leak fails the test.
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            return;
        }
        let secrets = self
            .secrets
            .lock()
            .map(|secrets| secrets.clone())
            .unwrap_or_default();
        let leaks = crate::privacy::leaks(&self.log(), &secrets);
        assert!(
            leaks.is_empty(),
            "the server's log holds personal data or a secret:\n{}",
            leaks.join("\n")
        );
    }
}
