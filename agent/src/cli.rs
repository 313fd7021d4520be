//! Command-line interface of `lindung-agent`.
//!
//! Messages are in Bahasa Indonesia unless `--lang en` (or `LINDUNG_LANG=en`)
//! asks for English. Every command can print `--json` for scripts.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lindung_shared::lang::Lang;

use crate::commands;
use crate::output::Outcome;

/// Agen lapangan Lindung: pendaftaran pekerja BPJS Ketenagakerjaan tanpa internet.
/// Lindung field agent: register workers for BPJS Ketenagakerjaan, offline.
#[derive(Debug, Parser)]
#[command(name = "lindung-agent", version, propagate_version = true)]
pub struct Cli {
    /// Language of messages: id (Bahasa Indonesia) or en (English).
    #[arg(long, global = true, env = "LINDUNG_LANG", default_value = "id")]
    pub lang: Lang,

    /// Where the encrypted data lives (default: the platform's data directory).
    #[arg(long, global = true, env = "LINDUNG_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Berkas konfigurasi (bawaan: /etc/lindung/agent.toml, lalu agent.toml di
    /// direktori konfigurasi pengguna; tidak wajib ada).
    /// The configuration file (default: /etc/lindung/agent.toml, else agent.toml
    /// in the user's configuration directory; none is needed).
    #[arg(long, global = true, env = "LINDUNG_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The agent's commands.
// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Periksa NIK: sah atau tidak, jenis kelamin, tanggal lahir, kecamatan.
    /// Check NIKs: verdict, derived sex and birth date, district of registration.
    Nik(commands::nik::NikArgs),
    /// Cari kode wilayah, atau cari wilayah berdasarkan nama.
    /// Look up a region code, or search regions by name.
    Region(commands::region::RegionArgs),
    /// Siapkan laptop ini: nama petugas dan kata sandi yang mengenkripsi data.
    /// Set up this laptop: officer name and the passphrase that encrypts the data.
    Init(commands::admin::InitArgs),
    /// Buka antarmuka web di browser laptop ini (http://127.0.0.1:7878/).
    /// Serve the officer's web UI on this laptop (http://127.0.0.1:7878/).
    Serve(crate::ui::ServeArgs),
    /// Periksa berkas konfigurasi: kunci yang tidak dikenal dan nilai yang salah.
    /// Check the configuration file: unknown keys and bad values.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Commands that open the encrypted store.
    #[command(flatten)]
    WithStore(StoreCommand),
}

/// `config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Periksa berkas konfigurasi dan tampilkan nilainya. Check the file and show its values.
    Check,
}

/// Commands that need the unlocked store.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Daftarkan pekerja (menanyakan isian yang kurang di terminal).
    /// Register a worker (asks for missing fields on a terminal).
    Register(commands::registration::RegisterArgs),
    /// Daftar pendaftaran (NIK disamarkan). List registrations (NIK masked).
    List(commands::registration::ListArgs),
    /// Tampilkan satu pendaftaran. Show one registration with its earlier values.
    Show(commands::registration::ShowArgs),
    /// Ubah isian pendaftaran. Change fields of a registration.
    Edit(commands::registration::EditArgs),
    /// Tarik pendaftaran, dengan alasan. Withdraw a registration, with a reason.
    Withdraw(commands::registration::WithdrawArgs),
    /// Ringkasan dan status sinkron. Counts, changes not yet sent, refused changes.
    Status(commands::admin::JsonArg),
    /// Kemajuan di satu desa. What is done and left in a village.
    Progress(commands::admin::ProgressArgs),
    /// Data desa yang dicatat petugas. Village facts the officer records.
    #[command(subcommand)]
    Village(commands::admin::VillageCommand),
    /// Impor pendaftaran dari spreadsheet desa (.csv, .xlsx); baris yang ditolak ditulis ke laporan.
    /// Import registrations from a village spreadsheet; refused rows go to a report.
    Import(commands::transfer::ImportArgs),
    /// Ekspor pendaftaran ke .csv atau .xlsx (berisi NIK lengkap).
    /// Export registrations to .csv or .xlsx (full NIKs).
    Export(commands::transfer::ExportArgs),
    /// Periksa keutuhan data. Verify the stored data is whole and consistent.
    Check(commands::admin::JsonArg),
    /// Padatkan data lama: buang versi lama yang sudah tertimpa dan sudah diterima server.
    /// Compact: drop old versions that were overwritten and acknowledged by the server.
    Compact(commands::admin::CompactArgs),
    /// Ganti kata sandi. Change the passphrase (re-encrypts the data).
    #[command(subcommand)]
    Passphrase(commands::admin::PassphraseCommand),
    /// Daftarkan laptop ini ke server dengan kode dari staf.
    /// Enrol this laptop with a server, using a code from staff.
    Enroll(commands::sync::EnrollArgs),
    /// Kirim perubahan ke server dan terima perubahan dari petugas lain.
    /// Send changes to the server and receive other officers' changes.
    Sync(commands::sync::SyncArgs),
    /// Token perangkat untuk server. The device token for the server.
    #[command(subcommand)]
    Token(commands::sync::TokenCommand),
    /// Kirim lewat flashdisk saat tidak ada sinyal: paket perubahan dan tanda terimanya.
    /// Sync by USB stick when there is no signal: the outbox bundle and its receipt.
    #[command(subcommand)]
    Bundle(commands::bundle::BundleCommand),
}

/// Runs one command; the ones that need the store open it (asking for the passphrase once).
fn run(command: Command, data_dir: Option<PathBuf>, lang: Lang) -> anyhow::Result<Outcome> {
    use commands::{admin, registration};
    let command = match command {
        Command::Nik(args) => return commands::nik::run(&args, lang),
        Command::Region(args) => return commands::region::run(&args, lang),
        Command::Init(args) => {
            return admin::init(&crate::session::data_dir(data_dir)?, &args, lang);
        }
        Command::Serve(args) => {
            crate::ui::serve(&args, crate::session::data_dir(data_dir)?, lang)?;
            return Ok(Outcome::Success);
        }
        Command::Config(ConfigCommand::Check) => {
            anyhow::bail!("`config check` is handled before any command runs")
        }
        Command::WithStore(command) => command,
    };
    let mut store = crate::session::open(&crate::session::data_dir(data_dir)?, lang)?;
    match command {
        StoreCommand::Register(args) => registration::register(&mut store, &args, lang),
        StoreCommand::List(args) => registration::list(&store, &args, lang),
        StoreCommand::Show(args) => registration::show(&store, &args, lang),
        StoreCommand::Edit(args) => registration::edit(&mut store, &args, lang),
        StoreCommand::Withdraw(args) => registration::withdraw(&mut store, &args, lang),
        StoreCommand::Status(args) => admin::status(&store, &args, lang),
        StoreCommand::Check(args) => admin::check(&store, &args, lang),
        StoreCommand::Compact(args) => admin::compact(&mut store, &args, lang),
        StoreCommand::Import(args) => commands::transfer::import(&mut store, &args, lang),
        StoreCommand::Export(args) => commands::transfer::export(&store, &args, lang),
        StoreCommand::Progress(args) => admin::progress(&store, &args, lang),
        StoreCommand::Village(command) => admin::village(&mut store, &command, lang),
        StoreCommand::Passphrase(command) => admin::change_passphrase(&mut store, &command, lang),
        StoreCommand::Enroll(args) => commands::sync::enroll(&mut store, &args, lang),
        StoreCommand::Sync(args) => commands::sync::run(&mut store, &args, lang),
        StoreCommand::Token(command) => commands::sync::token(&mut store, &command, lang),
        StoreCommand::Bundle(command) => commands::bundle::run(&mut store, &command, lang),
    }
}

/// Parses the command line, runs the command and turns the result into an exit code:
/// 0 success, 1 the command ran but found something invalid or missing, 2 an error.
/// Where a configuration file is looked for when none is named.
fn config_places() -> Vec<PathBuf> {
    let mut places = Vec::new();
    if cfg!(unix) {
        places.push(PathBuf::from("/etc/lindung/agent.toml"));
    }
    if let Some(dirs) = directories::ProjectDirs::from("id", "Lindung", "lindung-agent") {
        places.push(dirs.config_dir().join("agent.toml"));
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
            eprintln!("galat / error: {failure}");
            eprintln!("Perbaiki berkas konfigurasi. / Fix the configuration file.");
            return ExitCode::from(lindung_shared::config::failure_exit_code(&args));
        }
    };
    let matches = configured.command.clone().get_matches_from(&args);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let lang = cli.lang;
    if let Command::Config(ConfigCommand::Check) = cli.command {
        show_config(&configured, lang);
        return ExitCode::SUCCESS;
    }
    let result = run(cli.command, cli.data_dir, lang);
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(error) if crate::output::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let label = match lang {
                Lang::Id => "galat",
                Lang::En => "error",
            };
            eprintln!("{label}: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// `config check` once the file was read and applied without a problem.
fn show_config(configured: &lindung_shared::config::Configured, lang: Lang) {
    match &configured.source {
        None => {
            println!(
                "{}",
                match lang {
                    Lang::Id => "Tidak ada berkas konfigurasi; nilai bawaan dipakai.",
                    Lang::En => "No configuration file; the built-in defaults apply.",
                }
            );
            let places: Vec<String> = config_places()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            println!("  ({})", places.join(", "));
        }
        Some(path) => {
            println!("{}: OK", path.display());
            for entry in &configured.entries {
                println!("  {} = {}", entry.name(), entry.value);
            }
        }
    }
}
