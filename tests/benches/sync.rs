//! Sync benchmark: the PouchDB peer's workload (`../shared/peer/pouchdb/gen.js`,
//! ported below with the same seeded generator, so the documents are the
//! same), through the agent's real sync code to a real release
//! `lindung-server` on 127.0.0.1, with a counting proxy in between (bytes are
//! request and status lines, headers and bodies, as the peer counts them).
//!
//! ```sh
//! cargo build --release -p lindung-server -p lindung-agent
//! cargo bench -p lindung-tests --bench sync                 # SQLite, and PostgreSQL when
//! LINDUNG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p lindung-tests --bench sync
//! ```
//!
//! Options (environment): `BENCH_N` (10000), `BENCH_CLIENTS` (200),
//! `BENCH_PER_CLIENT` (500). Prints one JSON line per scenario.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use lindung_agent::store::{KdfCost, Store};
use lindung_agent::sync::{self, SyncSummary};
use lindung_shared::ids::RecordId;
use lindung_shared::region::regions;
use lindung_shared::registration::{Change, Origin};
use lindung_shared::validation::{RegistrationInput, ValidationContext, validate_registration};
use lindung_tests::central::{Central, fresh_postgres};
use lindung_tests::fault_proxy::FaultProxy;
use time::OffsetDateTime;

/// mulberry32, exactly as gen.js.
struct Rng(u32);

impl Rng {
    fn float(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x6d2b_79f5);
        let mut t = self.0;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        f64::from(t ^ (t >> 14)) / 4_294_967_296.0
    }
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.float() * (hi - lo + 1) as f64).floor() as i64
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.float() * items.len() as f64).floor() as usize]
    }
    fn uuid(&mut self) -> uuid::Uuid {
        let mut b = [0u8; 16];
        for byte in &mut b {
            *byte = (self.float() * 256.0).floor() as u8;
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        uuid::Uuid::from_bytes(b)
    }
}

const FIRST: &[&str] = &[
    "Ahmad", "Budi", "Siti", "Dewi", "Agus", "Rina", "Hendra", "Nur", "Yusuf", "Sri", "Andi",
    "Wahyu", "Fitri", "Rahmat", "Ika", "Joko", "Lestari", "Bambang", "Putri", "Dedi",
];
const LAST: &[&str] = &[
    "Saputra",
    "Hidayat",
    "Rahmawati",
    "Santoso",
    "Wijaya",
    "Lubis",
    "Nasution",
    "Siregar",
    "Harahap",
    "Pratama",
    "Kurniawan",
    "Syahputra",
    "Fauzi",
    "Hasibuan",
    "Tanjung",
];
const VILLAGES: &[&str] = &[
    "1311012001",
    "1311012002",
    "1311012003",
    "1311022001",
    "1311022004",
    "1311032002",
    "1311042001",
    "1311052003",
    "1371011001",
    "1371021005",
];
const CATEGORIES: &[&str] = &["rt_head", "rw_head", "fisherman", "street_vendor"];
const FUNDING: &[&str] = &["APBD", "APBDes", "CSR", "Baznas", "self"];

/// gen.js `makeWorker`, as a registration input and its record id.
fn make_worker(rng: &mut Rng, serial: u64) -> (RecordId, RegistrationInput, OffsetDateTime) {
    let village = rng.pick(VILLAGES);
    let female = rng.float() >= 0.5;
    let year = rng.int(1960, 2005);
    let month = rng.int(1, 12);
    let day = rng.int(1, 28);
    let nik_day = if female { day + 40 } else { day };
    let nik = format!(
        "{}{nik_day:02}{month:02}{:02}{:04}",
        &village[..6],
        year % 100,
        serial % 9999 + 1
    );
    let id = rng.uuid();
    let registered_at =
        OffsetDateTime::from_unix_timestamp(1_735_689_600 + rng.int(0, 300 * 86_400))
            .expect("a 2025 date");
    let full_name = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
    let phone = format!(
        "08{:09}{:02}",
        rng.int(100_000_000, 999_999_999),
        rng.int(0, 99)
    );
    let rt = rng.int(1, 20);
    let rw = rng.int(1, 12);
    let category = rng.pick(CATEGORIES);
    let funding = rng.pick(FUNDING);
    let input = RegistrationInput {
        nik,
        full_name,
        birth_date: format!("{year}-{month:02}-{day:02}"),
        sex: if female { "P" } else { "L" }.into(),
        phone,
        village_code: village.into(),
        rt: rt.to_string(),
        rw: rw.to_string(),
        category: category.into(),
        payer: funding.into(),
        payer_name: if matches!(funding, "CSR" | "Baznas") {
            format!("{funding} Solok Selatan")
        } else {
            String::new()
        },
        consent_method: "signed_form".into(),
        ..RegistrationInput::default()
    };
    (RecordId(id), input, registered_at)
}

/// A laptop holding `count` registrations of client `client` (gen.js `makeWorkers`).
fn laptop(dir: &std::path::Path, count: usize, client: u32) -> (Store, usize) {
    let now = OffsetDateTime::now_utc();
    let mut store = Store::init(
        dir,
        "Petugas Bench",
        "bench-passphrase",
        KdfCost::InsecureFast,
        now,
    )
    .expect("store");
    let mut rng = Rng(20_250_101 + client * 7919);
    let context = ValidationContext {
        regions: regions(),
        today: now.date(),
        now,
    };
    let mut batch = Vec::with_capacity(count);
    for serial in 0..count as u64 {
        let (id, input, registered_at) = make_worker(&mut rng, serial);
        let Ok(valid) = validate_registration(&input, &context) else {
            continue;
        };
        let registration = valid.into_registration(
            id,
            Origin {
                officer_id: store.officer_id(),
                device_id: store.device_id(),
                registered_at,
            },
        );
        batch.push((id, registration.to_changes()));
    }
    let made = batch.len();
    store.apply_local_batch(batch, now).expect("saved");
    (store, made)
}

/// One scenario's measurements.
struct Measured<'a> {
    scenario: &'a str,
    backend: &'a str,
    n: usize,
    clients: usize,
    wall: f64,
    requests: u64,
}

fn report(m: Measured<'_>, proxy: &FaultProxy, before: (usize, usize, usize)) {
    let Measured {
        scenario,
        backend,
        n,
        clients,
        wall,
        requests,
    } = m;
    let (up, down, connections) = proxy.traffic().snapshot();
    let (up, down, connections) = (up - before.0, down - before.1, connections - before.2);
    let per = |x: usize| if n == 0 { 0.0 } else { x as f64 / n as f64 };
    println!(
        "{}",
        serde_json::json!({
            "scenario": scenario,
            "backend": backend,
            "n_registrations": n,
            "clients": clients,
            "wall_s": (wall * 1000.0).round() / 1000.0,
            "registrations_per_s": if wall > 0.0 { (n as f64 / wall).round() } else { 0.0 },
            "bytes_up": up,
            "bytes_down": down,
            "bytes_per_registration": (per(up + down) * 10.0).round() / 10.0,
            "http_requests": requests,
            "requests_per_1000": if n == 0 { 0.0 } else { (requests as f64 * 1000.0 / n as f64 * 100.0).round() / 100.0 },
            "tcp_connections": connections,
        })
    );
}

fn enroll(central: &Central, store: &mut Store, officer: &str, url: &str) {
    let code = central.enroll_code(officer);
    sync::enroll(store, url, &code, "bench", OffsetDateTime::now_utc()).expect("enrolled");
}

fn sync_now(store: &mut Store) -> SyncSummary {
    sync::sync_once(store, &mut |_| {}, OffsetDateTime::now_utc).expect("sync")
}

fn run(backend: &str, central: Central) {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let per_client: usize = std::env::var("BENCH_PER_CLIENT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let officer = central.add_officer("Petugas Bench", &["13"]);
    let proxy = FaultProxy::start(central.address());
    let work = tempfile::tempdir().expect("temp dir");

    // initial: N registrations, one push.
    let (mut store, made) = laptop(&work.path().join("initial"), n, 0);
    enroll(&central, &mut store, &officer, &proxy.url());
    let before = proxy.traffic().snapshot();
    let started = Instant::now();
    let summary = sync_now(&mut store);
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(summary.accepted as usize, made, "{summary:?}");
    report(
        Measured {
            scenario: "initial",
            backend,
            n: made,
            clients: 1,
            wall,
            requests: summary.requests,
        },
        &proxy,
        before,
    );

    // incremental: 10 % edited (phone and RT), pushed again.
    let mut rng = Rng(4242);
    let listed = store
        .list(&lindung_agent::store::ListFilter {
            limit: None,
            ..Default::default()
        })
        .expect("list");
    let n_edit = made / 10;
    let mut chosen = std::collections::BTreeSet::new();
    while chosen.len() < n_edit {
        chosen.insert(rng.int(0, listed.len() as i64 - 1) as usize);
    }
    let edits: Vec<(RecordId, Vec<Change>)> = chosen
        .iter()
        .map(|&i| {
            let phone = format!("08{}{}", rng.int(100_000_000, 999_999_999), rng.int(10, 99));
            (
                listed[i].registration.id,
                vec![
                    Change::Phone(lindung_shared::phone::normalize_phone(&phone).ok()),
                    Change::Rt(Some(rng.int(1, 20) as u16)),
                ],
            )
        })
        .collect();
    store
        .apply_local_batch(edits, OffsetDateTime::now_utc())
        .expect("edits");
    let before = proxy.traffic().snapshot();
    let started = Instant::now();
    let summary = sync_now(&mut store);
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(summary.accepted as usize, n_edit);
    report(
        Measured {
            scenario: "incremental",
            backend,
            n: n_edit,
            clients: 1,
            wall,
            requests: summary.requests,
        },
        &proxy,
        before,
    );

    // noop: nothing to do.
    let before = proxy.traffic().snapshot();
    let started = Instant::now();
    let summary = sync_now(&mut store);
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(summary.sent + summary.received, 0);
    report(
        Measured {
            scenario: "noop",
            backend,
            n: 0,
            clients: 1,
            wall,
            requests: summary.requests,
        },
        &proxy,
        before,
    );
    drop(store);

    if clients == 0 {
        return;
    }
    // concurrent: many laptops push at once.
    let mut stores = Vec::with_capacity(clients);
    let mut total = 0;
    for client in 0..clients {
        let (mut store, made) = laptop(
            &work.path().join(format!("c{client}")),
            per_client,
            client as u32 + 1,
        );
        enroll(&central, &mut store, &officer, &proxy.url());
        total += made;
        stores.push(store);
    }
    let before = proxy.traffic().snapshot();
    let started = Instant::now();
    let barrier = Arc::new(std::sync::Barrier::new(clients));
    let handles: Vec<_> = stores
        .into_iter()
        .map(|mut store| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                // Push only, as the peer's concurrent scenario: every laptop
                // would otherwise also receive the 99,500 others' registrations.
                sync::push_once(&mut store, OffsetDateTime::now_utc).expect("push")
            })
        })
        .collect();
    let mut requests = 0;
    let mut accepted = 0;
    for handle in handles {
        let summary = handle.join().expect("client thread");
        requests += summary.requests;
        accepted += summary.accepted as usize;
    }
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(accepted, total);
    report(
        Measured {
            scenario: "concurrent",
            backend,
            n: total,
            clients,
            wall,
            requests,
        },
        &proxy,
        before,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    run("sqlite", Central::start());
    match std::env::var("LINDUNG_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let database = fresh_postgres(&url, "lindung_bench");
            run("postgres", Central::start_with_database(&database));
        }
        _ => eprintln!("postgres: skipped (LINDUNG_TEST_POSTGRES_URL is not set)"),
    }
}
