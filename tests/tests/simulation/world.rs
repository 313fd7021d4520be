//! One simulated world: a server, officers with overlapping regions, their
//! agents (real encrypted stores on disk, each with its own clock), the
//! network between them, and the steps a seed decides.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use lindung_agent::store::{KdfCost, ListFilter, POSSIBLE_DUPLICATE, Refusal, Store};
use lindung_agent::sync::{SyncSummary, sync_with};
use lindung_server::duplicates::certain_groups;
use lindung_server::reconcile::{self, How, ReconcileError};
use lindung_server::storage::DuplicateKind;
use lindung_shared::bundle;
use lindung_shared::ids::{DeviceId, OfficerId, RecordId};
use lindung_shared::protocol::{
    BundleKeysRequest, BundleKeysResponse, EnrollRequest, EnrollResponse, PROTOCOL_VERSION,
};
use lindung_shared::region::regions;
use lindung_shared::registration::{Category, Field, Registration, Status};
use lindung_shared::validation::{
    RegistrationInput, ValidRegistration, ValidationContext, validate_registration,
};
use time::OffsetDateTime;

use super::net::{FaultCounts, Link, Network};
use super::rng::Rng;
use super::server::{SimServer, WireRequest};

/// The agents' passphrase (their key derivation is the fast test one).
const PASSPHRASE: &str = "sandi-simulasi-lapangan";
/// Simulated time that passes per step.
const STEP_MS: i64 = 1_000;
/// Most healing rounds (every agent syncs once per round) before the run
/// counts as not converging.
const MAX_HEAL_ROUNDS: u64 = 8;
/// Who staff actions are audited as.
const STAFF: &str = "simulasi";

const FIRST_NAMES: &[&str] = &[
    "Siti",
    "Aminah",
    "Budi",
    "Rahmat",
    "Dewi",
    "Yusuf",
    "Nurhayati",
    "Agus",
    "Rina",
    "Joko",
    "Sri",
    "Hendra",
    "Fitri",
    "Wahyu",
    "Lestari",
    "Bambang",
];
const LAST_NAMES: &[&str] = &[
    "Putri",
    "Saputra",
    "Hasibuan",
    "Siregar",
    "Lubis",
    "Nasution",
    "Harahap",
    "Wijaya",
    "Pratama",
    "Kurniawan",
    "Susanti",
    "Marlina",
];
const PAYERS: &[&str] = &["apbd", "apbdes", "self"];

/// What a run did, for the figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Steps run (healing rounds not included).
    pub steps: u64,
    /// Agents.
    pub agents: u64,
    /// Registrations saved on agents.
    pub registrations: u64,
    /// Of which with a NIK already registered elsewhere.
    pub same_nik: u64,
    /// Edits saved on agents (moves and NIK corrections included).
    pub edits: u64,
    /// Withdrawals and reactivations.
    pub status_changes: u64,
    /// Changes the agent itself refused (NIK already on this laptop).
    pub refused_locally: u64,
    /// Sync runs started during the faulty phase.
    pub syncs: u64,
    /// Of which ended by a fault.
    pub failed_syncs: u64,
    /// Staff decisions applied (conflicts resolved, merges, undos).
    pub staff_actions: u64,
    /// Staff decisions refused as stale or invalid.
    pub staff_refused: u64,
    /// Agents restarted from disk.
    pub agent_restarts: u64,
    /// Server restarts from disk.
    pub server_restarts: u64,
    /// Partitions started.
    pub partitions: u64,
    /// Healing rounds until nothing moved.
    pub heal_rounds: u64,
    /// Operations the server holds at the end (staff ones included).
    pub server_operations: u64,
    /// Operations the server refused (kept on the agents with the reason).
    pub rejections: u64,
    /// Conflicts the server logged.
    pub conflicts: u64,
    /// USB bundles written on laptops.
    pub bundles_written: u64,
    /// Of which lost on the way (never imported).
    pub bundles_lost: u64,
    /// Bundle imports at the server (a bundle imported twice counts twice).
    pub bundle_imports: u64,
    /// Receipts applied on laptops (twice counts twice).
    pub receipts_applied: u64,
    /// Faults injected.
    pub faults: FaultCounts,
}

impl Stats {
    /// Adds another run's figures.
    pub fn add(&mut self, other: &Stats) {
        self.steps += other.steps;
        self.agents += other.agents;
        self.registrations += other.registrations;
        self.same_nik += other.same_nik;
        self.edits += other.edits;
        self.status_changes += other.status_changes;
        self.refused_locally += other.refused_locally;
        self.syncs += other.syncs;
        self.failed_syncs += other.failed_syncs;
        self.staff_actions += other.staff_actions;
        self.staff_refused += other.staff_refused;
        self.agent_restarts += other.agent_restarts;
        self.server_restarts += other.server_restarts;
        self.partitions += other.partitions;
        self.heal_rounds += other.heal_rounds;
        self.server_operations += other.server_operations;
        self.rejections += other.rejections;
        self.conflicts += other.conflicts;
        self.bundles_written += other.bundles_written;
        self.bundles_lost += other.bundles_lost;
        self.bundle_imports += other.bundle_imports;
        self.receipts_applied += other.receipts_applied;
        self.faults.add(&other.faults);
    }
}

/// A field officer and where they work.
#[derive(Debug)]
pub struct Officer {
    /// The server's id.
    pub id: OfficerId,
    /// Region codes they may register in.
    pub regions: Vec<String>,
    /// The villages their agents register in and move people between.
    pub villages: Vec<String>,
}

impl Officer {
    /// Whether a village lies in this officer's regions.
    pub fn covers(&self, village: &str) -> bool {
        self.regions.iter().any(|r| village.starts_with(r.as_str()))
    }
}

/// One laptop.
#[derive(Debug)]
pub struct Agent {
    /// For the log.
    pub name: String,
    /// Index into [`World::officers`].
    pub officer: usize,
    dir: tempfile::TempDir,
    /// The open store (`None` only while restarting).
    pub store: Option<Store>,
    /// How far this laptop's clock is from true time, in milliseconds.
    pub offset_ms: i64,
    /// Unreachable until this step.
    pub partitioned_until: u64,
    /// Its device token.
    pub token: String,
    /// Its device id.
    pub device: DeviceId,
}

impl Agent {
    /// The open store.
    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("store is open")
    }

    fn store_mut(&mut self) -> &mut Store {
        self.store.as_mut().expect("store is open")
    }
}

/// A file on a USB stick on its way: an outbox bundle to the server, or a
/// receipt back to its laptop.
#[derive(Debug)]
pub struct Stick {
    /// The step at which it arrives.
    pub due: u64,
    /// The laptop it comes from or goes to.
    pub agent: usize,
    /// A receipt (for the laptop) rather than an outbox bundle.
    pub receipt: bool,
    /// The file.
    pub bytes: Vec<u8>,
}

/// Everything of one run.
#[derive(Debug)]
pub struct World {
    /// The seed.
    pub seed: u64,
    /// The current step.
    pub step: u64,
    base_ms: i64,
    /// The server.
    pub server: RefCell<SimServer>,
    /// The network.
    pub net: RefCell<Network>,
    /// What happened, step by step.
    pub log: Rc<RefCell<Vec<String>>>,
    /// The officers.
    pub officers: Vec<Officer>,
    /// The laptops.
    pub agents: Vec<Agent>,
    /// Every record registered, in the order of registration (a
    /// deterministic order: record ids are random).
    pub records: Vec<RecordId>,
    /// Every NIK registered, in order.
    niks: Vec<String>,
    /// The figures.
    pub stats: Stats,
    /// USB sticks on their way.
    sticks: Vec<Stick>,
    /// Where the server's database and the agents' stores live.
    dir: tempfile::TempDir,
}

impl World {
    /// Sets up the server, two officers whose regions overlap in one
    /// village, and three or four enrolled agents with their clocks.
    pub fn new(seed: u64, log: Rc<RefCell<Vec<String>>>) -> World {
        let dir = temp_dir();
        let server = SimServer::start(dir.path().join("server.sqlite"));
        // The whole district of Sangir; and one of its villages plus one of
        // Sungai Pagu next door.
        let plans = [
            (
                "Rina Marlina",
                vec!["131101"],
                vec!["1311012001", "1311012002", "1311012003", "1311012004"],
            ),
            (
                "Budi Santoso",
                vec!["1311012004", "1311022001"],
                vec!["1311012004", "1311022001"],
            ),
        ];
        let officers: Vec<Officer> = plans
            .into_iter()
            .map(|(name, regions, villages)| {
                let regions: Vec<String> = regions.into_iter().map(str::to_owned).collect();
                let officer = server
                    .block_on(lindung_server::cli::create_officer(
                        server.storage(),
                        STAFF,
                        name,
                        &regions,
                    ))
                    .expect("officer created");
                Officer {
                    id: officer.id,
                    regions,
                    villages: villages.into_iter().map(str::to_owned).collect(),
                }
            })
            .collect();
        let base_ms = OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let mut world = World {
            seed,
            step: 0,
            base_ms,
            server: RefCell::new(server),
            net: RefCell::new(Network::default()),
            log,
            officers,
            agents: Vec::new(),
            records: Vec::new(),
            niks: Vec::new(),
            stats: Stats::default(),
            sticks: Vec::new(),
            dir,
        };
        let mut rng = Rng::derive(seed, u64::MAX, 0);
        let mut plan = vec![0, 0, 1];
        if rng.chance(50) {
            plan.push(rng.below(2) as usize);
        }
        for (index, officer) in plan.into_iter().enumerate() {
            let offset_ms = match rng.below(10) {
                0..=4 => rng.between(-2_000, 2_000),
                // Ahead, up to a year.
                5 | 6 => rng.between(60_000, 365 * 86_400_000),
                // Behind, up to a year.
                7 | 8 => -rng.between(60_000, 365 * 86_400_000),
                // A little ahead, around the server's five-minute bound.
                _ => rng.between(60_000, 6 * 60_000),
            };
            world.add_agent(index, officer, offset_ms);
        }
        world.stats.agents = world.agents.len() as u64;
        world
    }

    fn add_agent(&mut self, index: usize, officer: usize, offset_ms: i64) {
        let name = format!(
            "{}{}",
            if officer == 0 { "A" } else { "B" },
            1 + self.agents.iter().filter(|a| a.officer == officer).count()
        );
        let dir = tempfile::Builder::new()
            .prefix(&format!("agent-{index}-"))
            .tempdir_in(self.dir.path())
            .expect("agent directory");
        let now = self.time(offset_ms);
        let mut store = Store::init(
            dir.path(),
            "Petugas Simulasi",
            PASSPHRASE,
            KdfCost::InsecureFast,
            now,
        )
        .expect("store created");
        let code = {
            let server = self.server.borrow();
            server
                .block_on(lindung_server::cli::issue_enrollment_code(
                    server.storage(),
                    STAFF,
                    self.officers[officer].id,
                    24,
                ))
                .expect("enrolment code")
                .1
        };
        // Enrolment through the real endpoint, as the client sends it.
        let request = WireRequest::post(
            "/api/v1/enroll",
            None,
            &EnrollRequest {
                protocol: PROTOCOL_VERSION,
                code,
                device_id: store.device_id(),
                device_name: format!("laptop {name}"),
            },
        );
        let answer = self.server.borrow_mut().send(&request);
        assert_eq!(answer.status, 200, "enrolment refused");
        let response: EnrollResponse =
            serde_json::from_slice(&answer.body).expect("enrolment answer");
        // The bundle key, as the agent registers it right after enrolling.
        let signing = store.bundle_signing_key().expect("bundle key");
        let request = WireRequest::post(
            "/api/v1/bundle/keys",
            Some(&response.token),
            &BundleKeysRequest {
                protocol: PROTOCOL_VERSION,
                public_key: bundle::hex(&signing.public_key()),
            },
        );
        let answer = self.server.borrow_mut().send(&request);
        assert_eq!(answer.status, 200, "bundle key refused");
        let keys: BundleKeysResponse =
            serde_json::from_slice(&answer.body).expect("bundle keys answer");
        store
            .save_bundle_secret(
                &bundle::parse_key(&keys.device_secret).expect("secret"),
                &bundle::parse_key(&keys.server_public_key).expect("server key"),
            )
            .expect("bundle keys saved");
        store
            .save_enrollment(
                "sim://lindung",
                &response,
                &lindung_agent::store::ServerTrust::default(),
                now,
            )
            .expect("enrolment saved");
        self.say(format!(
            "setup: agent {name} (officer {}), clock {:+} s",
            if officer == 0 { "A" } else { "B" },
            offset_ms / 1000
        ));
        self.agents.push(Agent {
            name,
            officer,
            device: store.device_id(),
            store: Some(store),
            dir,
            offset_ms,
            partitioned_until: 0,
            token: response.token,
        });
    }

    /// The laptop clock of an agent with this offset, at the current step.
    fn time(&self, offset_ms: i64) -> OffsetDateTime {
        at(self.base_ms + self.step as i64 * STEP_MS + offset_ms)
    }

    fn now(&self, agent: usize) -> OffsetDateTime {
        self.time(self.agents[agent].offset_ms)
    }

    /// Adds a line to the log.
    pub fn say(&self, line: String) {
        self.log.borrow_mut().push(line);
    }

    /// One step: late deliveries due now, then one action chosen by the seed.
    pub fn step(&mut self) {
        let mut rng = Rng::derive(self.seed, self.step, 1);
        let due = self.net.borrow_mut().take_due(Some(self.step));
        for request in due {
            self.say(format!(
                "step {}: late delivery of a {}",
                self.step,
                if request.is_push() { "push" } else { "pull" }
            ));
            self.server.borrow_mut().send(&request);
        }
        self.deliver_sticks(Some(self.step), &mut Rng::derive(self.seed, self.step, 3));
        let agent = rng.below(self.agents.len() as u64) as usize;
        match rng.below(100) {
            0..=27 => self.register(agent, &mut rng),
            28..=45 => self.edit(agent, &mut rng),
            46..=51 => self.toggle_status(agent, &mut rng),
            52..=77 => {
                self.stats.syncs += 1;
                if self.sync(agent, true).is_err() {
                    self.stats.failed_syncs += 1;
                }
            }
            78..=84 => self.staff_action(&mut rng),
            85..=88 => {
                let steps = 1 + rng.below(15);
                self.agents[agent].partitioned_until = self.step + steps;
                self.stats.partitions += 1;
                self.say(format!(
                    "step {}: {} partitioned for {steps} steps",
                    self.step, self.agents[agent].name
                ));
            }
            89..=93 => self.restart_agent(agent),
            94..=96 => {
                self.say(format!("step {}: server restarts", self.step));
                self.server.borrow_mut().restart();
                self.stats.server_restarts += 1;
            }
            97 | 98 => self.write_bundle(agent, &mut rng),
            _ => self.say(format!("step {}: nothing happens", self.step)),
        }
        self.step += 1;
        self.stats.steps += 1;
    }

    fn register(&mut self, agent: usize, rng: &mut Rng) {
        let officer = &self.officers[self.agents[agent].officer];
        let village = rng.pick(&officer.villages).expect("villages").clone();
        let reuse = !self.niks.is_empty() && rng.chance(12);
        let nik = if reuse {
            rng.pick(&self.niks).expect("niks").clone()
        } else {
            new_nik(rng, &village[..6])
        };
        let input = RegistrationInput {
            nik: nik.clone(),
            full_name: person_name(rng),
            village_code: village,
            category: rng
                .pick(Category::ALL)
                .expect("categories")
                .code()
                .to_owned(),
            payer: (*rng.pick(PAYERS).expect("payers")).to_owned(),
            consent_method: "signed_form".into(),
            rt: rng.between(1, 12).to_string(),
            ..RegistrationInput::default()
        };
        let now = self.now(agent);
        let name = self.agents[agent].name.clone();
        let Some(mut valid) = validate(&input, now) else {
            self.say(format!("step {}: {name} typed an invalid form", self.step));
            return;
        };
        let store = self.agents[agent].store_mut();
        let mut saved = store.register(valid.clone(), now).expect("register");
        if let Err(Refusal::ProbableDuplicate(_)) = saved {
            // The officer looks and confirms it is another person.
            valid.confirmed_warnings.push(POSSIBLE_DUPLICATE.to_owned());
            saved = store.register(valid, now).expect("register");
        }
        match saved {
            Ok(registration) => {
                self.records.push(registration.id);
                self.say(format!(
                    "step {}: {name} registers {} in {}{}",
                    self.step,
                    label(&self.records, registration.id),
                    registration.village_code,
                    if reuse {
                        " (a NIK registered before)"
                    } else {
                        ""
                    }
                ));
                self.stats.registrations += 1;
                if reuse {
                    self.stats.same_nik += 1;
                } else {
                    self.niks.push(nik);
                }
            }
            Err(_) => {
                self.stats.refused_locally += 1;
                self.say(format!(
                    "step {}: {name} cannot register: NIK already on this laptop",
                    self.step
                ));
            }
        }
    }

    /// A record this agent holds, complete, in the registration order;
    /// mostly one in its officer's regions.
    fn choose_record(&self, agent: usize, rng: &mut Rng) -> Option<Registration> {
        let listed: BTreeMap<RecordId, Registration> = self.agents[agent]
            .store()
            .list(&ListFilter::default())
            .expect("list")
            .into_iter()
            .map(|l| (l.registration.id, l.registration))
            .collect();
        let held: Vec<&Registration> = self
            .records
            .iter()
            .filter_map(|id| listed.get(id))
            .collect();
        let officer = &self.officers[self.agents[agent].officer];
        let in_scope: Vec<&Registration> = held
            .iter()
            .copied()
            .filter(|r| officer.covers(&r.village_code))
            .collect();
        let prefer_scope = rng.chance(92);
        let pool = if prefer_scope && !in_scope.is_empty() {
            in_scope
        } else {
            held
        };
        // Often one of the latest: colleagues then edit the same people
        // before they sync, which is where conflicts come from.
        let hot = rng.chance(40);
        let pool = if hot && pool.len() > 4 {
            &pool[pool.len() - 4..]
        } else {
            &pool[..]
        };
        rng.pick(pool).map(|r| (*r).clone())
    }

    fn edit(&mut self, agent: usize, rng: &mut Rng) {
        let Some(current) = self.choose_record(agent, rng) else {
            return;
        };
        let officer = &self.officers[self.agents[agent].officer];
        let mut input = RegistrationInput::from_registration(&current);
        let what = match rng.below(10) {
            0..=2 => {
                input.full_name = person_name(rng);
                "name"
            }
            3 => {
                input.phone = format!("0812{:08}", rng.below(100_000_000));
                "phone"
            }
            4 | 5 => {
                input.village_code = rng.pick(&officer.villages).expect("villages").clone();
                "village"
            }
            6 => {
                input.category = rng
                    .pick(Category::ALL)
                    .expect("categories")
                    .code()
                    .to_owned();
                "category"
            }
            7 => {
                input.rt = rng.between(1, 12).to_string();
                input.rw = rng.between(1, 6).to_string();
                "rt/rw"
            }
            8 => {
                input.payer = (*rng.pick(PAYERS).expect("payers")).to_owned();
                input.monthly_income = (rng.between(5, 40) * 100_000).to_string();
                "payer"
            }
            _ => {
                // A NIK correction, sometimes to a NIK registered elsewhere.
                input.nik = if rng.chance(40) && !self.niks.is_empty() {
                    rng.pick(&self.niks).expect("niks").clone()
                } else {
                    new_nik(rng, &current.village_code[..6])
                };
                "nik"
            }
        };
        let now = self.now(agent);
        let name = self.agents[agent].name.clone();
        let Some(valid) = validate(&input, now) else {
            self.say(format!(
                "step {}: {name} typed an invalid {what}",
                self.step
            ));
            return;
        };
        let edited = self.agents[agent]
            .store_mut()
            .edit(&current, &valid, now)
            .expect("edit");
        match edited {
            Ok(Some(op)) => {
                self.stats.edits += 1;
                if input.nik != current.nik.as_str() && !self.niks.contains(&input.nik) {
                    self.niks.push(input.nik.clone());
                }
                self.say(format!(
                    "step {}: {name} edits {} of {} (seq {})",
                    self.step,
                    what,
                    label(&self.records, current.id),
                    op.seq
                ));
            }
            Ok(None) => self.say(format!(
                "step {}: {name} edits {what} of {}: no change",
                self.step,
                label(&self.records, current.id)
            )),
            Err(_) => {
                self.stats.refused_locally += 1;
                self.say(format!(
                    "step {}: {name} cannot correct the NIK of {}: already on this laptop",
                    self.step,
                    label(&self.records, current.id)
                ));
            }
        }
    }

    fn toggle_status(&mut self, agent: usize, rng: &mut Rng) {
        let Some(current) = self.choose_record(agent, rng) else {
            return;
        };
        let status = match current.status {
            Status::Active => Status::Withdrawn {
                reason: "pindah ke luar desa".into(),
            },
            Status::Withdrawn { .. } => Status::Active,
        };
        let now = self.now(agent);
        let op = self.agents[agent]
            .store_mut()
            .set_status(current.id, status.clone(), now)
            .expect("status");
        self.stats.status_changes += 1;
        self.say(format!(
            "step {}: {} sets {} {} (seq {})",
            self.step,
            self.agents[agent].name,
            label(&self.records, current.id),
            if status == Status::Active {
                "active"
            } else {
                "withdrawn"
            },
            op.seq
        ));
    }

    /// One sync run of an agent: through the faulty network, or a healthy one.
    pub fn sync(&mut self, agent: usize, faulty: bool) -> Result<SyncSummary, String> {
        let offset = self.agents[agent].offset_ms;
        let moment = self.time(offset);
        let link = Link {
            server: &self.server,
            net: &self.net,
            token: self.agents[agent].token.clone(),
            faults: faulty.then(|| RefCell::new(Rng::derive(self.seed, self.step, 2))),
            partitioned: self.agents[agent].partitioned_until > self.step,
            step: self.step,
            log: &self.log,
        };
        let store = self.agents[agent].store.as_mut().expect("store is open");
        let result = sync_with(store, &link, &mut |_| {}, || moment);
        let name = &self.agents[agent].name;
        match result {
            Ok(summary) => {
                self.say(format!(
                    "step {}: {name} syncs: sent {}, accepted {}, duplicates {}, rejected {}, bounded {}, received {}",
                    self.step,
                    summary.sent,
                    summary.accepted,
                    summary.duplicates,
                    summary.rejected,
                    summary.bounded,
                    summary.received
                ));
                Ok(summary)
            }
            Err(error) => {
                self.say(format!("step {}: {name} sync fails: {error}", self.step));
                Err(error.to_string())
            }
        }
    }

    /// No signal: the laptop writes its outbox to a USB stick, which
    /// reaches the office some steps later, or is lost.
    fn write_bundle(&mut self, agent: usize, rng: &mut Rng) {
        let now = self.now(agent);
        let name = self.agents[agent].name.clone();
        let sealed = lindung_agent::bundle::seal_outbox(self.agents[agent].store(), now)
            .expect("a bundle is written");
        let Some(sealed) = sealed else {
            self.say(format!(
                "step {}: {name} has nothing for a USB stick",
                self.step
            ));
            return;
        };
        self.stats.bundles_written += 1;
        if rng.chance(15) {
            self.stats.bundles_lost += 1;
            self.say(format!(
                "step {}: {name} writes a bundle of {} changes; the stick is lost",
                self.step, sealed.operations
            ));
            return;
        }
        let due = self.step + 1 + rng.below(20);
        self.say(format!(
            "step {}: {name} writes a bundle of {} changes, at the office at step {due}",
            self.step, sealed.operations
        ));
        self.sticks.push(Stick {
            due,
            agent,
            receipt: false,
            bytes: sealed.bytes,
        });
    }

    /// Sticks due by `step` (all of them with `None`) arrive: bundles are
    /// imported at the office (sometimes twice) and their receipts set off
    /// back, or are lost; receipts are applied on their laptop (sometimes
    /// twice).
    fn deliver_sticks(&mut self, step: Option<u64>, rng: &mut Rng) {
        loop {
            let Some(index) = self
                .sticks
                .iter()
                .position(|stick| step.is_none_or(|step| stick.due <= step))
            else {
                return;
            };
            let stick = self.sticks.remove(index);
            let name = self.agents[stick.agent].name.clone();
            let times = if rng.chance(15) { 2 } else { 1 };
            if stick.receipt {
                let now = self.now(stick.agent);
                for time in 0..times {
                    let store = self.agents[stick.agent].store_mut();
                    let applied = lindung_agent::bundle::apply_receipt(store, &stick.bytes, now)
                        .unwrap_or_else(|e| panic!("{name} refuses its receipt: {e}"));
                    assert_eq!(
                        applied.applied_before.is_some(),
                        time > 0,
                        "a receipt applied twice says so the second time"
                    );
                    self.stats.receipts_applied += 1;
                    self.say(format!(
                        "step {}: {name} applies a receipt: accepted {}, duplicates {}, rejected {}{}",
                        self.step,
                        applied.tally.accepted,
                        applied.tally.duplicates,
                        applied.tally.rejected,
                        if time > 0 { " (again)" } else { "" }
                    ));
                }
                continue;
            }
            let mut receipt = None;
            for time in 0..times {
                let (bytes, again) = self
                    .server
                    .borrow_mut()
                    .import_bundle(&stick.bytes)
                    .unwrap_or_else(|e| panic!("the office refuses {name}'s bundle: {e}"));
                assert_eq!(again, time > 0, "an import twice says so the second time");
                self.stats.bundle_imports += 1;
                self.say(format!(
                    "step {}: the office imports {name}'s bundle{}",
                    self.step,
                    if again { " again" } else { "" }
                ));
                receipt = Some(bytes);
            }
            if rng.chance(10) {
                self.say(format!("step {}: {name}'s receipt is lost", self.step));
                continue;
            }
            self.sticks.push(Stick {
                due: step.map_or(0, |step| step + 1 + rng.below(20)),
                agent: stick.agent,
                receipt: true,
                bytes: receipt.expect("imported at least once"),
            });
        }
    }

    fn restart_agent(&mut self, agent: usize) {
        let entry = &mut self.agents[agent];
        entry.store = None;
        entry.store = Some(Store::open(entry.dir.path(), PASSPHRASE).expect("store reopens"));
        let line = format!("step {}: {} restarts", self.step, entry.name);
        self.stats.agent_restarts += 1;
        self.say(line);
    }

    fn staff_action(&mut self, rng: &mut Rng) {
        let server = self.server.borrow();
        let storage = server.storage();
        let (what, result): (String, Result<(), ReconcileError>) = match rng.below(3) {
            0 => {
                let open = server
                    .block_on(storage.conflicts("", false, 200))
                    .expect("conflicts");
                let Some(conflict) = rng.pick(&open) else {
                    return;
                };
                let how = match rng.below(3) {
                    0 => How::Keep,
                    1 => How::TakeOther,
                    _ if conflict.field == Field::FullName => How::New(person_name(rng)),
                    _ => How::Keep,
                };
                (
                    format!("resolves conflict {} ({how:?})", conflict.id),
                    server
                        .block_on(reconcile::resolve_conflict(
                            storage,
                            STAFF,
                            conflict.id,
                            how,
                        ))
                        .map(|_| ()),
                )
            }
            1 => {
                let candidates = server
                    .block_on(storage.duplicate_candidates("", DuplicateKind::Certain))
                    .expect("duplicates");
                let groups = certain_groups(candidates);
                let Some(group) = rng.pick(&groups) else {
                    return;
                };
                let mut members: Vec<RecordId> =
                    group.members.iter().map(|m| m.record_id).collect();
                // Registration order, not id order: the same choice on a replay.
                members.sort_by_key(|id| self.records.iter().position(|r| r == id));
                let keep = members.remove(rng.below(members.len() as u64) as usize);
                (
                    format!(
                        "merges {} into {}",
                        members
                            .iter()
                            .map(|m| label(&self.records, *m))
                            .collect::<Vec<_>>()
                            .join(", "),
                        label(&self.records, keep)
                    ),
                    server
                        .block_on(reconcile::merge_duplicates(
                            storage,
                            STAFF,
                            keep,
                            &members,
                            &[],
                        ))
                        .map(|_| ()),
                )
            }
            _ => {
                let merges = server.block_on(storage.merges(200)).expect("merges");
                let open: Vec<i64> = merges
                    .iter()
                    .filter(|m| m.undone.is_none())
                    .map(|m| m.id)
                    .collect();
                let Some(&id) = rng.pick(&open) else {
                    return;
                };
                (
                    format!("undoes merge {id}"),
                    server
                        .block_on(reconcile::undo_merge(storage, STAFF, id))
                        .map(|_| ()),
                )
            }
        };
        drop(server);
        match result {
            Ok(()) => {
                self.stats.staff_actions += 1;
                self.say(format!("step {}: staff {what}", self.step));
            }
            Err(ReconcileError::Storage(error)) => {
                panic!("staff action failed in the storage: {error}")
            }
            Err(refused) => {
                self.stats.staff_refused += 1;
                self.say(format!(
                    "step {}: staff {what}: refused ({})",
                    self.step,
                    refused.to_string().lines().next().unwrap_or("")
                ));
            }
        }
    }

    /// The end of the faults: late requests arrive, partitions heal, and
    /// every agent syncs until a whole round moves nothing. `Err` when a
    /// sync fails on the healthy network or nothing settles.
    pub fn heal(&mut self) -> Result<(), String> {
        let due = self.net.borrow_mut().take_due(None);
        self.say(format!("heal: {} late deliveries", due.len()));
        for request in due {
            self.server.borrow_mut().send(&request);
        }
        // Every stick still on its way arrives, late.
        self.deliver_sticks(None, &mut Rng::derive(self.seed, self.step, 3));
        for agent in &mut self.agents {
            agent.partitioned_until = 0;
        }
        for round in 1..=MAX_HEAL_ROUNDS {
            self.step += 1;
            let mut moved = false;
            for agent in 0..self.agents.len() {
                let summary = self.sync(agent, false).map_err(|error| {
                    format!(
                        "agent {} cannot sync on a healthy network: {error}",
                        self.agents[agent].name
                    )
                })?;
                moved |= summary.sent + summary.received + summary.duplicate_notices > 0;
            }
            self.stats.heal_rounds = round;
            if !moved {
                return Ok(());
            }
        }
        Err(format!(
            "still moving after {MAX_HEAL_ROUNDS} healthy rounds"
        ))
    }
}

/// A temporary directory, in memory when the machine offers one (the stores
/// sync every commit to disk; the simulation is about logic, not disks).
fn temp_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let builder = {
        let mut builder = tempfile::Builder::new();
        builder.prefix("lindung-sim-");
        builder
    };
    if shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(shm)
    {
        return dir;
    }
    builder.tempdir().expect("temporary directory")
}

fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).expect("time in range")
}

/// Validates a form as the agent does at `now`, keeping a confirmed probable duplicate.
fn validate(input: &RegistrationInput, now: OffsetDateTime) -> Option<ValidRegistration> {
    let context = ValidationContext {
        regions: regions(),
        today: now.date(),
        now,
    };
    let mut valid = validate_registration(input, &context).ok()?;
    if input
        .confirmed_warnings
        .iter()
        .any(|c| c == POSSIBLE_DUPLICATE)
        && !valid
            .confirmed_warnings
            .iter()
            .any(|c| c == POSSIBLE_DUPLICATE)
    {
        valid.confirmed_warnings.push(POSSIBLE_DUPLICATE.to_owned());
        valid.confirmed_warnings.sort();
    }
    Some(valid)
}

/// A valid NIK issued in `district` (six digits): a birth date between 1970
/// and 1999 (day + 40 for a woman) and a serial number.
fn new_nik(rng: &mut Rng, district: &str) -> String {
    let day = rng.between(1, 28) + if rng.chance(50) { 40 } else { 0 };
    let month = rng.between(1, 12);
    let year = rng.between(70, 99);
    let serial = rng.between(1, 9999);
    format!("{district}{day:02}{month:02}{year:02}{serial:04}")
}

fn person_name(rng: &mut Rng) -> String {
    format!(
        "{} {}",
        rng.pick(FIRST_NAMES).expect("names"),
        rng.pick(LAST_NAMES).expect("names")
    )
}

/// A record's name in the log and in failures: `R` and its place in the
/// registration order (record ids are random, so they differ on a replay).
pub fn label(records: &[RecordId], id: RecordId) -> String {
    records
        .iter()
        .position(|r| *r == id)
        .map_or_else(|| "R?".to_owned(), |i| format!("R{i}"))
}
