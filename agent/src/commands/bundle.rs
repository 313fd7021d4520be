//! `bundle export` and `bundle import`: the outbox on a USB stick (see
//! [`crate::bundle`]).

use std::path::PathBuf;

use lindung_shared::lang::{Lang, Problem};
use serde_json::json;

use crate::bundle::{self, BundleFailure};
use crate::output::{Outcome, now, print_json};
use crate::store::Store;

/// `bundle …`
#[derive(Debug, clap::Subcommand)]
pub enum BundleCommand {
    /// Tulis semua perubahan yang belum terkirim ke satu berkas (ditandatangani,
    /// terenkripsi) untuk dibawa ke kantor; perubahan tetap menunggu sampai
    /// tanda terimanya diimpor.
    /// Write every unsent change to one signed, encrypted file to carry to
    /// the office; the changes stay pending until its receipt is imported.
    Export {
        /// The file to write, e.g. on a USB stick (replaced if it exists).
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Terapkan tanda terima dari kantor: perubahan yang diterima server
    /// ditandai terkirim.
    /// Apply a receipt from the office: changes the server took are marked sent.
    Import {
        /// The receipt file (`tanda-terima-….lindung`).
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `bundle export` or `bundle import`. A refused file (damaged,
/// altered, for another laptop) prints why and exits with 1; nothing changes.
pub fn run(store: &mut Store, command: &BundleCommand, lang: Lang) -> anyhow::Result<Outcome> {
    let (result, json) = match command {
        BundleCommand::Export { file, json } => (export(store, file, *json, lang), *json),
        BundleCommand::Import { file, json } => (import(store, file, *json, lang), *json),
    };
    match result {
        Ok(outcome) => Ok(outcome),
        Err(failure) if failure.is_refusal() => {
            if json {
                print_json(&json!({ "error": failure.to_message() }))?;
            }
            eprintln!("{} [{}]", failure.message(lang), failure.code());
            Ok(Outcome::Negative)
        }
        Err(failure) => Err(anyhow::anyhow!(
            "{} [{}]",
            failure.message(lang),
            failure.code()
        )),
    }
}

fn export(
    store: &mut Store,
    file: &std::path::Path,
    json: bool,
    lang: Lang,
) -> Result<Outcome, BundleFailure> {
    let exported = bundle::export(store, file, now())?;
    if json {
        print_json(&json!({ "exported": exported, "pending": store.pending_count()? }))
            .map_err(stdout_failed)?;
        return Ok(Outcome::Success);
    }
    let Some(exported) = exported else {
        match lang {
            Lang::Id => {
                println!("Tidak ada perubahan yang menunggu; tidak ada paket yang ditulis.")
            }
            Lang::En => println!("Nothing is waiting to be sent; no bundle was written."),
        }
        return Ok(Outcome::Success);
    };
    let kb = exported.bytes.div_ceil(1024);
    match lang {
        Lang::Id => println!(
            "Paket berisi {} perubahan ditulis ke {} ({kb} KB).\nBawa ke kantor; perubahan tetap menunggu sampai tanda terimanya diimpor (lindung-agent bundle import BERKAS).",
            exported.operations,
            exported.file.display()
        ),
        Lang::En => println!(
            "Bundle with {} changes written to {} ({kb} KB).\nTake it to the office; the changes stay pending until its receipt is imported (lindung-agent bundle import FILE).",
            exported.operations,
            exported.file.display()
        ),
    }
    Ok(Outcome::Success)
}

fn import(
    store: &mut Store,
    file: &std::path::Path,
    json: bool,
    lang: Lang,
) -> Result<Outcome, BundleFailure> {
    let applied = bundle::import_receipt(store, file, now())?;
    if json {
        print_json(&applied).map_err(stdout_failed)?;
        return Ok(Outcome::Success);
    }
    let t = &applied.tally;
    println!("{}", applied.summary(lang));
    if t.rejected > 0 {
        match lang {
            Lang::Id => println!("Alasan penolakan: lindung-agent status / sinkron."),
            Lang::En => println!("Why they were rejected: lindung-agent status."),
        }
    }
    if t.server_changed {
        match lang {
            Lang::Id => println!(
                "Server telah dipulihkan atau diganti sejak sinkron terakhir: semua perubahan akan dikirim ulang."
            ),
            Lang::En => println!(
                "The server was restored or replaced since the last sync: every change will be sent again."
            ),
        }
    }
    Ok(Outcome::Success)
}

/// Printing the result failed (a closed pipe, a full disk).
fn stdout_failed(error: anyhow::Error) -> BundleFailure {
    BundleFailure::Io {
        path: PathBuf::from("<stdout>"),
        source: std::io::Error::other(error.to_string()),
    }
}
