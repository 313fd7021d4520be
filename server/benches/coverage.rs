//! Coverage benchmark (issue 5): a full recompute over many registrations
//! spread over every village, and the national drill-down staff run.
//!
//! ```sh
//! cargo bench -p lindung-server --bench coverage                  # SQLite, 10,000,000 records
//! BENCH_RECORDS=1000000 cargo bench -p lindung-server --bench coverage
//! LINDUNG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench -p lindung-server --bench coverage              # and PostgreSQL
//! ```
//!
//! The store is filled with SQL, not through pushes (that path has its own
//! benchmark): `records` rows with what coverage reads (NIK, village,
//! active, category, payer, first-stored time) and a small JSON state.
//! Record `i` (0-based, ids in `i` order like UUIDv7) lives in village
//! `(i × 7919) mod V` of the V villages of the embedded region table (so
//! every village is used, ~120 records each at 10 M), has category `i mod 6`,
//! a payer that follows the category (one in ten self-paid), was first
//! stored evenly over the 365 days before now (~8 % in the last 30 days);
//! every hundredth record registers again the person of record `i − 37`
//! (1 % duplicate NIKs, mostly in another village) and one in 997 is
//! withdrawn. Reference rows exist for every province and regency.
//!
//! The secondary indexes of `records` are dropped during the load and
//! recreated with their own definitions afterwards (a load detail: the
//! product's indexes and queries are what is measured). PostgreSQL gets a
//! `VACUUM ANALYZE` after the load, as autovacuum would (it vacuums a table
//! once a fifth of it is newly inserted, which marks its pages
//! all-visible); SQLite none (the product does not run one).
//!
//! Prints one JSON line per figure on stdout; progress on stderr.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use lindung_server::reference::ReferenceRow;
use lindung_server::report::{region_coverage, regions_at, regions_coverage};
use lindung_server::storage::{DatabaseUrl, Storage, open};
use lindung_shared::region::Level;
use time::OffsetDateTime;

/// Records when `BENCH_RECORDS` is not set.
const DEFAULT_RECORDS: u64 = 10_000_000;
/// Timed runs of each drill-down query (the median is reported).
const DRILL_RUNS: usize = 7;
/// First stored over this many days before now.
const SPREAD_DAYS: i64 = 365;

/// The record-generating `SELECT`, shared by both backends: `{n}` is the
/// row-number column, `{since}`/`{step}` the first-stored start and step,
/// `{villages}` the number of villages; `v` is the village table.
fn generated_columns(fmt_hex: &str, fmt_nik: &str) -> String {
    format!(
        "{fmt_hex}, '{{}}', v.code, {fmt_nik},
         CASE WHEN n % 997 = 5 THEN {inactive} ELSE {active} END, n + 1,
         CASE n % 6 WHEN 0 THEN 'rt_head' WHEN 1 THEN 'fisherman' WHEN 2 THEN 'farmer'
                    WHEN 3 THEN 'street_vendor' WHEN 4 THEN 'village_official'
                    ELSE 'ojek_driver' END,
         CASE WHEN n % 10 = 3 THEN 'self'
              ELSE CASE n % 6 WHEN 0 THEN 'apbd' WHEN 4 THEN 'apbdes' WHEN 1 THEN 'csr'
                              ELSE 'apbd' END END",
        inactive = "FALSE",
        active = "TRUE",
    )
}

#[derive(Clone, Copy)]
struct Plan {
    records: u64,
    now: OffsetDateTime,
}

impl Plan {
    fn first_ms(&self) -> i64 {
        ms(self.now) - SPREAD_DAYS * 86_400_000
    }

    fn step_ms(&self) -> i64 {
        (SPREAD_DAYS * 86_400_000) / i64::try_from(self.records.max(1)).unwrap()
    }
}

fn ms(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap()
}

fn figure(backend: &str, name: &str, records: u64, seconds: f64, extra: serde_json::Value) {
    let mut line = serde_json::json!({
        "bench": "coverage",
        "backend": backend,
        "figure": name,
        "records": records,
        "seconds": (seconds * 1e4).round() / 1e4,
        "ms": (seconds * 1e6).round() / 1e3,
    });
    if let (Some(line), serde_json::Value::Object(extra)) = (line.as_object_mut(), extra) {
        line.extend(extra);
    }
    println!("{line}");
}

fn main() {
    let records = std::env::var("BENCH_RECORDS")
        .ok()
        .map(|v| {
            v.replace(['_', ','], "")
                .parse()
                .expect("BENCH_RECORDS: a number")
        })
        .unwrap_or(DEFAULT_RECORDS);
    let villages: Vec<String> = regions_at("", Level::Village)
        .into_iter()
        .map(|(code, _)| code)
        .collect();
    eprintln!("{records} records over {} villages", villages.len());
    let plan = Plan {
        records,
        now: OffsetDateTime::now_utc(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let only = std::env::var("BENCH_BACKEND").unwrap_or_default();
    if only.is_empty() || only == "sqlite" {
        runtime.block_on(sqlite(plan, &villages));
    }
    if only.is_empty() || only == "postgres" {
        match std::env::var("LINDUNG_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => runtime.block_on(postgres(plan, &villages, &url)),
            _ => eprintln!("PostgreSQL skipped: LINDUNG_TEST_POSTGRES_URL is not set"),
        }
    }
}

/// Reference rows for every province and regency (what staff import).
fn reference_rows(year: i32) -> Vec<ReferenceRow> {
    let mut rows = Vec::new();
    for level in [Level::Province, Level::Regency] {
        for (code, _) in regions_at("", level) {
            rows.push(ReferenceRow {
                year,
                region_code: code,
                working_population: Some(if level == Level::Province {
                    2_000_000
                } else {
                    150_000
                }),
                baseline: Some(if level == Level::Province {
                    600_000
                } else {
                    40_000
                }),
                target_bp: Some(4_000),
                category_denominators: Default::default(),
            });
        }
    }
    rows
}

/// The regency with the most villages.
fn largest_regency() -> String {
    regions_at("", Level::Regency)
        .into_iter()
        .max_by_key(|(code, _)| regions_at(code, Level::Village).len())
        .map(|(code, _)| code)
        .expect("regencies")
}

async fn measure(backend: &str, plan: Plan, storage: Arc<dyn Storage>) {
    let records = plan.records;
    let rows = reference_rows(plan.now.year());
    storage.replace_reference(&rows).await.expect("reference");

    for run in ["first (counts empty)", "again (replacing)"] {
        eprintln!("{backend}: recompute, {run}");
        let started = Instant::now();
        let persons = storage.recompute_coverage().await.expect("recompute");
        figure(
            backend,
            "recompute_coverage",
            records,
            started.elapsed().as_secs_f64(),
            serde_json::json!({ "run": run, "persons": persons }),
        );
    }

    let regency = largest_regency();
    let year = plan.now.year();
    let now = plan.now;
    let cases: Vec<(String, String, Level)> = vec![
        (
            "drill_down_provinces".into(),
            String::new(),
            Level::Province,
        ),
        (
            "drill_down_villages".into(),
            regency.clone(),
            Level::Village,
        ),
        (
            "drill_down_villages_1311".into(),
            "1311".into(),
            Level::Village,
        ),
    ];
    for (name, code, level) in cases {
        let mut times = Vec::new();
        let mut listed = 0;
        for _ in 0..DRILL_RUNS {
            let started = Instant::now();
            let rows = regions_coverage(storage.as_ref(), &code, level, year, true, now)
                .await
                .expect("listing");
            times.push(started.elapsed());
            listed = rows.len();
        }
        report_times(
            backend,
            &name,
            records,
            &mut times,
            serde_json::json!({ "region": code, "rows": listed }),
        );
        // The two storage queries of the listing, apart.
        let since = ms(now - time::Duration::days(30));
        let mut persons_times = Vec::new();
        let mut pace_times = Vec::new();
        for _ in 0..DRILL_RUNS {
            let started = Instant::now();
            storage
                .persons_by_region(&code, level.code_len())
                .await
                .expect("persons");
            persons_times.push(started.elapsed());
            let started = Instant::now();
            storage
                .pace_by_region(&code, level.code_len(), since)
                .await
                .expect("pace");
            pace_times.push(started.elapsed());
        }
        report_times(
            backend,
            &format!("{name}.persons_by_region"),
            records,
            &mut persons_times,
            serde_json::json!({ "region": code }),
        );
        report_times(
            backend,
            &format!("{name}.pace_by_region"),
            records,
            &mut pace_times,
            serde_json::json!({ "region": code }),
        );
    }
    for code in [String::new(), regency] {
        let mut times = Vec::new();
        for _ in 0..DRILL_RUNS {
            let started = Instant::now();
            region_coverage(storage.as_ref(), &code, year, true, now)
                .await
                .expect("coverage");
            times.push(started.elapsed());
        }
        report_times(
            backend,
            "region_coverage",
            records,
            &mut times,
            serde_json::json!({ "region": code }),
        );
    }
}

fn report_times(
    backend: &str,
    name: &str,
    records: u64,
    times: &mut [Duration],
    extra: serde_json::Value,
) {
    times.sort();
    let median = times[times.len() / 2];
    let mut extra = extra;
    if let Some(object) = extra.as_object_mut() {
        object.insert(
            "min_ms".into(),
            serde_json::json!((times[0].as_secs_f64() * 1e6).round() / 1e3),
        );
        object.insert(
            "max_ms".into(),
            serde_json::json!((times[times.len() - 1].as_secs_f64() * 1e6).round() / 1e3),
        );
        object.insert("runs".into(), serde_json::json!(times.len()));
        object.insert("of".into(), serde_json::json!("median"));
    }
    figure(backend, name, records, median.as_secs_f64(), extra);
}

async fn sqlite(plan: Plan, villages: &[String]) {
    let base = std::env::var_os("BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("lindung_bench_")
        .tempdir_in(base)
        .expect("temp dir");
    // BENCH_SQLITE_PATH keeps the store (and reuses it when it exists).
    let kept = std::env::var_os("BENCH_SQLITE_PATH").map(std::path::PathBuf::from);
    let reuse = kept.as_ref().is_some_and(|path| path.exists());
    let path = kept.unwrap_or_else(|| dir.path().join("lindung.sqlite"));
    let url = DatabaseUrl::Sqlite(path.clone());
    if reuse {
        eprintln!("reusing {}", path.display());
        let storage = open(&url).await.expect("open");
        measure("sqlite", plan, storage).await;
        return;
    }
    // Create and migrate, then close: the load uses a connection of its own.
    drop(open(&url).await.expect("open"));

    let started = Instant::now();
    let villages = villages.to_vec();
    let load_path = path.clone();
    tokio::task::spawn_blocking(move || sqlite_load(&load_path, plan, &villages))
        .await
        .expect("load");
    let load = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    figure(
        "sqlite",
        "load (setup, not a goal)",
        plan.records,
        load,
        serde_json::json!({ "file_bytes": size }),
    );

    let storage = open(&url).await.expect("open");
    measure("sqlite", plan, storage).await;
}

fn sqlite_load(path: &std::path::Path, plan: Plan, villages: &[String]) {
    let mut connection = rusqlite::Connection::open(path).expect("open");
    connection
        .execute_batch(
            "PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000; PRAGMA temp_store = MEMORY;",
        )
        .expect("pragmas");
    let tx = connection.transaction().expect("transaction");
    let indexes: Vec<(String, String)> = {
        let mut statement = tx
            .prepare(
                "SELECT name, sql FROM sqlite_master
                 WHERE type = 'index' AND tbl_name = 'records' AND sql IS NOT NULL",
            )
            .expect("indexes");
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("indexes")
            .collect::<rusqlite::Result<_>>()
            .expect("indexes")
    };
    for (name, _) in &indexes {
        tx.execute_batch(&format!("DROP INDEX {name}"))
            .expect("drop index");
    }
    tx.execute_batch(
        "CREATE TEMP TABLE bench_villages (idx INTEGER PRIMARY KEY, code TEXT NOT NULL)",
    )
    .expect("villages table");
    {
        let mut insert = tx
            .prepare("INSERT INTO bench_villages (idx, code) VALUES (?1, ?2)")
            .expect("prepare");
        for (idx, code) in villages.iter().enumerate() {
            insert
                .execute(rusqlite::params![idx as i64, code])
                .expect("village");
        }
    }
    let columns = generated_columns(
        "printf('0190a000-0000-7000-8000-%012x', n)",
        "printf('%016d', 3100000000000000 + CASE WHEN n % 100 = 99 THEN n - 37 ELSE n END)",
    );
    let sql = format!(
        "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < ?1)
         INSERT INTO records (id, state, village_code, nik, active, updated_seq, category, payer,
             created_ms)
         SELECT {columns}, ?2 + n * ?3
         FROM s JOIN bench_villages v ON v.idx = (n * 7919) % ?4"
    );
    let inserted = tx
        .execute(
            &sql,
            rusqlite::params![
                plan.records as i64,
                plan.first_ms(),
                plan.step_ms(),
                villages.len() as i64
            ],
        )
        .expect("records");
    assert_eq!(inserted as u64, plan.records);
    for (_, sql) in &indexes {
        tx.execute_batch(sql).expect("recreate index");
    }
    tx.execute_batch("DROP TABLE bench_villages")
        .expect("drop villages");
    tx.commit().expect("commit");
    connection
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, format!("?{query}")),
        None => (rest, String::new()),
    };
    let host = rest.split_once('/').map_or(rest, |(host, _)| host);
    format!("{scheme}://{host}/{name}{query}")
}

async fn postgres(plan: Plan, villages: &[String], admin_url: &str) {
    let name = format!("lindung_bench_{}", uuid::Uuid::new_v4().simple());
    let (admin, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect to LINDUNG_TEST_POSTGRES_URL");
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the bench database");
    let url = with_database(admin_url, &name);
    // Drop the database whatever happens below.
    let outcome = {
        let url = url.clone();
        let villages = villages.to_vec();
        tokio::spawn(async move { postgres_run(plan, &villages, &url).await }).await
    };
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drop the bench database");
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn postgres_run(plan: Plan, villages: &[String], url: &str) {
    // Create and migrate.
    let storage = open(&DatabaseUrl::Postgres(url.to_owned()))
        .await
        .expect("open");
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let started = Instant::now();
    let indexes: Vec<(String, String)> = client
        .query(
            "SELECT indexname, indexdef FROM pg_indexes
             WHERE tablename = 'records' AND indexname <> 'records_pkey'",
            &[],
        )
        .await
        .expect("indexes")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for (name, _) in &indexes {
        client
            .batch_execute(&format!("DROP INDEX {name}"))
            .await
            .expect("drop index");
    }
    client
        .batch_execute("CREATE TABLE bench_villages (idx integer PRIMARY KEY, code text NOT NULL)")
        .await
        .expect("villages table");
    client
        .execute(
            "INSERT INTO bench_villages (idx, code)
             SELECT (ordinality - 1)::integer, code FROM unnest($1::text[]) WITH ORDINALITY AS u(code)",
            &[&villages],
        )
        .await
        .expect("villages");
    let columns = generated_columns(
        "('0190a000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid",
        "lpad((3100000000000000 + CASE WHEN n % 100 = 99 THEN n - 37 ELSE n END)::text, 16, '0')",
    );
    let sql = format!(
        "INSERT INTO records (id, state, village_code, nik, active, updated_seq, category, payer,
             created_ms)
         SELECT {columns}, $2::bigint + n * $3::bigint
         FROM generate_series(0::bigint, $1::bigint - 1) AS s(n)
         JOIN bench_villages v ON v.idx = (n * 7919) % $4::bigint"
    );
    let inserted = client
        .execute(
            &sql,
            &[
                &(plan.records as i64),
                &plan.first_ms(),
                &plan.step_ms(),
                &(villages.len() as i64),
            ],
        )
        .await
        .expect("records");
    assert_eq!(inserted, plan.records);
    for (_, definition) in &indexes {
        client
            .batch_execute(definition)
            .await
            .expect("recreate index");
    }
    client
        .batch_execute("DROP TABLE bench_villages")
        .await
        .expect("drop villages");
    // VACUUM refuses to run inside the implicit transaction of several statements.
    client
        .batch_execute("VACUUM ANALYZE")
        .await
        .expect("vacuum");
    figure(
        "postgres",
        "load (setup, not a goal)",
        plan.records,
        started.elapsed().as_secs_f64(),
        serde_json::json!({}),
    );
    measure("postgres", plan, storage).await;
}
