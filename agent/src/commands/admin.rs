//! `init`, `status`, `progress`, `village set-positions` and `passphrase change`.

use std::io::{self, Write};
use std::path::Path;

use anyhow::bail;
use clap::{Args, Subcommand};
use lindung_shared::lang::Lang;
use lindung_shared::region::{Level, normalize_code, regions};
use lindung_shared::registration::Category;
use serde_json::json;

use crate::output::{Outcome, now, print_json, problem};
use crate::session::{NEW_PASSPHRASE_ENV, PASSPHRASE_ENV, passphrase};
use crate::store::{KdfCost, Store};

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The officer's full name.
    #[arg(long)]
    pub officer: String,
    /// Cheap key derivation, for automated tests only: do not use with real data.
    #[arg(long, hide = true)]
    pub insecure_fast_kdf: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `init`: creates the encrypted store.
pub fn init(dir: &Path, args: &InitArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let first = passphrase(PASSPHRASE_ENV, "Kata sandi baru", "New passphrase", lang)?;
    if std::env::var(PASSPHRASE_ENV).is_err() {
        let again = passphrase(
            PASSPHRASE_ENV,
            "Ulangi kata sandi",
            "Repeat the passphrase",
            lang,
        )?;
        if again != first {
            match lang {
                Lang::Id => bail!("kedua kata sandi tidak sama; tidak ada yang dibuat"),
                Lang::En => bail!("the two passphrases differ; nothing was created"),
            }
        }
    }
    let cost = if args.insecure_fast_kdf {
        KdfCost::InsecureFast
    } else {
        KdfCost::Standard
    };
    let store =
        Store::init(dir, &args.officer, &first, cost, now()).map_err(|e| problem(e, lang))?;
    if args.json {
        print_json(
            &json!({ "data_dir": dir, "device_id": store.device_id(), "officer": store.officer().1 }),
        )?;
    } else {
        match lang {
            Lang::Id => println!(
                "Siap. Data terenkripsi untuk petugas {} disimpan di {}.\nLanjut: lindung-agent register --help",
                store.officer().1,
                dir.display()
            ),
            Lang::En => println!(
                "Ready. Encrypted data for officer {} is kept in {}.\nNext: lindung-agent register --help",
                store.officer().1,
                dir.display()
            ),
        }
    }
    Ok(Outcome::Success)
}

/// Arguments of commands that only print.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `compact`.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// Keep every version younger than this many days (remembered for the
    /// next compaction; default 180).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub keep_days: Option<u32>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `compact`: now, with the retention given (and remembered) or stored,
/// and gives the freed space back to the disk.
pub fn compact(store: &mut Store, args: &CompactArgs, lang: Lang) -> anyhow::Result<Outcome> {
    if let Some(days) = args.keep_days {
        store.set_keep_days(days).map_err(|e| problem(e, lang))?;
    }
    let days = store.keep_days().map_err(|e| problem(e, lang))?;
    let before = crate::output::now() - time::Duration::days(i64::from(days));
    let tally = store.compact(before, true).map_err(|e| problem(e, lang))?;
    if args.json {
        print_json(&json!({ "keep_days": days, "compaction": tally }))?;
        return Ok(Outcome::Success);
    }
    let mb = |bytes: u64| bytes as f64 / 1_048_576.0;
    match lang {
        Lang::Id => println!(
            "Dipadatkan (simpan {days} hari): {} versi lama dibuang, {} disimpan; {:.1} MB → {:.1} MB",
            tally.operations_removed,
            tally.operations_kept,
            mb(tally.bytes_before),
            mb(tally.bytes_after)
        ),
        Lang::En => println!(
            "Compacted (keeping {days} days): {} old versions removed, {} kept; {:.1} MB → {:.1} MB",
            tally.operations_removed,
            tally.operations_kept,
            mb(tally.bytes_before),
            mb(tally.bytes_after)
        ),
    }
    Ok(Outcome::Success)
}

/// Runs `status`.
pub fn status(store: &Store, args: &JsonArg, lang: Lang) -> anyhow::Result<Outcome> {
    let status = store.status().map_err(|e| problem(e, lang))?;
    let enrollment = store.enrollment().map_err(|e| problem(e, lang))?;
    let duplicates = store
        .duplicate_notice_count()
        .map_err(|e| problem(e, lang))?;
    let last_bundle = store.last_export().map_err(|e| problem(e, lang))?;
    if args.json {
        print_json(&json!({
            "officer": store.officer().1,
            "device_id": store.device_id(),
            "data_dir": store.dir(),
            "server": enrollment,
            "records_with_duplicate_notice": duplicates,
            "last_bundle": last_bundle,
            "status": status,
        }))?;
        return Ok(Outcome::Success);
    }
    let mut out = io::stdout().lock();
    let never = match lang {
        Lang::Id => "belum pernah",
        Lang::En => "never",
    };
    let labels = match lang {
        Lang::Id => [
            "Petugas",
            "Pendaftaran",
            "aktif",
            "ditarik",
            "Perubahan belum terkirim",
            "Sinkron terakhir",
            "Ditolak server",
        ],
        Lang::En => [
            "Officer",
            "Registrations",
            "active",
            "withdrawn",
            "Changes not yet sent",
            "Last sync",
            "Refused by the server",
        ],
    };
    writeln!(out, "{:<26} {}", labels[0], store.officer().1)?;
    let server_label = match lang {
        Lang::Id => "Server",
        Lang::En => "Server",
    };
    match &enrollment {
        Some(enrollment) => writeln!(
            out,
            "{:<26} {} [{}]",
            server_label,
            enrollment.server_url,
            enrollment.officer.regions.join(", ")
        )?,
        None => writeln!(
            out,
            "{:<26} {}",
            server_label,
            match lang {
                Lang::Id => "belum terdaftar (lindung-agent enroll --server URL --code KODE)",
                Lang::En => "not enrolled (lindung-agent enroll --server URL --code CODE)",
            }
        )?,
    }
    writeln!(
        out,
        "{:<26} {} ({} {}, {} {})",
        labels[1], status.registrations, status.active, labels[2], status.withdrawn, labels[3]
    )?;
    writeln!(out, "{:<26} {}", labels[4], status.pending_changes)?;
    writeln!(
        out,
        "{:<26} {}",
        labels[5],
        status.last_sync_at.as_deref().unwrap_or(never)
    )?;
    if let Some(bundle) = &last_bundle {
        writeln!(
            out,
            "{:<26} {}",
            match lang {
                Lang::Id => "Paket flashdisk terakhir",
                Lang::En => "Last USB bundle",
            },
            match lang {
                Lang::Id => format!(
                    "{}, {} perubahan, {}",
                    bundle.written_at, bundle.operations, bundle.file
                ),
                Lang::En => format!(
                    "{}, {} changes, {}",
                    bundle.written_at, bundle.operations, bundle.file
                ),
            }
        )?;
    }
    writeln!(out, "{:<26} {}", labels[6], status.rejected.len())?;
    for rejected in &status.rejected {
        writeln!(
            out,
            "  #{} {}: {} {}",
            rejected.seq,
            rejected.record_id,
            rejected.error_code.as_deref().unwrap_or("-"),
            rejected.reason(lang)
        )?;
    }
    if duplicates > 0 {
        writeln!(
            out,
            "{:<26} {}",
            match lang {
                Lang::Id => "NIK terdaftar ganda",
                Lang::En => "NIK registered twice",
            },
            duplicates
        )?;
    }
    Ok(Outcome::Success)
}

/// Runs `check`: exit code 0 when the store is sound, 1 when something is wrong.
pub fn check(store: &Store, args: &JsonArg, lang: Lang) -> anyhow::Result<Outcome> {
    let report = store.check().map_err(|e| problem(e, lang))?;
    if args.json {
        print_json(&report)?;
    } else if report.problems.is_empty() {
        match lang {
            Lang::Id => println!(
                "Data utuh: {} pendaftaran, {} perubahan dari laptop ini, tanpa celah.",
                report.registrations, report.own_operations
            ),
            Lang::En => println!(
                "Data is sound: {} registrations, {} changes from this laptop, no gaps.",
                report.registrations, report.own_operations
            ),
        }
    } else {
        for problem in &report.problems {
            println!("✗ {problem}");
        }
    }
    Ok(Outcome::from_bool(report.problems.is_empty()))
}

/// Arguments of `progress`.
#[derive(Debug, Args)]
pub struct ProgressArgs {
    /// The village (10-digit code).
    #[arg(long)]
    pub village: String,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

fn village_code(text: &str, lang: Lang) -> anyhow::Result<String> {
    match normalize_code(text).and_then(|code| regions().get(&code)) {
        Some(region) if region.level == Level::Village => Ok(region.code.to_owned()),
        _ => match lang {
            Lang::Id => bail!("{text:?} bukan kode desa/kelurahan yang dikenal"),
            Lang::En => bail!("{text:?} is not a known village code"),
        },
    }
}

/// Runs `progress`: what is done and left in a village.
pub fn progress(store: &Store, args: &ProgressArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let code = village_code(&args.village, lang)?;
    let progress = store.progress(&code).map_err(|e| problem(e, lang))?;
    let count = |category: Category| {
        progress
            .by_category
            .get(category.code())
            .copied()
            .unwrap_or(0)
    };
    if args.json {
        print_json(&json!({
            "village": regions().full_name(&code),
            "progress": progress,
            "rt_heads": count(Category::RtHead),
            "rw_heads": count(Category::RwHead),
        }))?;
        return Ok(Outcome::Success);
    }
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{} {}",
        code,
        regions().full_name(&code).unwrap_or_default()
    )?;
    for category in Category::ALL {
        let n = count(*category);
        if n > 0 {
            writeln!(out, "  {:<46} {n:>5}", category.label(lang))?;
        }
    }
    writeln!(
        out,
        "  {:<46} {:>5}",
        match lang {
            Lang::Id => "Jumlah aktif",
            Lang::En => "Active in total",
        },
        progress.active
    )?;
    for (category, positions) in [
        (Category::RtHead, progress.rt_positions),
        (Category::RwHead, progress.rw_positions),
    ] {
        match positions {
            Some(total) => {
                let done = count(category);
                writeln!(
                    out,
                    "  {}: {done} / {total} ({} {})",
                    category.label(lang),
                    total.saturating_sub(done),
                    match lang {
                        Lang::Id => "belum",
                        Lang::En => "left",
                    }
                )?;
            }
            None => writeln!(
                out,
                "  {}: {}",
                category.label(lang),
                match lang {
                    Lang::Id =>
                        "jumlah jabatan belum dicatat (lindung-agent village set-positions)",
                    Lang::En => "positions not recorded yet (lindung-agent village set-positions)",
                }
            )?,
        }
    }
    if progress.provisional {
        writeln!(
            out,
            "  {}",
            match lang {
                Lang::Id => "(sementara: sebagian belum terkirim ke server)",
                Lang::En => "(provisional: some changes are not on the server yet)",
            }
        )?;
    }
    Ok(Outcome::Success)
}

/// `village` subcommands.
#[derive(Debug, Subcommand)]
pub enum VillageCommand {
    /// Record how many RT and RW a village has, to measure progress against.
    SetPositions {
        /// The village (10-digit code).
        #[arg(long)]
        village: String,
        /// Number of RT.
        #[arg(long)]
        rt: u32,
        /// Number of RW.
        #[arg(long)]
        rw: u32,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `village …`.
pub fn village(store: &mut Store, command: &VillageCommand, lang: Lang) -> anyhow::Result<Outcome> {
    match command {
        VillageCommand::SetPositions {
            village,
            rt,
            rw,
            json,
        } => {
            let code = village_code(village, lang)?;
            store
                .set_positions(&code, *rt, *rw, now())
                .map_err(|e| problem(e, lang))?;
            if *json {
                print_json(
                    &json!({ "village_code": code, "rt_positions": rt, "rw_positions": rw }),
                )?;
                return Ok(Outcome::Success);
            }
            match lang {
                Lang::Id => println!("Dicatat: {code} punya {rt} RT dan {rw} RW."),
                Lang::En => println!("Recorded: {code} has {rt} RT and {rw} RW."),
            }
            Ok(Outcome::Success)
        }
    }
}

/// `passphrase` subcommands.
#[derive(Debug, Subcommand)]
pub enum PassphraseCommand {
    /// Re-encrypt the store with a new passphrase (`LINDUNG_NEW_PASSPHRASE` or a prompt).
    Change {
        /// Cheap key derivation, for automated tests only.
        #[arg(long, hide = true)]
        insecure_fast_kdf: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `passphrase …`.
pub fn change_passphrase(
    store: &mut Store,
    command: &PassphraseCommand,
    lang: Lang,
) -> anyhow::Result<Outcome> {
    let PassphraseCommand::Change {
        insecure_fast_kdf,
        json,
    } = command;
    let new = passphrase(
        NEW_PASSPHRASE_ENV,
        "Kata sandi baru",
        "New passphrase",
        lang,
    )?;
    let cost = if *insecure_fast_kdf {
        KdfCost::InsecureFast
    } else {
        KdfCost::Standard
    };
    store
        .change_passphrase(&new, cost)
        .map_err(|e| problem(e, lang))?;
    if *json {
        print_json(&json!({ "rekeyed": true }))?;
        return Ok(Outcome::Success);
    }
    match lang {
        Lang::Id => println!("Kata sandi diganti; data dienkripsi ulang."),
        Lang::En => println!("Passphrase changed; the data was re-encrypted."),
    }
    Ok(Outcome::Success)
}
