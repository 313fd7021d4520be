//! Process-level chaos soak: the real server and three real agents of officers
//! whose regions overlap, all talking through a fault proxy that drops
//! answers, cuts and resets requests, truncates answers and delays traffic at
//! random, while the driver SIGKILLs agents in the middle of imports,
//! registrations and syncs, and the server in the middle of syncs. Then the
//! network heals, unfinished work is done again (as the officer would), every
//! agent syncs until nothing is pending, and every registration is counted on
//! the server and on every agent whose regions cover it: none lost, none twice.
//!
//! The same seed is then replayed without any fault or kill: the bytes that
//! clean run sends through the proxy, against the soak's, are what the faults
//! cost in resending.
//!
//! - `LINDUNG_SOAK_SECONDS=N` soaks for N seconds (default 3, plus setting up,
//!   healing and counting; the clean replay takes about as long again);
//! - `LINDUNG_SOAK_SEED=N` replays a run (printed at the start and on failure):
//!   the seed fixes the work, what is killed and the faults of each new
//!   connection; kill moments are times and byte counts, so a replay hits the
//!   same processes at about the same point, not at the same instruction;
//! - `LINDUNG_SOAK_TRACE=1` prints every step;
//! - `LINDUNG_SOAK_BACKEND=postgres` with `LINDUNG_TEST_POSTGRES_URL` runs the
//!   server on PostgreSQL (fresh databases `lindung_soak`, `lindung_soak_clean`).
//!
//! Figures of a long run: RELIABILITY.md, "Chaos soak".

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use lindung_tests::central::{Central, fresh_postgres};
use lindung_tests::fault_proxy::FaultProxy;
use lindung_tests::{Laptop, Rng, Running, env_number, run_killed_after, seed_from_env, worker};
use serde_json::Value;

/// An officer of the soak: the regions they may work in, and the villages
/// they register in (inside those regions).
#[derive(Debug)]
struct Officer {
    name: &'static str,
    regions: &'static [&'static str],
    villages: &'static [&'static str],
}

impl Officer {
    /// Whether a registration in `village` is this officer's to receive.
    fn covers(&self, village: &str) -> bool {
        self.regions
            .iter()
            .any(|region| village.starts_with(region))
    }
}

/// Three officers: a district, the regency around it, and a neighbouring
/// district plus one village of the first. Lubuk Gadang (1311012001) is in
/// everyone's regions.
const OFFICERS: [Officer; 3] = [
    Officer {
        name: "Rina Marlina",
        regions: &["131101"],
        villages: &["1311012001", "1311012002"],
    },
    Officer {
        name: "Budi Santoso",
        regions: &["1311"],
        villages: &["1311012001", "1311022001", "1311032001"],
    },
    Officer {
        name: "Sari Dewi",
        regions: &["131102", "1311012001"],
        villages: &["1311022001", "1311012001"],
    },
];

/// Percentage of new proxy connections that get a random fault in the soak.
const FAULT_PERCENT: u64 = 30;

/// One registration given to a laptop.
#[derive(Clone, Debug)]
struct Person {
    nik: String,
    name: String,
    village: &'static str,
}

/// Something an officer does that saves registrations.
#[derive(Clone, Debug)]
enum Work {
    Import(PathBuf, Vec<Person>),
    Register(Person),
}

/// What the driver does to a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trouble {
    None,
    KillAgent,
    KillServer,
}

/// How a piece of work ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    Done,
    Killed,
}

/// One officer's laptop in the soak.
#[derive(Debug)]
struct Field {
    laptop: Laptop,
    officer: &'static Officer,
    /// Every registration given to this laptop, by name.
    given: BTreeMap<String, Person>,
    /// Work a kill interrupted, to be done again.
    unfinished: Vec<Work>,
}

/// What a run did.
#[derive(Debug, Default)]
struct Figures {
    iterations: u64,
    imports: u64,
    registers: u64,
    syncs: u64,
    failed_syncs: u64,
    /// Agent processes ended by SIGKILL: during an import, a registration, a sync.
    agent_kills: [u64; 3],
    server_kills: u64,
    faults: Vec<(&'static str, usize)>,
    registrations: usize,
    bytes_up: usize,
    bytes_down: usize,
    connections: usize,
    /// Wall time of the setup, the steps, the healing and the census.
    phases: [Duration; 4],
}

impl Figures {
    fn bytes(&self) -> usize {
        self.bytes_up + self.bytes_down
    }
}

/// Typical durations (milliseconds), learnt from runs that were not killed,
/// so kills land anywhere in a process's life: a registration (most of it
/// starting up and committing), an import's time per row beyond that, a sync.
#[derive(Debug)]
struct Pace {
    per_row: f64,
    register: f64,
    sync: f64,
}

impl Pace {
    fn learn(estimate: &mut f64, observed: f64) {
        *estimate = 0.7 * *estimate + 0.3 * observed;
    }
}

/// How long to let a process run before killing it: anywhere from start-up
/// to a little after its usual end.
fn kill_moment(chaos: &mut Rng, typical_ms: f64) -> Duration {
    let window = (typical_ms * 1.3).max(2.0) as u64;
    Duration::from_millis(chaos.below(window))
}

/// The soak or its clean replay.
struct Run {
    seed: u64,
    chaos: bool,
    central: Central,
    proxy: FaultProxy,
    fields: Vec<Field>,
    /// Chooses the work (the same sequence with and without chaos).
    work: Rng,
    /// Chooses kills and their moments.
    faults: Rng,
    next_person: u64,
    pace: Pace,
    figures: Figures,
    scratch: tempfile::TempDir,
    tracing: bool,
}

impl Run {
    fn start(seed: u64, chaos: bool) -> Run {
        let central = match std::env::var("LINDUNG_SOAK_BACKEND").as_deref() {
            Ok("postgres") => {
                let url = std::env::var("LINDUNG_TEST_POSTGRES_URL")
                    .expect("LINDUNG_SOAK_BACKEND=postgres needs LINDUNG_TEST_POSTGRES_URL");
                let name = if chaos {
                    "lindung_soak"
                } else {
                    "lindung_soak_clean"
                };
                Central::start_with_database(&fresh_postgres(&url, name))
            }
            _ => Central::start(),
        };
        let proxy = FaultProxy::start(central.address());
        let fields: Vec<Field> = OFFICERS
            .iter()
            .map(|officer| {
                let id = central.add_officer(officer.name, officer.regions);
                let laptop = Laptop::init(officer.name);
                laptop.enroll(&central, &id, &proxy.url());
                Field {
                    laptop,
                    officer,
                    given: BTreeMap::new(),
                    unfinished: Vec::new(),
                }
            })
            .collect();
        let mut run = Run {
            seed,
            chaos,
            central,
            proxy,
            fields,
            work: Rng(seed),
            faults: Rng(seed ^ 0x00c4_a05c_4a05),
            next_person: 2,
            pace: Pace {
                per_row: 0.2,
                register: 150.0,
                sync: 60.0,
            },
            figures: Figures::default(),
            scratch: tempfile::tempdir().expect("temporary directory"),
            tracing: env_number("LINDUNG_SOAK_TRACE") == Some(1),
        };
        // The same person registered offline on two laptops: two records of
        // one NIK, both kept everywhere (a duplicate group for staff).
        let (nik, _) = worker(0);
        for (f, i) in [(0, 0), (1, 1)] {
            let person = Person {
                nik: nik.clone(),
                name: worker(i).1,
                village: "1311012001",
            };
            run.fields[f]
                .laptop
                .register(&nik, &person.name, person.village);
            run.fields[f].given.insert(person.name.clone(), person);
        }
        if chaos {
            run.proxy
                .set_random(Some((seed ^ 0x0000_0fa0_17ed, FAULT_PERCENT)));
        }
        run
    }

    /// With `LINDUNG_SOAK_TRACE=1`, prints what happens, step by step.
    fn trace(&self, what: std::fmt::Arguments<'_>) {
        if self.tracing {
            println!(
                "[{} {}] {what}",
                if self.chaos { "soak" } else { "clean" },
                self.figures.iterations
            );
        }
    }

    /// A new person for laptop `f`, in one of its officer's villages.
    fn new_person(&mut self, f: usize) -> Person {
        let (nik, name) = worker(self.next_person);
        self.next_person += 1;
        let villages = self.fields[f].officer.villages;
        let village = villages[self.work.below(villages.len() as u64) as usize];
        let person = Person {
            nik,
            name: name.clone(),
            village,
        };
        self.fields[f].given.insert(name, person.clone());
        person
    }

    /// A village spreadsheet of `rows` new people for laptop `f`.
    fn new_import(&mut self, f: usize, rows: u64) -> Work {
        let people: Vec<Person> = (0..rows).map(|_| self.new_person(f)).collect();
        let mut text = String::from("NIK;Nama Lengkap;Kode Desa;Pekerjaan\n");
        for person in &people {
            text.push_str(&format!(
                "{};{};{};nelayan\n",
                person.nik, person.name, person.village
            ));
        }
        let path = self
            .scratch
            .path()
            .join(format!("desa-{}.csv", self.next_person));
        std::fs::write(&path, text).expect("write the spreadsheet");
        Work::Import(path, people)
    }

    /// Does `work` on laptop `f`, perhaps killing it; `again` when a kill
    /// interrupted it before (so part of it may be saved already).
    fn perform(&mut self, f: usize, work: &Work, kill: bool, again: bool) -> Ended {
        let seed = self.seed;
        let laptop = &self.fields[f].laptop;
        let (command, typical) = match work {
            Work::Import(path, people) => (
                laptop.import_command(path),
                self.pace.register + self.pace.per_row * people.len() as f64,
            ),
            Work::Register(person) => (
                laptop.register_command(&person.nik, &person.name, person.village),
                self.pace.register,
            ),
        };
        let moment = kill.then(|| kill_moment(&mut self.faults, typical));
        let started = Instant::now();
        let out = run_killed_after(command, moment);
        let took = started.elapsed().as_secs_f64() * 1000.0;
        self.trace(format_args!(
            "{} {}{}: {:?} after {took:.0} ms (kill at {moment:?})",
            self.fields[f].officer.name,
            match work {
                Work::Import(_, people) => format!("import {} rows", people.len()),
                Work::Register(_) => "register".to_owned(),
            },
            if again { " again" } else { "" },
            out.code,
        ));
        if out.killed() {
            self.figures.agent_kills[usize::from(matches!(work, Work::Register(_)))] += 1;
            self.fields[f].unfinished.push(work.clone());
            return Ended::Killed;
        }
        match work {
            Work::Import(_, people) => {
                assert_eq!(
                    out.code,
                    Some(0),
                    "import failed (seed {seed}): {}{}",
                    out.stdout,
                    out.stderr
                );
                let summary = out.json();
                let (created, unchanged) = (&summary["created"], &summary["unchanged"]);
                let count = |v: &Value| v.as_u64().unwrap_or(u64::MAX);
                assert_eq!(
                    (
                        count(created) + count(unchanged),
                        count(&summary["refused"])
                    ),
                    (people.len() as u64, 0),
                    "every row saved once (seed {seed}): {summary}"
                );
                if !again {
                    assert_eq!(count(unchanged), 0, "a new file (seed {seed}): {summary}");
                    if people.len() >= 1_000 {
                        let rows_took = (took - self.pace.register).max(0.0);
                        Pace::learn(&mut self.pace.per_row, rows_took / people.len() as f64);
                    }
                }
            }
            Work::Register(person) => {
                let saved_before = out.code == Some(1)
                    && again
                    && out.json()["code"] == "duplicate_nik"
                    && out.json()["existing"][0]["full_name"] == person.name.as_str();
                assert!(
                    out.code == Some(0) || saved_before,
                    "register failed (seed {seed}): {}{}",
                    out.stdout,
                    out.stderr
                );
                if !again {
                    Pace::learn(&mut self.pace.register, took);
                }
            }
        }
        Ended::Done
    }

    /// One `sync`, perhaps with the agent or the server killed during it.
    /// Returns the summary when it succeeded.
    fn sync(&mut self, f: usize, trouble: Trouble) -> Option<Value> {
        self.figures.syncs += 1;
        let mut command: Command = self.fields[f].laptop.command();
        command.args(["sync", "--json"]);
        let started = Instant::now();
        let mut running = Running::start(command);
        let mut moment = String::new();
        if trouble != Trouble::None {
            moment = self.await_moment(&mut running);
            match trouble {
                Trouble::KillAgent => running.kill(),
                _ => {
                    self.central.kill();
                    self.figures.server_kills += 1;
                }
            }
        }
        let out = running.finish();
        if trouble == Trouble::KillServer {
            let restarting = Instant::now();
            self.central.restart();
            moment.push_str(&format!(
                ", restarted in {:.0} ms",
                restarting.elapsed().as_secs_f64() * 1000.0
            ));
        }
        self.trace(format_args!(
            "{} sync{}: {:?} after {:.0} ms",
            self.fields[f].officer.name,
            match trouble {
                Trouble::None => String::new(),
                Trouble::KillAgent => format!(", agent killed {moment}"),
                Trouble::KillServer => format!(", server killed {moment}"),
            },
            out.code,
            started.elapsed().as_secs_f64() * 1000.0
        ));
        if out.killed() {
            self.figures.agent_kills[2] += 1;
            return None;
        }
        if out.code != Some(0) {
            self.figures.failed_syncs += 1;
            assert_eq!(
                out.code,
                Some(2),
                "a sync failure is an error, not a refusal (seed {}): {}{}",
                self.seed,
                out.stdout,
                out.stderr
            );
            return None;
        }
        if trouble == Trouble::None {
            Pace::learn(
                &mut self.pace.sync,
                started.elapsed().as_secs_f64() * 1000.0,
            );
        }
        let summary = out.json()["summary"].clone();
        assert_eq!(
            summary["rejected"], 0,
            "nothing is refused (seed {}): {summary}",
            self.seed
        );
        Some(summary)
    }

    /// Waits for the moment to kill during a sync: a random time into it, or
    /// once a random number of bytes has gone up (a push on its way) or come
    /// down (an answer or a pull page arriving), or the end of the sync if
    /// that comes first. Says which.
    fn await_moment(&mut self, running: &mut Running) -> String {
        let (up, down, _) = self.proxy.traffic().snapshot();
        let started = Instant::now();
        let (deadline, bytes, upwards, what) = match self.faults.below(3) {
            0 => {
                let moment = kill_moment(&mut self.faults, self.pace.sync);
                (moment, u64::MAX, true, format!("{moment:?} in"))
            }
            way => {
                let bytes = self.faults.spread(18);
                let upwards = way == 1;
                let what = format!(
                    "after {bytes} bytes {}",
                    if upwards { "up" } else { "down" }
                );
                (Duration::from_secs(20), bytes, upwards, what)
            }
        };
        loop {
            let (now_up, now_down, _) = self.proxy.traffic().snapshot();
            let moved = if upwards {
                now_up - up
            } else {
                now_down - down
            };
            if moved as u64 >= bytes || started.elapsed() >= deadline || running.ended() {
                return what;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// One step of the soak: an officer imports, registers or syncs.
    fn step(&mut self) {
        self.figures.iterations += 1;
        let f = self.work.below(self.fields.len() as u64) as usize;
        let roll = self.work.below(100);
        let chaos = self.chaos;
        if roll < 50 {
            // Work interrupted by a kill is done again first.
            for work in std::mem::take(&mut self.fields[f].unfinished) {
                let kill = chaos && self.faults.percent(25);
                self.perform(f, &work, kill, true);
            }
        }
        if roll < 30 {
            self.figures.imports += 1;
            // Mostly small files; now and then one of two or three batches.
            let rows = if self.work.percent(5) {
                2_001 + self.work.below(2_000)
            } else {
                1 + self.work.below(250)
            };
            let work = self.new_import(f, rows);
            let kill = chaos && self.faults.percent(35);
            self.perform(f, &work, kill, false);
        } else if roll < 50 {
            for _ in 0..=self.work.below(3) {
                self.figures.registers += 1;
                let work = Work::Register(self.new_person(f));
                let kill = chaos && self.faults.percent(20);
                self.perform(f, &work, kill, false);
            }
        } else {
            let trouble = match chaos.then(|| self.faults.below(100)) {
                Some(0..20) => Trouble::KillAgent,
                Some(20..30) => Trouble::KillServer,
                _ => Trouble::None,
            };
            self.sync(f, trouble);
        }
    }

    /// The network heals: unfinished work is finished, every laptop pushes
    /// until nothing is pending, then every laptop pulls what the others pushed.
    fn heal(&mut self) {
        self.proxy.set_random(None);
        let seed = self.seed;
        for f in 0..self.fields.len() {
            for work in std::mem::take(&mut self.fields[f].unfinished) {
                assert_eq!(self.perform(f, &work, false, true), Ended::Done);
            }
        }
        for round in 0..2 {
            for f in 0..self.fields.len() {
                let mut tries = 0;
                let summary = loop {
                    if let Some(summary) = self.sync(f, Trouble::None)
                        && summary["pending_after"] == 0
                    {
                        break summary;
                    }
                    tries += 1;
                    assert!(
                        tries < 5,
                        "{} is stuck: still pending after {tries} syncs on a healed network \
                         (seed {seed})",
                        self.fields[f].officer.name
                    );
                };
                if round == 1 {
                    assert_eq!(
                        summary["sent"], 0,
                        "everything went in the first round (seed {seed}): {summary}"
                    );
                }
            }
        }
        self.figures.registrations = self.fields.iter().map(|f| f.given.len()).sum();
        self.figures.faults = self.proxy.injected_by_kind();
        let (up, down, connections) = self.proxy.traffic().snapshot();
        (
            self.figures.bytes_up,
            self.figures.bytes_down,
            self.figures.connections,
        ) = (up, down, connections);
    }

    /// Heals, counts, and notes how long each phase took.
    fn finish(&mut self, started: Instant, setup: Duration) -> (usize, usize) {
        let steps = started.elapsed() - setup;
        self.heal();
        let healed = started.elapsed();
        let counted = self.census();
        let census = started.elapsed() - healed;
        self.figures.phases = [setup, steps, healed - setup - steps, census];
        counted
    }

    /// Counts every registration on the server and on every laptop; panics
    /// with the lost and doubled ones. Returns (lost, doubled): both 0.
    fn census(&self) -> (usize, usize) {
        let seed = self.seed;
        // Every registration given to a laptop, by name.
        let given: BTreeMap<&str, &Person> = self
            .fields
            .iter()
            .flat_map(|f| f.given.iter().map(|(name, p)| (name.as_str(), p)))
            .collect();
        let total = given.len();
        let mut lost: Vec<String> = Vec::new();
        let mut doubled: Vec<String> = Vec::new();

        // Each laptop holds what it was given, once: the ids of record.
        let mut ids: BTreeMap<String, &Person> = BTreeMap::new();
        let mut held: Vec<Vec<Value>> = Vec::new();
        for field in &self.fields {
            let who = field.officer.name;
            let check = field.laptop.agent(["check", "--json"]);
            assert_eq!(
                check.code,
                Some(0),
                "{who}'s store is damaged (seed {seed}): {}",
                check.stdout
            );
            let rows = listed(&field.laptop);
            let mut own: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for row in rows
                .iter()
                .filter(|r| r["registered_by_this_laptop"] == true)
            {
                let name = row["full_name"].as_str().unwrap_or_default();
                own.entry(name)
                    .or_default()
                    .push(row["id"].as_str().unwrap_or_default());
            }
            for (name, person) in &field.given {
                match own.get(name.as_str()).map(Vec::as_slice) {
                    None | Some([]) => lost.push(format!("{name} on {who}'s own laptop")),
                    Some([id]) => {
                        ids.insert((*id).to_owned(), person);
                    }
                    Some(many) => doubled.push(format!("{name} {} times on {who}", many.len())),
                }
            }
            for name in own.keys().filter(|name| !field.given.contains_key(**name)) {
                doubled.push(format!("{name}: saved by {who}, but never given to them"));
            }
            held.push(rows);
        }

        // The server holds every record once.
        let on_server = server_rows(&self.central, self.scratch.path());
        let mut server_count: BTreeMap<&str, usize> = BTreeMap::new();
        for (id, name) in &on_server {
            *server_count.entry(id.as_str()).or_default() += 1;
            match ids.get(id) {
                Some(person) => assert_eq!(&person.name, name, "(seed {seed})"),
                None => doubled.push(format!(
                    "{name} ({id}) on the server, unknown to its laptop"
                )),
            }
        }
        for (id, person) in &ids {
            match server_count.get(id.as_str()) {
                None => lost.push(format!("{} on the server", person.name)),
                Some(1) => {}
                Some(n) => doubled.push(format!("{} {n} times on the server", person.name)),
            }
        }

        // Every laptop holds every record in its officer's regions, once,
        // and each NIK as many times as it was registered there.
        for (field, rows) in self.fields.iter().zip(&held) {
            let who = field.officer.name;
            let mut count: BTreeMap<&str, usize> = BTreeMap::new();
            for row in rows {
                let id = row["id"].as_str().unwrap_or_default();
                *count.entry(id).or_default() += 1;
                if !ids.contains_key(id) {
                    doubled.push(format!("{} ({id}) on {who}, unknown", row["full_name"]));
                }
            }
            for (id, person) in ids.iter().filter(|(_, p)| field.officer.covers(p.village)) {
                match count.get(id.as_str()) {
                    None => lost.push(format!("{} on {who}'s laptop", person.name)),
                    Some(1) => {}
                    Some(n) => doubled.push(format!("{} {n} times on {who}", person.name)),
                }
            }
            let expected_niks = count_by(
                ids.values()
                    .filter(|p| field.officer.covers(p.village))
                    .map(|p| p.nik.clone()),
            );
            let niks = count_by(exported_niks(&field.laptop, self.scratch.path()).into_iter());
            assert_eq!(
                niks, expected_niks,
                "NIK counts on {who}'s laptop (seed {seed})"
            );
            let pending =
                field.laptop.agent(["status", "--json"]).json()["status"]["pending_changes"]
                    .clone();
            assert_eq!(pending, 0, "{who} has nothing pending (seed {seed})");
        }

        let stats = self.central.stats();
        println!("server: {stats}");
        for key in ["records", "active_records", "operations"] {
            assert_eq!(
                stats[key].as_u64(),
                Some(total as u64),
                "{key} on the server (seed {seed})"
            );
        }
        assert_eq!(stats["rejections"], 0, "(seed {seed})");
        assert_eq!(
            stats["records_in_duplicate_groups"], 2,
            "only the NIK registered on two laptops is a duplicate (seed {seed})"
        );
        assert!(
            lost.is_empty() && doubled.is_empty(),
            "{} lost, {} doubled (seed {seed}; LINDUNG_SOAK_SEED={seed} replays it):\n{}",
            lost.len(),
            doubled.len(),
            lost.iter()
                .chain(&doubled)
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        (lost.len(), doubled.len())
    }
}

/// Every registration a laptop holds, as `list --json` prints them.
fn listed(laptop: &Laptop) -> Vec<Value> {
    let out = laptop.agent(["list", "--json", "--limit", "1000000"]);
    assert_eq!(out.code, Some(0), "list: {}{}", out.stdout, out.stderr);
    out.json().as_array().cloned().expect("a list")
}

/// The full NIK of every registration a laptop holds (its own export).
fn exported_niks(laptop: &Laptop, scratch: &std::path::Path) -> Vec<String> {
    let path = scratch.join("laptop-export.csv");
    let out = laptop.agent(["export".as_ref(), path.as_os_str()]);
    assert_eq!(out.code, Some(0), "export: {}{}", out.stdout, out.stderr);
    csv::Reader::from_path(&path)
        .expect("the export reads")
        .records()
        .map(|row| row.expect("a row")[0].to_owned())
        .collect()
}

/// (record id, full name) of every active registration on the server
/// (`lindung-server export registrations`).
fn server_rows(central: &Central, scratch: &std::path::Path) -> Vec<(String, String)> {
    let path = scratch.join("server-export.csv");
    let out = central.admin([
        "export".as_ref(),
        "registrations".as_ref(),
        "--region".as_ref(),
        "13".as_ref(),
        "--format".as_ref(),
        "csv".as_ref(),
        "--output".as_ref(),
        path.as_os_str(),
    ]);
    assert_eq!(out.code, Some(0), "export: {}{}", out.stdout, out.stderr);
    csv::Reader::from_path(&path)
        .expect("the export reads")
        .records()
        .map(|row| {
            let row = row.expect("a row");
            (row[0].to_owned(), row[2].to_owned())
        })
        .collect()
}

fn count_by(items: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_default() += 1;
    }
    counts
}

/// Prints a panic's seed even when it comes from a helper's assertion.
struct SeedOnFailure(u64);

impl Drop for SeedOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("chaos soak failed: LINDUNG_SOAK_SEED={} replays it", self.0);
        }
    }
}

fn report(label: &str, figures: &Figures) {
    let [imports, registers, syncs] = figures.agent_kills;
    let faults: Vec<String> = figures
        .faults
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    let [setup, steps, heal, census] = figures.phases.map(|d| d.as_secs_f64());
    println!(
        "{label}: setup {setup:.1} s, steps {steps:.1} s, healing {heal:.1} s, census {census:.1} s"
    );
    println!(
        "{label}: {} iterations ({} imports, {} registrations typed, {} syncs, {} failed) in {:.1} s; \
         agent kills {} (import {imports}, register {registers}, sync {syncs}), server kills {}; \
         faults {} ({}); {} registrations; {} connections, {} bytes up, {} down",
        figures.iterations,
        figures.imports,
        figures.registers,
        figures.syncs,
        figures.failed_syncs,
        figures.phases.iter().sum::<Duration>().as_secs_f64(),
        imports + registers + syncs,
        figures.server_kills,
        figures.faults.iter().map(|(_, n)| n).sum::<usize>(),
        faults.join(", "),
        figures.registrations,
        figures.connections,
        figures.bytes_up,
        figures.bytes_down,
    );
}

#[test]
fn chaos_soak_loses_and_doubles_no_registration() {
    let seed = seed_from_env("LINDUNG_SOAK_SEED");
    let seconds = env_number("LINDUNG_SOAK_SECONDS").unwrap_or(3);
    println!("chaos soak seed {seed}, {seconds} s: LINDUNG_SOAK_SEED={seed} replays it");
    let _guard = SeedOnFailure(seed);

    let started = Instant::now();
    let mut soak = Run::start(seed, true);
    let setup = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        soak.step();
    }
    let (lost, doubled) = soak.finish(started, setup);
    report("soak", &soak.figures);

    // The same work without faults or kills: what it costs on a good day.
    let started = Instant::now();
    let mut clean = Run::start(seed, false);
    let setup = started.elapsed();
    for _ in 0..soak.figures.iterations {
        clean.step();
    }
    clean.finish(started, setup);
    report("clean replay", &clean.figures);
    assert_eq!(
        clean.figures.registrations, soak.figures.registrations,
        "the replay did the same work (seed {seed})"
    );
    let resent = soak.figures.bytes() as i64 - clean.figures.bytes() as i64;
    println!(
        "lost {lost}, doubled {doubled}; bytes through the proxy: soak {}, clean {}, resent {resent} ({:+.1} %)",
        soak.figures.bytes(),
        clean.figures.bytes(),
        100.0 * resent as f64 / clean.figures.bytes().max(1) as f64
    );
}
