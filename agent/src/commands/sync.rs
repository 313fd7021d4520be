//! `enroll` and `sync`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use lindung_shared::lang::Lang;
use serde_json::json;

use crate::output::{Outcome, now, print_json};
use crate::store::Store;
use crate::sync::{self, Progress, SyncError, SyncSummary};

/// Arguments of `enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The server's address, e.g. https://lindung.example.go.id or http://10.0.0.5:8080.
    #[arg(long)]
    pub server: String,
    /// The one-time code from staff (`lindung-server enroll-code`).
    #[arg(long)]
    pub code: String,
    /// Trust the server's certificate when it is issued by this CA (a PEM
    /// file from staff) instead of the usual public authorities. Kept in the
    /// store: later syncs need no file.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Pin the server's certificate: every later sync refuses any other.
    /// With a fingerprint (SHA-256 as `lindung-server serve` prints it), only
    /// that certificate is accepted, now and later; without one, the
    /// certificate the server presents now (check the printed fingerprint
    /// with staff). Needed for a self-signed certificate without --ca-file.
    #[arg(long, value_name = "SHA256", num_args = 0..=1, default_missing_value = "")]
    pub pin_certificate: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `token …`
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Ganti token perangkat sekarang (sinkron juga menggantinya setiap 30 hari).
    /// Replace the device token now (sync also does every 30 days).
    Rotate {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Keep running: sync now and again every `--interval` seconds, retrying
    /// with growing waits while the server cannot be reached.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between syncs with `--watch`.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub interval: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `enroll`.
pub fn enroll(store: &mut Store, args: &EnrollArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let ca_pem = match &args.ca_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| match lang {
            Lang::Id => anyhow::anyhow!("berkas CA {} tidak terbaca: {e}", path.display()),
            Lang::En => anyhow::anyhow!("cannot read the CA file {}: {e}", path.display()),
        })?),
        None => None,
    };
    let tls = crate::actions::EnrollTls {
        ca_pem,
        pin: args.pin_certificate.clone(),
    };
    let enrollment = crate::actions::enroll(store, &args.server, &args.code, &tls)
        .map_err(|e| anyhow::anyhow!("{}", e.text(lang)))?;
    if args.json {
        print_json(&json!({ "enrollment": enrollment, "device_id": store.device_id() }))?;
        return Ok(Outcome::Success);
    }
    match lang {
        Lang::Id => println!(
            "Terdaftar di {} sebagai petugas {}; wilayah tugas: {}.",
            enrollment.server_url,
            enrollment.officer.name,
            enrollment.officer.regions.join(", ")
        ),
        Lang::En => println!(
            "Enrolled with {} as officer {}; regions: {}.",
            enrollment.server_url,
            enrollment.officer.name,
            enrollment.officer.regions.join(", ")
        ),
    }
    if let Some(pinned) = &enrollment.trust.pinned_certificate {
        match lang {
            Lang::Id => println!(
                "Sertifikat server disematkan (SHA-256 {pinned}); cocokkan dengan staf. Sinkron berikutnya menolak sertifikat lain."
            ),
            Lang::En => println!(
                "Server certificate pinned (SHA-256 {pinned}); check it with staff. Later syncs refuse any other certificate."
            ),
        }
    }
    match lang {
        Lang::Id => println!("Lanjut: lindung-agent sync"),
        Lang::En => println!("Next: lindung-agent sync"),
    }
    Ok(Outcome::Success)
}

/// Runs `token rotate`.
pub fn token(store: &mut Store, command: &TokenCommand, lang: Lang) -> anyhow::Result<Outcome> {
    let TokenCommand::Rotate { json } = command;
    let rotated = sync::rotate_token(store, now()).map_err(|e| sync_error(&e, lang))?;
    if *json {
        print_json(&json!({ "rotated": true, "confirmed": rotated.confirmed }))?;
        return Ok(Outcome::Success);
    }
    match (lang, rotated.confirmed) {
        (Lang::Id, true) => println!("Token perangkat diganti; token lama tidak berlaku lagi."),
        (Lang::En, true) => println!("Device token replaced; the old token no longer works."),
        (Lang::Id, false) => println!(
            "Token perangkat baru tersimpan; token lama berhenti berlaku saat sinkron berikutnya."
        ),
        (Lang::En, false) => {
            println!("New device token stored; the old one stops working at the next sync.")
        }
    }
    Ok(Outcome::Success)
}

fn sync_error(error: &SyncError, lang: Lang) -> anyhow::Error {
    anyhow::anyhow!("{}", error.text(lang))
}

/// Runs `sync`: one run, or the loop with `--watch`.
pub fn run(store: &mut Store, args: &SyncArgs, lang: Lang) -> anyhow::Result<Outcome> {
    if args.watch {
        let json = args.json;
        let result = sync::run_loop(
            store,
            Duration::from_secs(args.interval),
            &|| false,
            &mut |result, wait| report_round(result, wait, json, lang),
        );
        return match result {
            Ok(()) => Ok(Outcome::Success),
            Err(error) => Err(sync_error(&error, lang)),
        };
    }
    let terminal = std::io::stderr().is_terminal() && !args.json;
    let started = std::time::Instant::now();
    let mut progress = |step: Progress| {
        if terminal {
            let left = match step {
                Progress::Pushing { done, total } => time_left(started.elapsed(), done, total),
                Progress::Pulling { .. } => None,
            };
            let line = match (step, lang) {
                (Progress::Pushing { done, total }, Lang::Id) => match left {
                    Some(s) => format!("Mengirim {done}/{total} perubahan… sisa ± {s} detik"),
                    None => format!("Mengirim {done}/{total} perubahan…"),
                },
                (Progress::Pushing { done, total }, Lang::En) => match left {
                    Some(s) => format!("Sending {done}/{total} changes… about {s} s left"),
                    None => format!("Sending {done}/{total} changes…"),
                },
                (Progress::Pulling { received }, Lang::Id) => {
                    format!("Menerima {received} perubahan…")
                }
                (Progress::Pulling { received }, Lang::En) => {
                    format!("Receiving {received} changes…")
                }
            };
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        }
    };
    let result = sync::sync_once(store, &mut progress, now);
    if terminal {
        eprintln!();
    }
    match result {
        Ok(summary) => {
            if args.json {
                print_json(&json!({ "summary": summary }))?;
            } else {
                print_summary(store, &summary, lang)?;
            }
            Ok(Outcome::from_bool(summary.rejected == 0))
        }
        Err(error) => Err(sync_error(&error, lang)),
    }
}

fn report_round(
    result: &Result<SyncSummary, SyncError>,
    wait: Option<Duration>,
    json: bool,
    lang: Lang,
) {
    let wait_s = wait.map(|w| w.as_secs_f64().round() as u64);
    if json {
        let line = match result {
            Ok(summary) => json!({ "summary": summary, "next_in_s": wait_s }),
            Err(error) => json!({
                "error": error.to_string(),
                "transient": error.is_transient(),
                "next_in_s": wait_s,
            }),
        };
        println!("{line}");
        return;
    }
    match (result, lang) {
        (Ok(s), Lang::Id) => println!(
            "sinkron: {} dikirim, {} diterima server, {} ditolak, {} diterima dari server",
            s.sent, s.accepted, s.rejected, s.received
        ),
        (Ok(s), Lang::En) => println!(
            "sync: {} sent, {} accepted, {} refused, {} received",
            s.sent, s.accepted, s.rejected, s.received
        ),
        (Err(error), lang) => eprintln!("{}", error.text(lang)),
    }
    if let Some(line) = result
        .as_ref()
        .ok()
        .and_then(|s| s.clock_warning_text(lang))
    {
        println!("  {line}");
    }
    if let Some(seconds) = wait_s {
        match lang {
            Lang::Id => println!("  berikutnya dalam {seconds} detik"),
            Lang::En => println!("  next in {seconds} s"),
        }
    }
}

fn print_summary(store: &Store, summary: &SyncSummary, lang: Lang) -> anyhow::Result<()> {
    let rows: [(&str, &str, u64); 6] = [
        ("Dikirim", "Sent", summary.sent),
        ("Diterima server", "Accepted", summary.accepted),
        (
            "Sudah ada di server",
            "Already on the server",
            summary.duplicates,
        ),
        ("Ditolak server", "Refused", summary.rejected),
        ("Diterima dari server", "Received", summary.received),
        ("Belum terkirim", "Still waiting", summary.pending_after),
    ];
    let mut out = std::io::stdout().lock();
    for (id, en, value) in rows {
        let label = if lang == Lang::Id { id } else { en };
        writeln!(out, "{label:<26} {value}")?;
    }
    if summary.server_changed {
        writeln!(
            out,
            "{}",
            match lang {
                Lang::Id =>
                    "Server dipulihkan atau diganti sejak sinkron terakhir: semua data dikirim ulang.",
                Lang::En =>
                    "The server was reset or restored since the last sync: everything was sent again.",
            }
        )?;
    }
    if let Some(line) = summary.clock_warning_text(lang) {
        writeln!(out, "{line}")?;
    }
    if summary.token_rotated {
        writeln!(
            out,
            "{}",
            match lang {
                Lang::Id => "Token perangkat sudah lama, jadi diganti dengan yang baru.",
                Lang::En => "The device token was old, so it was replaced with a new one.",
            }
        )?;
    }
    if summary.rejected > 0 {
        let status = store.status()?;
        for entry in status.rejected.iter().rev().take(20) {
            writeln!(
                out,
                "  #{} {}: {}",
                entry.seq,
                entry.error_field.as_deref().unwrap_or("-"),
                entry.reason(lang)
            )?;
        }
        writeln!(
            out,
            "{}",
            match lang {
                Lang::Id =>
                    "Perubahan yang ditolak tetap tersimpan; perbaiki lalu sinkron lagi (lihat: lindung-agent status).",
                Lang::En =>
                    "Refused changes stay on this laptop; fix them and sync again (see: lindung-agent status).",
            }
        )?;
    }
    Ok(())
}

/// Seconds left at the pace so far, once there is a pace to go by.
fn time_left(elapsed: Duration, done: u64, total: u64) -> Option<u64> {
    if done == 0 || done >= total {
        return None;
    }
    let per_change = elapsed.as_secs_f64() / done as f64;
    Some((per_change * (total - done) as f64).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_left_follows_the_pace_so_far() {
        assert_eq!(time_left(Duration::from_secs(4), 0, 1000), None);
        assert_eq!(time_left(Duration::from_secs(4), 250, 1000), Some(12));
        assert_eq!(time_left(Duration::from_secs(4), 1000, 1000), None);
    }
}
