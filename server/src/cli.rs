//! Command-line interface of `lindung-server`: the service (`serve`) and the
//! staff administration commands, which open the same database directly.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use lindung_shared::ids::{DeviceId, OfficerId};
use lindung_shared::region::{normalize_code, regions};
use time::{Duration, OffsetDateTime};

use crate::audit::{action, audit};
use crate::export::ExportFormat;
use crate::region_summary::RegionSummary;
use crate::secrets::{enrollment_code_hash, new_enrollment_code};
use crate::storage::{self, AuditFilter, DatabaseUrl, NewEnrollmentCode, Officer, Storage};

/// Prints a line on stdout; a closed pipe (`… | head`) ends the command quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        {
            use std::io::Write as _;
            writeln!(std::io::stdout().lock(), $($arg)*)?
        }
    };
}
pub(crate) use say;

/// Lindung central server: sync, merge, duplicate detection and coverage.
/// Server pusat Lindung: sinkronisasi, penggabungan, deteksi ganda dan cakupan.
#[derive(Debug, Parser)]
#[command(name = "lindung-server", version, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// Who is acting, for the audit log (default: the operating-system user name).
    /// Siapa yang bertindak, untuk log audit.
    #[arg(long, env = crate::audit::STAFF_VARIABLE, global = true, value_name = "NAME")]
    pub staff: Option<String>,
    /// The configuration file (default: /etc/lindung/server.toml, else
    /// server.toml in the platform configuration directory; none is needed).
    /// Berkas konfigurasi.
    #[arg(long, env = "LINDUNG_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

/// Where the data lives; shared by every command that opens the database.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (default: lindung.sqlite in the platform data directory) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "LINDUNG_DATABASE", global = true)]
    pub database: Option<String>,
}

impl DatabaseArgs {
    /// The database URL given, or the embedded default.
    pub fn url(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database {
            Some(url) => Ok(DatabaseUrl::parse(url)?),
            None => {
                let dirs = directories::ProjectDirs::from("id", "Lindung", "lindung-server")
                    .context(
                        "no home directory to keep the data in; give --database sqlite://PATH",
                    )?;
                Ok(DatabaseUrl::Sqlite(dirs.data_dir().join("lindung.sqlite")))
            }
        }
    }

    async fn open(&self) -> anyhow::Result<Arc<dyn Storage>> {
        let url = self.url()?;
        storage::open(&url)
            .await
            .with_context(|| format!("cannot open the database {}", url.redacted()))
    }
}

/// `bundle` subcommands.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Apply a laptop's outbox bundle exactly like a sync, and write the
    /// receipt to carry back (`lindung-agent bundle import RECEIPT`).
    /// Importing the same bundle again changes nothing and writes the same
    /// receipt. A damaged or altered bundle, or one from a revoked device,
    /// is refused (exit code 1) and nothing is applied.
    /// Terapkan paket laptop dan tulis tanda terimanya.
    Import {
        /// The bundle file from the laptop.
        file: std::path::PathBuf,
        /// Where to write the receipt (default: `tanda-terima-<id>.lindung`
        /// beside FILE).
        #[arg(long)]
        receipt: Option<std::path::PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bundles applied so far, newest first.
    /// Daftar paket yang sudah diterapkan.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The server's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (sync API for agents).
    Serve {
        /// Address to listen on; port 0 picks a free port (the chosen address is printed).
        #[arg(long, env = "LINDUNG_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Log lines as text or as JSON objects (one per line).
        #[arg(long, env = "LINDUNG_LOG_FORMAT", value_enum, default_value_t)]
        log_format: crate::serve::LogFormat,
        /// Serve HTTPS with this certificate chain (PEM, the server's own
        /// certificate first); needs --tls-key. Without it: plain HTTP.
        #[arg(
            long,
            env = "LINDUNG_TLS_CERT",
            value_name = "PEM",
            requires = "tls_key"
        )]
        tls_cert: Option<std::path::PathBuf>,
        /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
        #[arg(
            long,
            env = "LINDUNG_TLS_KEY",
            value_name = "PEM",
            requires = "tls_cert"
        )]
        tls_key: Option<std::path::PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Field officers: who may register where.
    Officer {
        #[command(subcommand)]
        command: OfficerCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Make a one-time enrolment code for an officer's laptop.
    EnrollCode {
        /// The officer's id (from `officer list`).
        #[arg(long)]
        officer: OfficerId,
        /// Hours until the code expires.
        #[arg(long, default_value_t = 72)]
        valid_hours: u32,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Enrolled laptops.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Reference data per region and year: working population, baseline, target (see docs/reference.md).
    Reference {
        #[command(subcommand)]
        command: ReferenceCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Coverage of a region: persons registered (a duplicate NIK counts once)
    /// plus the baseline, against the working population and the year's target.
    #[command(args_conflicts_with_subcommands = true)]
    Coverage {
        /// `recompute`: rebuild the coverage counts from the records.
        #[command(subcommand)]
        action: Option<CoverageAction>,
        /// Province, regency, district or village code (dots allowed); omit for the whole country.
        #[arg(long)]
        region: Option<String>,
        /// The year of the reference values (default: this year).
        #[arg(long)]
        year: Option<i32>,
        /// Leave out the participants covered outside Lindung (Lindung's own share).
        #[arg(long)]
        no_baseline: bool,
        /// List every region of this level inside the region instead:
        /// province, regency, district or village (provinsi, kabupaten, kecamatan, desa).
        #[arg(long)]
        level: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Contribution rates (effective-dated; rates change by regulation).
    Rates {
        #[command(subcommand)]
        command: RatesCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Totals: records, operations, duplicates, officers, devices.
    Stats {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Central staff accounts for the staff API (`/api/v1/staff/…`, see `/api/v1/openapi.json`).
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Duplicate persons: list groups (same NIK, or probably the same person), merge, undo a merge.
    Duplicates {
        #[command(subcommand)]
        command: crate::reconcile::DuplicatesCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// The conflict log: values overwritten by a concurrent change; resolve them.
    Conflicts {
        #[command(subcommand)]
        command: crate::reconcile::ConflictsCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// The audit log: every staff action and export (who, when, what).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Write coverage or registrations to a .csv or .xlsx file (recorded in the audit log).
    Export {
        #[command(subcommand)]
        command: ExportCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Copy the SQLite store to a new file while the server keeps serving
    /// (PostgreSQL: use pg_dump, see docs/operations.md). Recorded in the audit log.
    /// Salin basis data SQLite ke berkas baru selagi server tetap berjalan.
    Backup {
        /// The file to write (must not exist).
        file: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Replace the SQLite store by a backup (stop the server first). The
    /// replaced database is kept beside it, and the store takes a new
    /// identity so agents send again what the backup lacks.
    /// Pulihkan basis data SQLite dari cadangan (hentikan server dulu).
    Restore {
        /// The backup file (from `backup`).
        file: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Show the store's identity; `--renew` gives it a new one (after
    /// restoring a PostgreSQL database with pg_restore).
    StoreId {
        /// Give the store a new identity: agents then send again whatever they hold.
        #[arg(long)]
        renew: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Sneakernet bundles: a laptop's outbox carried in on a USB stick
    /// (`lindung-agent bundle export`), and the receipt carried back.
    /// Paket dari laptop tanpa sinyal (lewat flashdisk) dan tanda terimanya.
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// The configuration file: `config check` reports unknown keys and bad values.
    /// Berkas konfigurasi: `config check` memeriksa kunci dan nilainya.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Show the region codes built into this server: counts per level and kind, and their source.
    Regions {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration file and show the values it sets.
    Check,
}

/// `audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The newest entries first.
    List {
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only this action (e.g. officer.add, export.registrations).
        #[arg(long)]
        action: Option<String>,
        /// Only entries on or after this date (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `export …`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Coverage of a region, or of every region of a level inside it
    /// (the figures `coverage --region CODE [--level LEVEL] --json` shows).
    Coverage {
        /// Province, regency, district or village code (dots allowed).
        #[arg(long)]
        region: String,
        /// One row per region of this level inside the region: province,
        /// regency, district or village (provinsi, kabupaten, kecamatan, desa).
        #[arg(long)]
        level: Option<String>,
        /// The year of the reference values (default: this year).
        #[arg(long)]
        year: Option<i32>,
        /// Leave out the participants covered outside Lindung.
        #[arg(long)]
        no_baseline: bool,
        /// File format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The file to write (replaced only once it is complete).
        #[arg(long)]
        output: std::path::PathBuf,
    },
    /// Every active registration in a region, one row each; NIKs masked.
    Registrations {
        /// Province, regency, district or village code (dots allowed).
        #[arg(long)]
        region: String,
        /// File format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The file to write (replaced only once it is complete).
        #[arg(long)]
        output: std::path::PathBuf,
    },
}

/// `officer …`
#[derive(Debug, Subcommand)]
pub enum OfficerCommand {
    /// Add an officer with the regions they may register in.
    Add {
        /// The officer's name.
        name: String,
        /// A province, regency, district or village code (dots allowed); repeat for several.
        #[arg(long = "region", required = true)]
        regions: Vec<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List officers.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `coverage …`
#[derive(Debug, Subcommand)]
pub enum CoverageAction {
    /// Rebuild the persons and their counts from the records (they are kept
    /// up to date with every push; this is for checks and repairs).
    Recompute {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `rates …`
#[derive(Debug, Subcommand)]
pub enum RatesCommand {
    /// The rates in force and every stored entry.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set the rates from a date (YYYY-MM-DD); unspecified values keep those in force then.
    Set {
        /// First day the rates apply.
        #[arg(long)]
        from: String,
        /// JKK, percent of declared income.
        #[arg(long)]
        jkk_percent: Option<String>,
        /// JKK minimum per month, rupiah.
        #[arg(long)]
        jkk_min: Option<u64>,
        /// JKK maximum per month, rupiah.
        #[arg(long)]
        jkk_max: Option<u64>,
        /// JKM per month, rupiah.
        #[arg(long)]
        jkm: Option<u64>,
        /// JHT, percent of declared income.
        #[arg(long)]
        jht_percent: Option<String>,
    },
}

/// `reference …`
#[derive(Debug, Subcommand)]
pub enum ReferenceCommand {
    /// Load a CSV of reference values; each year in the file replaces that
    /// year's values. A file with any refused row changes nothing.
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a year's reference values.
    Show {
        /// The year.
        #[arg(long)]
        year: i32,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `staff …`
#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create a staff account: an API token (printed once) and, with
    /// `--login`, a dashboard login whose password is read from
    /// LINDUNG_STAFF_PASSWORD or asked in the terminal (never an argument).
    Add {
        /// The person's name (recorded in the audit log with what they do).
        name: String,
        /// Dashboard login name (letters, digits, `.`, `_`, `-`; kept lower-case).
        #[arg(long)]
        login: Option<String>,
        /// staff (everything), supervisor (one region, needs --region) or viewer (read-only).
        #[arg(long, default_value = "staff")]
        role: String,
        /// The region a supervisor is limited to (e.g. 13.11).
        #[arg(long)]
        region: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a staff account's dashboard password (LINDUNG_STAFF_PASSWORD or a
    /// terminal prompt); its open sessions end.
    Passwd {
        /// The account's login (or its id, from `staff list`).
        account: String,
    },
    /// List staff accounts.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a staff account: its token stops working.
    Revoke {
        /// The account id (from `staff list`).
        id: uuid::Uuid,
    },
    /// Give a staff account a new API token (printed once); the old one
    /// stops working at once. The dashboard login is unchanged.
    RotateToken {
        /// The account's login (or its id, from `staff list`).
        account: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `device …`
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List enrolled devices.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device: it can no longer sync; its unsynced data stays on the laptop.
    Revoke {
        /// The device id (from `device list`).
        id: DeviceId,
    },
}

/// Parses the command line and runs the command.
/// Where a configuration file is looked for when none is named.
fn config_places() -> Vec<std::path::PathBuf> {
    let mut places = vec![std::path::PathBuf::from("/etc/lindung/server.toml")];
    if let Some(dirs) = directories::ProjectDirs::from("id", "Lindung", "lindung-server") {
        places.push(dirs.config_dir().join("server.toml"));
    }
    places
}

/// The tables of the configuration file: the commands whose options it sets.
const CONFIG_SECTIONS: &[&str] = &["serve"];

pub fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let configured = match lindung_shared::config::configure(
        Cli::command(),
        &args,
        std::env::var_os("LINDUNG_CONFIG"),
        &config_places(),
        CONFIG_SECTIONS,
        |path| std::fs::read_to_string(path),
    ) {
        Ok(configured) => configured,
        Err(failure) => {
            eprintln!("error: {failure}");
            eprintln!("Perbaiki berkas konfigurasi. / Fix the configuration file.");
            return ExitCode::from(lindung_shared::config::failure_exit_code(&args));
        }
    };
    let matches = configured.command.clone().get_matches_from(&args);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let result = match cli.command {
        Command::Regions { json } => show_regions(json),
        Command::Config {
            command: ConfigCommand::Check,
        } => show_config(&configured),
        command => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                let actor = crate::audit::resolve_actor(cli.staff.as_deref());
                runtime.block_on(run(command, &actor))
            }
            Err(error) => Err(anyhow::Error::new(error).context("cannot start the runtime")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) if is_refusal(&error) => {
            eprintln!("{error:#}");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// A bundle refused for what it is (damaged, altered, from a revoked
/// device): exit code 1, as for the agent's refusals; 2 is for failures.
fn is_refusal(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<crate::bundle::ImportError>()
        .is_some_and(|e| !matches!(e, crate::bundle::ImportError::Storage(_)))
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn run(command: Command, actor: &str) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            listen,
            log_format,
            tls_cert,
            tls_key,
            database,
        } => {
            crate::serve::init_logging(log_format);
            let _serving = serve_lock(&database.url()?)?;
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => {
                    let files = crate::serve::TlsFiles { cert, key };
                    // A bad certificate or key stops here, before the database opens.
                    files.load()?;
                    Some(files)
                }
                _ => None,
            };
            let storage = database.open().await?;
            crate::serve::serve(storage, listen, tls).await
        }
        Command::Officer { command, database } => {
            let storage = database.open().await?;
            match command {
                OfficerCommand::Add {
                    name,
                    regions,
                    json,
                } => add_officer(storage.as_ref(), actor, name, &regions, json).await,
                OfficerCommand::List { json } => list_officers(storage.as_ref(), json).await,
            }
        }
        Command::EnrollCode {
            officer,
            valid_hours,
            json,
            database,
        } => {
            let storage = database.open().await?;
            enroll_code(storage.as_ref(), actor, officer, valid_hours, json).await
        }
        Command::Device { command, database } => {
            let storage = database.open().await?;
            match command {
                DeviceCommand::List { json } => list_devices(storage.as_ref(), json).await,
                DeviceCommand::Revoke { id } => {
                    if revoke_device(storage.as_ref(), actor, id).await? {
                        say!("Perangkat {id} dicabut. / Device {id} revoked.");
                        Ok(())
                    } else {
                        bail!("no device {id} (see `lindung-server device list`)")
                    }
                }
            }
        }
        Command::Reference { command, database } => {
            let storage = database.open().await?;
            match command {
                ReferenceCommand::Import { file, json } => {
                    import_reference(storage.as_ref(), actor, &file, json).await
                }
                ReferenceCommand::Show { year, json } => {
                    let rows = storage.reference(year).await?;
                    if json {
                        say!("{}", serde_json::to_string_pretty(&rows)?);
                    } else if rows.is_empty() {
                        say!(
                            "Belum ada data acuan untuk {year}. / No reference values for {year}."
                        );
                    } else {
                        for row in rows {
                            say!(
                                "{year} {:<10} bekerja/working {:>10} existing/baseline {:>9} target {}",
                                crate::reference::shown_code(&row.region_code),
                                row.working_population
                                    .map(|n| n.to_string())
                                    .unwrap_or_else(|| "-".into()),
                                row.baseline
                                    .map(|n| n.to_string())
                                    .unwrap_or_else(|| "-".into()),
                                row.target_bp
                                    .map(|bp| format!("{}.{:02} %", bp / 100, bp % 100))
                                    .unwrap_or_else(|| "-".into()),
                            );
                        }
                    }
                    Ok(())
                }
            }
        }
        Command::Coverage {
            action,
            region,
            year,
            no_baseline,
            level,
            json,
            database,
        } => {
            let storage = database.open().await?;
            match action {
                Some(CoverageAction::Recompute { json }) => {
                    let started = std::time::Instant::now();
                    let persons = storage.recompute_coverage().await?;
                    let seconds = started.elapsed().as_secs_f64();
                    audit(
                        storage.as_ref(),
                        actor,
                        action::COVERAGE_RECOMPUTE,
                        "",
                        serde_json::json!({ "persons": persons, "seconds": seconds }),
                    )
                    .await?;
                    if json {
                        say!(
                            "{}",
                            serde_json::json!({ "persons": persons, "seconds": seconds })
                        );
                    } else {
                        say!(
                            "Dihitung ulang / recomputed: {persons} orang/persons in {seconds:.2} s"
                        );
                    }
                    Ok(())
                }
                None => match level {
                    Some(level) => {
                        list_coverage(
                            storage.as_ref(),
                            region.as_deref(),
                            &level,
                            year,
                            !no_baseline,
                            json,
                        )
                        .await
                    }
                    None => {
                        show_coverage(
                            storage.as_ref(),
                            region.as_deref(),
                            year,
                            !no_baseline,
                            json,
                        )
                        .await
                    }
                },
            }
        }
        Command::Rates { command, database } => {
            let storage = database.open().await?;
            match command {
                RatesCommand::List { json } => {
                    let entries = storage.contribution_rates().await?;
                    let today = OffsetDateTime::now_utc().date();
                    let in_force = crate::report::rates_on(storage.as_ref(), today).await?;
                    if json {
                        say!(
                            "{}",
                            serde_json::to_string_pretty(&serde_json::json!({
                                "in_force": in_force,
                                "minimum_monthly": in_force.minimum_monthly(),
                                "entries": entries,
                            }))?
                        );
                    } else {
                        say!(
                            "Berlaku / in force: JKK {}.{:02} % (min {}, max {}), JKM {}, JHT {}.{:02} % — minimum {} per bulan/month",
                            in_force.jkk_rate_bp / 100,
                            in_force.jkk_rate_bp % 100,
                            in_force.jkk_min,
                            in_force.jkk_max,
                            in_force.jkm_flat,
                            in_force.jht_rate_bp / 100,
                            in_force.jht_rate_bp % 100,
                            lindung_shared::lang::format_rupiah(in_force.minimum_monthly())
                        );
                        if entries.is_empty() {
                            say!("(bawaan / built-in: PP 44/2015)");
                        }
                        for entry in entries {
                            say!(
                                "  sejak / from {}: JKM {}, JKK min {}",
                                entry.effective_from,
                                entry.jkm_flat,
                                entry.jkk_min
                            );
                        }
                    }
                    Ok(())
                }
                RatesCommand::Set {
                    from,
                    jkk_percent,
                    jkk_min,
                    jkk_max,
                    jkm,
                    jht_percent,
                } => {
                    let from = lindung_shared::validation::parse_date(&from)
                        .with_context(|| format!("--from {from:?}: a date such as 2026-01-01"))?;
                    let base = crate::report::rates_on(storage.as_ref(), from).await?;
                    let percent =
                        |text: Option<String>, current: u32, name: &str| -> anyhow::Result<u32> {
                            match text {
                                None => Ok(current),
                                Some(text) => lindung_shared::coverage::parse_percent_bp(&text)
                                    .with_context(|| {
                                        format!("--{name} {text:?}: a percentage such as 1 or 0.24")
                                    }),
                            }
                        };
                    let rates = lindung_shared::coverage::ContributionRates {
                        effective_from: from,
                        jkk_rate_bp: percent(jkk_percent, base.jkk_rate_bp, "jkk-percent")?,
                        jkk_min: jkk_min.unwrap_or(base.jkk_min),
                        jkk_max: jkk_max.unwrap_or(base.jkk_max),
                        jkm_flat: jkm.unwrap_or(base.jkm_flat),
                        jht_rate_bp: percent(jht_percent, base.jht_rate_bp, "jht-percent")?,
                    };
                    if rates.jkk_max < rates.jkk_min {
                        bail!("--jkk-max must not be below --jkk-min");
                    }
                    storage.set_contribution_rates(&rates).await?;
                    audit(
                        storage.as_ref(),
                        actor,
                        action::RATES_SET,
                        &from.to_string(),
                        serde_json::json!({
                            "effective_from": from.to_string(),
                            "jkk_rate_bp": rates.jkk_rate_bp,
                            "jkk_min": rates.jkk_min,
                            "jkk_max": rates.jkk_max,
                            "jkm_flat": rates.jkm_flat,
                            "jht_rate_bp": rates.jht_rate_bp,
                            "minimum_monthly": rates.minimum_monthly(),
                        }),
                    )
                    .await?;
                    say!(
                        "Tarif sejak {from} disimpan: minimum {} per bulan. / Rates from {from} saved: minimum {} a month.",
                        lindung_shared::lang::format_rupiah(rates.minimum_monthly()),
                        lindung_shared::lang::format_rupiah(rates.minimum_monthly())
                    );
                    Ok(())
                }
            }
        }
        Command::Stats { json, database } => {
            let storage = database.open().await?;
            let counts = storage.counts().await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&counts)?);
            } else {
                say!("records          {}", counts.records);
                say!("  active         {}", counts.active_records);
                say!("  same NIK twice {}", counts.records_in_duplicate_groups);
                say!("operations       {}", counts.operations);
                say!("rejections       {}", counts.rejections);
                say!("officers         {}", counts.officers);
                say!("devices          {}", counts.devices);
            }
            Ok(())
        }
        Command::Staff { command, database } => {
            let storage = database.open().await?;
            staff_command(storage.as_ref(), actor, command).await
        }
        Command::Duplicates { command, database } => {
            let storage = database.open().await?;
            crate::reconcile::duplicates(storage.as_ref(), command, actor).await
        }
        Command::Conflicts { command, database } => {
            let storage = database.open().await?;
            crate::reconcile::conflicts(storage.as_ref(), command, actor).await
        }
        Command::Audit { command, database } => {
            let storage = database.open().await?;
            match command {
                AuditCommand::List {
                    limit,
                    action,
                    since,
                    json,
                } => list_audit(storage.as_ref(), limit, action, since.as_deref(), json).await,
            }
        }
        Command::Bundle { command, database } => {
            let storage = database.open().await?;
            match command {
                BundleCommand::Import {
                    file,
                    receipt,
                    json,
                } => import_bundle(storage, actor, &file, receipt, json).await,
                BundleCommand::List { limit, json } => {
                    list_bundles(storage.as_ref(), limit, json).await
                }
            }
        }
        Command::Backup { file, database } => backup(actor, &file, &database).await,
        Command::Restore { file, database } => restore(actor, &file, &database).await,
        Command::StoreId { renew, database } => {
            let storage = database.open().await?;
            if renew {
                let before = storage.store_id().await?;
                let id = storage.renew_store_id().await?;
                audit(
                    storage.as_ref(),
                    actor,
                    action::STORE_ID_RENEW,
                    &id.to_string(),
                    serde_json::json!({ "previous": before.to_string() }),
                )
                .await?;
                say!("{id}");
                say!(
                    "Identitas baru; agen akan mengirim ulang datanya. / New identity; agents will send their data again."
                );
            } else {
                say!("{}", storage.store_id().await?);
            }
            Ok(())
        }
        Command::Export { command, database } => {
            let storage = database.open().await?;
            match command {
                ExportCommand::Coverage {
                    region,
                    level,
                    year,
                    no_baseline,
                    format,
                    output,
                } => {
                    export_coverage(
                        storage.as_ref(),
                        actor,
                        &region,
                        level.as_deref(),
                        year,
                        !no_baseline,
                        format,
                        &output,
                    )
                    .await
                }
                ExportCommand::Registrations {
                    region,
                    format,
                    output,
                } => export_registrations(storage.as_ref(), actor, &region, format, &output).await,
            }
        }
        Command::Regions { json } => show_regions(json),
        Command::Config { .. } => bail!("`config` is handled before the runtime starts"),
    }
}

/// Checks and normalises region codes for an officer's scope.
pub fn scope_codes(inputs: &[String]) -> anyhow::Result<Vec<String>> {
    let index = regions();
    let mut codes = Vec::new();
    for input in inputs {
        let code = normalize_code(input).with_context(|| {
            format!("region {input:?}: not a region code (e.g. 13.11 or 1311012001)")
        })?;
        // Every level nests by code prefix, so any of them can be a scope.
        index.get(&code).with_context(|| {
            format!("region {input:?}: no such province, regency, district or village")
        })?;
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

async fn add_officer(
    storage: &dyn Storage,
    actor: &str,
    name: String,
    regions: &[String],
    json: bool,
) -> anyhow::Result<()> {
    let officer = create_officer(storage, actor, &name, regions).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&officer)?);
    } else {
        say!(
            "Petugas ditambahkan / Officer added: {} ({})",
            officer.name,
            officer.id
        );
        for code in &officer.regions {
            say!("  wilayah / region: {}", describe_region(code));
        }
        say!(
            "Berikutnya / next: lindung-server enroll-code --officer {}",
            officer.id
        );
    }
    Ok(())
}

/// Creates an officer who may register in `regions` and records it in the
/// audit log. Used by `officer add` and the dashboard.
pub async fn create_officer(
    storage: &dyn Storage,
    actor: &str,
    name: &str,
    regions: &[String],
) -> anyhow::Result<Officer> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.chars().count() < 2 {
        bail!("officer name: at least 2 letters");
    }
    let officer = Officer {
        id: OfficerId(uuid::Uuid::now_v7()),
        name,
        regions: scope_codes(regions)?,
        created_at: OffsetDateTime::now_utc(),
    };
    if officer.regions.is_empty() {
        bail!("--region: at least one region");
    }
    storage.add_officer(&officer).await?;
    audit(
        storage,
        actor,
        action::OFFICER_ADD,
        &officer.id.to_string(),
        serde_json::json!({ "name": officer.name, "regions": officer.regions }),
    )
    .await?;
    Ok(officer)
}

/// Revokes a device and records it in the audit log; false when there is
/// no such device. Used by `device revoke` and the dashboard.
pub async fn revoke_device(
    storage: &dyn Storage,
    actor: &str,
    id: DeviceId,
) -> anyhow::Result<bool> {
    if !storage.revoke_device(id, OffsetDateTime::now_utc()).await? {
        return Ok(false);
    }
    audit(
        storage,
        actor,
        action::DEVICE_REVOKE,
        &id.to_string(),
        serde_json::json!({}),
    )
    .await?;
    Ok(true)
}

fn describe_region(code: &str) -> String {
    let index = regions();
    match index.full_name(code) {
        Some(name) => format!("{code} {name}"),
        None => code.to_owned(),
    }
}

async fn list_officers(storage: &dyn Storage, json: bool) -> anyhow::Result<()> {
    let officers = storage.officers().await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&officers)?);
        return Ok(());
    }
    if officers.is_empty() {
        say!("Belum ada petugas. / No officers yet: lindung-server officer add NAME --region CODE");
    }
    for officer in officers {
        say!(
            "{}  {}  [{}]",
            officer.id,
            officer.name,
            officer.regions.join(", ")
        );
    }
    Ok(())
}

async fn enroll_code(
    storage: &dyn Storage,
    actor: &str,
    officer: OfficerId,
    valid_hours: u32,
    json: bool,
) -> anyhow::Result<()> {
    let (officer, code, expires_at) =
        issue_enrollment_code(storage, actor, officer, valid_hours).await?;
    if json {
        say!(
            "{}",
            serde_json::json!({
                "code": code,
                "officer_id": officer.id,
                "expires_at": expires_at.format(&time::format_description::well_known::Rfc3339)?,
            })
        );
    } else {
        say!(
            "Kode pendaftaran / enrolment code for {}: {code}",
            officer.name
        );
        say!(
            "Berlaku sampai / valid until {} UTC, sekali pakai / single use.",
            expires_at.format(&time::format_description::well_known::Rfc3339)?
        );
        say!(
            "Di laptop petugas / on the officer's laptop: lindung-agent enroll --server URL --code {code}"
        );
    }
    Ok(())
}

/// Issues a one-time enrolment code for an officer, valid `valid_hours`
/// (1 to 720), and records it in the audit log (never the code). Returns the
/// officer, the code (to show once) and its expiry. Used by `enroll-code`
/// and the dashboard.
pub async fn issue_enrollment_code(
    storage: &dyn Storage,
    actor: &str,
    officer: OfficerId,
    valid_hours: u32,
) -> anyhow::Result<(Officer, String, OffsetDateTime)> {
    let Some(officer) = storage.officer(officer).await? else {
        bail!("no officer {officer} (see `lindung-server officer list`)");
    };
    if valid_hours == 0 || valid_hours > 24 * 30 {
        bail!("--valid-hours: between 1 and 720");
    }
    let code = new_enrollment_code().context("no randomness for a code")?;
    let now = OffsetDateTime::now_utc();
    let expires_at = (now + Duration::hours(i64::from(valid_hours)))
        .replace_nanosecond(0)
        .unwrap_or(now);
    storage
        .add_enrollment_code(&NewEnrollmentCode {
            code_hash: enrollment_code_hash(&code),
            officer_id: officer.id,
            created_at: now,
            expires_at,
        })
        .await?;
    // Never the code itself: whoever reads the log must not be able to enrol.
    audit(
        storage,
        actor,
        action::ENROLL_CODE,
        &officer.id.to_string(),
        serde_json::json!({
            "officer": officer.name,
            "valid_hours": valid_hours,
            "expires_at": expires_at.format(&time::format_description::well_known::Rfc3339)?,
        }),
    )
    .await?;
    Ok((officer, code, expires_at))
}

async fn list_devices(storage: &dyn Storage, json: bool) -> anyhow::Result<()> {
    let devices = storage.devices().await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&devices)?);
        return Ok(());
    }
    if devices.is_empty() {
        say!("Belum ada perangkat. / No devices enrolled yet.");
    }
    for device in devices {
        let state = if device.revoked_at.is_some() {
            "DICABUT/REVOKED"
        } else {
            "aktif/active"
        };
        say!(
            "{}  {}  {}  {}  acked={}",
            device.id,
            device.officer_name,
            device.name,
            state,
            device.acknowledged_seq
        );
    }
    Ok(())
}

/// The region a coverage command is about: its code, or "" for the country.
fn region_code(region: Option<&str>) -> anyhow::Result<String> {
    match region {
        Some(region) => scope_codes(&[region.to_owned()])?
            .pop()
            .context("a region code"),
        None => Ok(String::new()),
    }
}

pub(crate) fn parse_level(text: &str) -> anyhow::Result<lindung_shared::region::Level> {
    use lindung_shared::region::Level;
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "province" | "provinsi" => Level::Province,
        "regency" | "city" | "kabupaten" | "kota" => Level::Regency,
        "district" | "kecamatan" => Level::District,
        "village" | "desa" | "kelurahan" => Level::Village,
        other => bail!("--level {other:?}: province, regency, district or village"),
    })
}

async fn list_coverage(
    storage: &dyn Storage,
    region: Option<&str>,
    level: &str,
    year: Option<i32>,
    include_baseline: bool,
    json: bool,
) -> anyhow::Result<()> {
    use lindung_shared::coverage::Coverage;
    let level = parse_level(level)?;
    let code = region_code(region)?;
    if level.code_len() <= code.len() {
        bail!("--level must be below the region {code}");
    }
    let now = OffsetDateTime::now_utc();
    let year = year.unwrap_or(now.year());
    let rows =
        crate::report::regions_coverage(storage, &code, level, year, include_baseline, now).await?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&crate::report::listing_json(&rows))?
        );
        return Ok(());
    }
    for row in rows {
        let (code, name, figures) = (row.region_code, row.region_name, row.coverage);
        match figures {
            Coverage::NoDenominator { persons } => {
                say!(
                    "{code:<10} {name:<40} {persons:>8} orang/persons  (tanpa penyebut / no denominator)"
                );
            }
            Coverage::Measured(f) => {
                say!(
                    "{code:<10} {name:<40} {:>8} / {:<9} {:>6.2} %  target {}  kurang/gap {}",
                    f.covered,
                    f.working_population,
                    f.coverage_percent,
                    f.target_bp
                        .map(|bp| format!("{}.{:02} %", bp / 100, bp % 100))
                        .unwrap_or_else(|| "-".into()),
                    f.gap_persons
                        .map(|g| g.to_string())
                        .unwrap_or_else(|| "-".into()),
                );
            }
        }
    }
    Ok(())
}

async fn show_coverage(
    storage: &dyn Storage,
    region: Option<&str>,
    year: Option<i32>,
    include_baseline: bool,
    json: bool,
) -> anyhow::Result<()> {
    use lindung_shared::coverage::Coverage;
    use lindung_shared::lang::format_rupiah;
    let code = region_code(region)?;
    let now = OffsetDateTime::now_utc();
    let year = year.unwrap_or(now.year());
    let report =
        crate::report::region_coverage(storage, &code, year, include_baseline, now).await?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&crate::report::report_json(
                &code,
                year,
                include_baseline,
                &report
            ))?
        );
        return Ok(());
    }
    let (name, figures, counts) = (report.row.region_name, report.row.coverage, report.counts);
    say!(
        "{name} ({}), {year}",
        if code.is_empty() { "-" } else { &code }
    );
    match figures {
        Coverage::NoDenominator { persons } => {
            say!("  terdaftar lewat Lindung / registered through Lindung: {persons} orang/persons");
            say!(
                "  cakupan: belum ada data penduduk bekerja / coverage: no working-population figure for {year} (lindung-server reference import)"
            );
        }
        Coverage::Measured(f) => {
            say!(
                "  cakupan / coverage {:.2} %: {} dari/of {} ({} lewat/through Lindung)",
                f.coverage_percent,
                f.covered,
                f.working_population,
                f.persons
            );
            if let (Some(target), Some(gap), Some(cost)) =
                (f.target_bp, f.gap_persons, f.gap_cost_per_year)
            {
                say!(
                    "  target {}.{:02} %: kurang / gap {} orang/persons, biaya / cost {} per tahun/year",
                    target / 100,
                    target % 100,
                    gap,
                    format_rupiah(cost)
                );
            } else {
                say!("  target: belum ditetapkan / not set");
            }
            match f.target_reached_on {
                Some(date) => say!(
                    "  laju / pace {} per 30 hari/days: target tercapai / reached on {date}",
                    f.pace_per_30_days
                ),
                None => say!(
                    "  laju / pace {} per 30 hari/days: target belum terjangkau / not reached at this pace",
                    f.pace_per_30_days
                ),
            }
        }
    }
    for (category, persons) in &counts.by_category {
        say!("    {category:<18} {persons}");
    }
    Ok(())
}

async fn import_reference(
    storage: &dyn Storage,
    actor: &str,
    file: &std::path::Path,
    json: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {} (a UTF-8 CSV file)", file.display()))?;
    let file_name = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let outcome = crate::reference::import(storage, actor, &text, &file_name)
        .await
        .with_context(|| format!("{} cannot be used", file.display()))?;
    let replaced = match outcome {
        Ok(replaced) => replaced,
        Err(problems) => {
            report_reference_problems(&problems, json)?;
            bail!(
                "{} row problem(s): nothing was imported; fix the file and import it again",
                problems.len()
            );
        }
    };
    if json {
        say!(
            "{}",
            serde_json::json!({ "imported": true, "result": replaced })
        );
    } else {
        say!(
            "Data acuan tahun {:?} diganti: {} baris (sebelumnya {}). / Reference values for {:?} replaced: {} rows (before: {}).",
            replaced.years,
            replaced.stored,
            replaced.removed,
            replaced.years,
            replaced.stored,
            replaced.removed
        );
    }
    Ok(())
}

async fn staff_command(
    storage: &dyn Storage,
    actor: &str,
    command: StaffCommand,
) -> anyhow::Result<()> {
    match command {
        StaffCommand::Add {
            name,
            login,
            role,
            region,
            json,
        } => {
            let name = name.trim().to_owned();
            if name.is_empty() {
                bail!("NAME: nama wajib diisi / a name is required");
            }
            let role = crate::storage::Role::parse(&role).with_context(|| {
                format!(
                    "--role {role:?}: peran tidak dikenal / unknown role (staff, supervisor, viewer)"
                )
            })?;
            let region = match (role, region) {
                (crate::storage::Role::Supervisor, Some(region)) => {
                    Some(region_code(Some(&region)).with_context(|| {
                        format!("--region {region:?}: wilayah tidak dikenal / no such region")
                    })?)
                }
                (crate::storage::Role::Supervisor, None) => bail!(
                    "--region: pengawas (supervisor) harus dibatasi satu wilayah / a supervisor needs --region"
                ),
                (_, Some(_)) => {
                    bail!("--region: hanya untuk peran supervisor / only for --role supervisor")
                }
                (_, None) => None,
            };
            let login = login.map(|l| normalize_login(&l)).transpose()?;
            if let Some(login) = &login
                && storage.staff_account_by_login(login).await?.is_some()
            {
                bail!("--login {login:?}: sudah dipakai / already taken");
            }
            let password_hash = match &login {
                Some(_) => Some(
                    crate::secrets::hash_password(&read_staff_password()?)
                        .context("cannot hash the password")?,
                ),
                None => None,
            };
            let token = crate::secrets::new_token().context("no random numbers from the system")?;
            let account = crate::storage::StaffAccount {
                id: uuid::Uuid::now_v7(),
                name,
                created_at: OffsetDateTime::now_utc(),
                revoked_at: None,
                login,
                role,
                region,
            };
            storage
                .add_staff_account(
                    &account,
                    &crate::secrets::token_hash(&token),
                    password_hash.as_deref(),
                )
                .await?;
            audit(
                storage,
                actor,
                action::STAFF_ADD,
                &account.id.to_string(),
                serde_json::json!({
                    "name": account.name,
                    "login": account.login,
                    "role": account.role.as_str(),
                    "region": account.region,
                }),
            )
            .await?;
            if json {
                say!(
                    "{}",
                    serde_json::json!({
                        "id": account.id,
                        "name": account.name,
                        "login": account.login,
                        "role": account.role.as_str(),
                        "region": account.region,
                        "token": token,
                    })
                );
            } else {
                say!(
                    "Akun staf / staff account: {} ({}), peran / role: {}{}",
                    account.name,
                    account.id,
                    account.role.as_str(),
                    account
                        .region
                        .as_deref()
                        .map(|r| format!(", wilayah / region: {r}"))
                        .unwrap_or_default()
                );
                if let Some(login) = &account.login {
                    say!("Login dasbor / dashboard login: {login}");
                }
                say!("Token (ditampilkan sekali saja / shown only once): {token}");
                say!("Pakai / use: Authorization: Bearer {token}");
            }
            Ok(())
        }
        StaffCommand::Passwd { account } => {
            let found = find_staff_account(storage, &account).await?;
            if found.login.is_none() {
                bail!(
                    "{account}: akun ini tanpa login dasbor / this account has no dashboard login (staff add --login)"
                );
            }
            let hash = crate::secrets::hash_password(&read_staff_password()?)
                .context("cannot hash the password")?;
            storage.set_staff_password(found.id, &hash).await?;
            audit(
                storage,
                actor,
                action::STAFF_PASSWORD,
                &found.id.to_string(),
                serde_json::json!({ "login": found.login }),
            )
            .await?;
            say!(
                "Kata sandi diganti; sesi yang terbuka diakhiri. / Password changed; open sessions ended."
            );
            Ok(())
        }
        StaffCommand::List { json } => {
            let accounts = storage.staff_accounts().await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&accounts)?);
            } else if accounts.is_empty() {
                say!("Belum ada akun staf. / No staff accounts yet.");
            } else {
                for a in accounts {
                    say!(
                        "{}  {:<30} {:<16} {:<10} {:<10} {}",
                        a.id,
                        a.name,
                        a.login.as_deref().unwrap_or("-"),
                        a.role.as_str(),
                        a.region.as_deref().unwrap_or("-"),
                        if a.revoked_at.is_some() {
                            "dicabut / revoked"
                        } else {
                            "aktif / active"
                        }
                    );
                }
            }
            Ok(())
        }
        StaffCommand::RotateToken { account, json } => {
            let found = find_staff_account(storage, &account).await?;
            if found.revoked_at.is_some() {
                bail!(
                    "{account}: akun ini sudah dicabut / this account was revoked (staff add makes a new one)"
                );
            }
            let token = crate::secrets::new_token().context("no random numbers from the system")?;
            if !storage
                .set_staff_token(found.id, &crate::secrets::token_hash(&token))
                .await?
            {
                bail!("no staff account {account:?} (see `lindung-server staff list`)");
            }
            // Never the token itself.
            audit(
                storage,
                actor,
                action::STAFF_ROTATE_TOKEN,
                &found.id.to_string(),
                serde_json::json!({ "name": found.name, "login": found.login }),
            )
            .await?;
            if json {
                say!(
                    "{}",
                    serde_json::json!({ "id": found.id, "name": found.name, "token": token })
                );
            } else {
                say!(
                    "Token baru untuk / new token for {} ({}); token lama tidak berlaku lagi / the old token no longer works.",
                    found.name,
                    found.id
                );
                say!("Token (ditampilkan sekali saja / shown only once): {token}");
                say!("Pakai / use: Authorization: Bearer {token}");
            }
            Ok(())
        }
        StaffCommand::Revoke { id } => {
            if !storage
                .revoke_staff_account(id, OffsetDateTime::now_utc())
                .await?
            {
                bail!("no staff account {id} (see `lindung-server staff list`)");
            }
            audit(
                storage,
                actor,
                action::STAFF_REVOKE,
                &id.to_string(),
                serde_json::json!({}),
            )
            .await?;
            say!("Akun staf {id} dicabut. / Staff account {id} revoked.");
            Ok(())
        }
    }
}

/// The staff account a login or an id names.
async fn find_staff_account(
    storage: &dyn Storage,
    account: &str,
) -> anyhow::Result<crate::storage::StaffAccount> {
    let wanted = account.trim().to_lowercase();
    storage
        .staff_accounts()
        .await?
        .into_iter()
        .find(|a| a.login.as_deref() == Some(wanted.as_str()) || a.id.to_string() == wanted)
        .with_context(|| format!("no staff account {account:?} (see `lindung-server staff list`)"))
}

fn report_reference_problems(
    problems: &[crate::reference::ReferenceProblem],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        say!(
            "{}",
            serde_json::json!({ "imported": false, "problems": problems })
        );
    } else {
        for problem in problems {
            say!(
                "baris/line {} [{}]: {} / {}",
                problem.line,
                problem.column,
                problem.message_id,
                problem.message
            );
        }
    }
    Ok(())
}

/// The environment variable a staff password may come from (scripts, tests).
pub const STAFF_PASSWORD_VARIABLE: &str = "LINDUNG_STAFF_PASSWORD";

/// A new staff password: from [`STAFF_PASSWORD_VARIABLE`], else asked twice
/// in the terminal. Never a command-line argument (it would show in `ps`
/// and the shell history).
fn read_staff_password() -> anyhow::Result<String> {
    use std::io::IsTerminal as _;
    let password = match std::env::var(STAFF_PASSWORD_VARIABLE) {
        Ok(password) => password,
        Err(_) => {
            if !std::io::stdin().is_terminal() {
                bail!(
                    "kata sandi diperlukan: setel {STAFF_PASSWORD_VARIABLE} atau jalankan di terminal / \
                     a password is needed: set {STAFF_PASSWORD_VARIABLE} or run in a terminal"
                );
            }
            let first = rpassword::prompt_password("Kata sandi / password: ")
                .context("cannot read the password")?;
            let again = rpassword::prompt_password("Ulangi / again: ")
                .context("cannot read the password")?;
            if first != again {
                bail!("kata sandi tidak sama / the passwords differ");
            }
            first
        }
    };
    if password.chars().count() < crate::secrets::MIN_PASSWORD_CHARS {
        bail!(
            "kata sandi minimal {n} karakter / the password needs at least {n} characters",
            n = crate::secrets::MIN_PASSWORD_CHARS
        );
    }
    Ok(password)
}

/// A login name as stored: trimmed, lower-case; letters, digits, `.`, `_`, `-`.
pub fn normalize_login(login: &str) -> anyhow::Result<String> {
    let login = login.trim().to_lowercase();
    if !(2..=64).contains(&login.chars().count())
        || !login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        bail!(
            "--login {login:?}: 2 sampai 64 huruf, angka, titik, garis bawah atau tanda hubung / \
             2 to 64 letters, digits, dots, underscores or hyphens"
        );
    }
    Ok(login)
}

/// `--region` of an export: a known region code, else an error naming the option.
fn export_region(region: &str) -> anyhow::Result<String> {
    region_code(Some(region))
        .with_context(|| format!("--region {region:?}: wilayah tidak dikenal / no such region"))
}

#[allow(clippy::too_many_arguments)]
async fn export_coverage(
    storage: &dyn Storage,
    actor: &str,
    region: &str,
    level: Option<&str>,
    year: Option<i32>,
    include_baseline: bool,
    format: ExportFormat,
    output: &std::path::Path,
) -> anyhow::Result<()> {
    let code = export_region(region)?;
    let level = level.map(parse_level).transpose()?;
    if let Some(level) = level
        && level.code_len() <= code.len()
    {
        bail!("--level must be below the region {code}");
    }
    let year = year.unwrap_or(OffsetDateTime::now_utc().year());
    let written = export_coverage_file(
        storage,
        actor,
        &code,
        level,
        year,
        include_baseline,
        format,
        output,
    )
    .await?;
    say!(
        "{written} baris ditulis ke / rows written to {}",
        output.display()
    );
    Ok(())
}

/// Writes the coverage of region `code` (or of every region of `level`
/// inside it) to `output` and records the export in the audit log; returns
/// the rows written. Used by `export coverage` and the dashboard.
#[allow(clippy::too_many_arguments)]
pub async fn export_coverage_file(
    storage: &dyn Storage,
    actor: &str,
    code: &str,
    level: Option<lindung_shared::region::Level>,
    year: i32,
    include_baseline: bool,
    format: ExportFormat,
    output: &std::path::Path,
) -> anyhow::Result<u64> {
    let now = OffsetDateTime::now_utc();
    let rows = match level {
        Some(level) => {
            crate::report::regions_coverage(storage, code, level, year, include_baseline, now)
                .await?
        }
        None => vec![
            crate::report::region_coverage(storage, code, year, include_baseline, now)
                .await?
                .row,
        ],
    };
    let written = crate::export::write_coverage(output, format, &rows)
        .with_context(|| format!("export to {} failed; nothing was written", output.display()))?;
    audit(
        storage,
        actor,
        action::EXPORT_COVERAGE,
        code,
        serde_json::json!({
            "region": code,
            "level": level.map(|l| l.name_en()),
            "year": year,
            "baseline_included": include_baseline,
            "format": format.name(),
            "rows": written,
            "file": output.display().to_string(),
        }),
    )
    .await?;
    Ok(written)
}

async fn export_registrations(
    storage: &dyn Storage,
    actor: &str,
    region: &str,
    format: ExportFormat,
    output: &std::path::Path,
) -> anyhow::Result<()> {
    let code = export_region(region)?;
    let written = export_registrations_file(storage, actor, &code, format, output).await?;
    say!(
        "{written} pendaftaran ditulis ke / registrations written to {} (NIK disamarkan / NIKs masked)",
        output.display()
    );
    Ok(())
}

/// Writes the active registrations of region `code` to `output` (NIKs
/// masked) and records the export in the audit log; returns the rows
/// written. Used by `export registrations` and the dashboard.
pub async fn export_registrations_file(
    storage: &dyn Storage,
    actor: &str,
    code: &str,
    format: ExportFormat,
    output: &std::path::Path,
) -> anyhow::Result<u64> {
    let written = crate::export::write_registrations(storage, code, output, format)
        .await
        .with_context(|| format!("export to {} failed; nothing was written", output.display()))?;
    audit(
        storage,
        actor,
        action::EXPORT_REGISTRATIONS,
        code,
        serde_json::json!({
            "region": code,
            "format": format.name(),
            "rows": written,
            "file": output.display().to_string(),
        }),
    )
    .await?;
    Ok(written)
}

async fn list_audit(
    storage: &dyn Storage,
    limit: u32,
    action: Option<String>,
    since: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let since_ms = since
        .map(|text| {
            lindung_shared::validation::parse_date(text)
                .with_context(|| format!("--since {text:?}: a date such as 2026-01-01"))
                .map(|date| storage::ms(date.midnight().assume_utc()))
        })
        .transpose()?;
    let entries = storage
        .audit_entries(&AuditFilter {
            limit,
            action,
            since_ms,
        })
        .await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        say!("Belum ada catatan audit. / No audit entries yet.");
        return Ok(());
    }
    say!(
        "{:<20}  {:<16}  {:<22}  {:<36}  rincian/details",
        "waktu/time (UTC)",
        "staf/staff",
        "tindakan/action",
        "subjek/subject"
    );
    for entry in entries {
        let at = entry
            .at
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .unwrap_or_default();
        say!(
            "{at:<20}  {:<16}  {:<22}  {:<36}  {}",
            entry.actor,
            entry.action,
            entry.subject,
            entry.details
        );
    }
    Ok(())
}

fn show_regions(json: bool) -> anyhow::Result<()> {
    let summary = RegionSummary::of(regions());
    if json {
        say!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        say!("{}", summary.to_string().trim_end());
    }
    Ok(())
}

/// While `serve` runs on a SQLite file, it holds that file's serve lock so
/// `restore` cannot swap the database under it.
fn serve_lock(url: &DatabaseUrl) -> anyhow::Result<Option<crate::backup::ServeLock>> {
    let DatabaseUrl::Sqlite(path) = url else {
        return Ok(None);
    };
    match crate::backup::try_serve_lock(path)? {
        Some(lock) => Ok(Some(lock)),
        None => bail!(
            "another lindung-server is already serving {} / server lain sudah berjalan dengan basis data ini",
            path.display()
        ),
    }
}

const POSTGRES_BACKUP_HELP: &str = "PostgreSQL is backed up and restored with its own tools: \
    pg_dump --format=custom --file=FILE URL, then pg_restore --clean --if-exists --dbname=URL FILE \
    and `lindung-server store-id --renew` (docs/operations.md)";

/// Most bytes of a bundle file read.
const MAX_BUNDLE_FILE: u64 = crate::bundle::MAX_BUNDLE_BYTES as u64;

async fn import_bundle(
    storage: Arc<dyn Storage>,
    actor: &str,
    file: &std::path::Path,
    receipt: Option<std::path::PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    use lindung_shared::lang::{Lang, Problem};
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > MAX_BUNDLE_FILE {
        bail!(
            "{} is {size} bytes, more than a bundle can be ({MAX_BUNDLE_FILE})",
            file.display()
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let state = crate::api::AppState::new(storage).await?;
    let imported = match crate::bundle::import(&state, &bytes, actor).await {
        Ok(imported) => imported,
        Err(error) => {
            let text = format!(
                "{}: {}\n{}",
                file.display(),
                error.message(Lang::Id),
                error.message(Lang::En)
            );
            return Err(anyhow::Error::new(error).context(text));
        }
    };
    let import = &imported.import;
    let target = receipt
        .unwrap_or_else(|| file.with_file_name(crate::bundle::receipt_file_name(import.bundle_id)));
    crate::bundle::write_file(&target, &import.receipt)
        .with_context(|| format!("cannot write the receipt {}", target.display()))?;
    if json {
        let mut value = serde_json::to_value(import)?;
        if let Some(fields) = value.as_object_mut() {
            fields.insert("device_name".into(), imported.device_name.clone().into());
            fields.insert("officer_name".into(), imported.officer_name.clone().into());
            fields.insert("already_imported".into(), imported.again.into());
            fields.insert("receipt".into(), target.display().to_string().into());
        }
        say!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    for lang in [Lang::Id, Lang::En] {
        if let Some(before) = imported.applied_before(lang) {
            say!("{before}");
        }
    }
    say!("{}", imported.summary(Lang::Id));
    say!("{}", imported.summary(Lang::En));
    say!(
        "Tanda terima / receipt: {}\nBawa kembali ke laptop / take it back to the laptop: lindung-agent bundle import {}",
        target.display(),
        target.display()
    );
    Ok(())
}

async fn list_bundles(storage: &dyn Storage, limit: u32, json: bool) -> anyhow::Result<()> {
    let imports = storage.bundle_imports(limit).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&imports)?);
        return Ok(());
    }
    if imports.is_empty() {
        say!("Belum ada paket yang diterapkan. / No bundles applied yet.");
    }
    for import in imports {
        say!(
            "{}  {}  {}  {}  {} changes: {} accepted, {} duplicate, {} rejected",
            import.bundle_id,
            import.imported_at.date(),
            import.device_id,
            import.imported_by,
            import.operations,
            import.accepted,
            import.duplicates,
            import.rejected
        );
    }
    Ok(())
}

async fn backup(
    actor: &str,
    file: &std::path::Path,
    database: &DatabaseArgs,
) -> anyhow::Result<()> {
    let url = database.url()?;
    let DatabaseUrl::Sqlite(path) = &url else {
        bail!("{POSTGRES_BACKUP_HELP}");
    };
    let (source, target) = (path.clone(), file.to_owned());
    let done = tokio::task::spawn_blocking(move || crate::backup::backup_sqlite(&source, &target))
        .await
        .context("the backup task failed")??;
    let storage = database.open().await?;
    audit(
        storage.as_ref(),
        actor,
        action::BACKUP,
        &done.path.display().to_string(),
        serde_json::json!({ "bytes": done.bytes }),
    )
    .await?;
    say!(
        "Cadangan ditulis / backup written: {} ({} bytes)",
        done.path.display(),
        done.bytes
    );
    Ok(())
}

async fn restore(
    actor: &str,
    file: &std::path::Path,
    database: &DatabaseArgs,
) -> anyhow::Result<()> {
    let url = database.url()?;
    let DatabaseUrl::Sqlite(path) = &url else {
        bail!("{POSTGRES_BACKUP_HELP}");
    };
    let Some(lock) = crate::backup::try_serve_lock(path)? else {
        return Err(crate::backup::BackupError::ServerRunning(path.clone()).into());
    };
    let (backup, target) = (file.to_owned(), path.clone());
    let (restored, lock) = tokio::task::spawn_blocking(move || {
        let restored =
            crate::backup::put_backup_in_place(&backup, &target, &lock, OffsetDateTime::now_utc());
        (restored, lock)
    })
    .await
    .context("the restore task failed")?;
    let restored = restored?;
    let storage = database.open().await?;
    let id = storage.renew_store_id().await?;
    audit(
        storage.as_ref(),
        actor,
        action::RESTORE,
        &file.display().to_string(),
        serde_json::json!({
            "store_id": id.to_string(),
            "previous_kept_as": restored.previous_kept_as.as_ref().map(|p| p.display().to_string()),
        }),
    )
    .await?;
    drop(lock);
    say!(
        "Dipulihkan / restored: {} → {}",
        file.display(),
        path.display()
    );
    if let Some(kept) = &restored.previous_kept_as {
        say!(
            "Basis data sebelumnya disimpan / the previous database is kept as: {}",
            kept.display()
        );
    }
    say!(
        "Identitas baru {id}: agen akan mengirim ulang yang belum ada di cadangan. / New identity {id}: agents will send again what the backup lacks."
    );
    Ok(())
}

/// `config check` once the file was read and applied without a problem.
fn show_config(configured: &lindung_shared::config::Configured) -> anyhow::Result<()> {
    match &configured.source {
        None => {
            say!(
                "Tidak ada berkas konfigurasi; nilai bawaan dipakai. / No configuration file; the built-in defaults apply."
            );
            let places: Vec<String> = config_places()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            say!("  (dicari / looked in: {})", places.join(", "));
        }
        Some(path) => {
            say!("{}: OK", path.display());
            for entry in &configured.entries {
                say!("  {} = {}", entry.name(), entry.value);
            }
        }
    }
    Ok(())
}
