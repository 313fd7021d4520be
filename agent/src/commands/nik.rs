//! `lindung-agent nik NIK…`: check national identity numbers offline.

use std::io::{self, Write};

use clap::Args;
use lindung_shared::lang::{Lang, format_date};

use crate::actions::{NikVerdict, nik_verdict};
use crate::output::{Outcome, print_json};

/// Arguments of `nik`.
#[derive(Debug, Args)]
pub struct NikArgs {
    /// One or more NIKs (16 digits; spaces, dots and dashes are ignored).
    #[arg(required = true, value_name = "NIK")]
    pub niks: Vec<String>,

    /// Print the verdicts as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `nik`: exit code 0 when every NIK is valid, 1 otherwise.
pub fn run(args: &NikArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let verdicts: Vec<NikVerdict> = args.niks.iter().map(|input| nik_verdict(input)).collect();
    let all_valid = verdicts.iter().all(|v| v.valid);
    if args.json {
        print_json(&verdicts)?;
    } else {
        let mut out = io::stdout().lock();
        for verdict in &verdicts {
            print_verdict(&mut out, verdict, lang)?;
        }
    }
    Ok(Outcome::from_bool(all_valid))
}

fn print_verdict(out: &mut impl Write, verdict: &NikVerdict, lang: Lang) -> io::Result<()> {
    let (valid, invalid) = match lang {
        Lang::Id => ("SAH", "TIDAK SAH"),
        Lang::En => ("VALID", "INVALID"),
    };
    let shown = if verdict.normalized.is_empty() {
        &verdict.input
    } else {
        &verdict.normalized
    };
    writeln!(
        out,
        "NIK {shown}: {}",
        if verdict.valid { valid } else { invalid }
    )?;
    let labels = match lang {
        Lang::Id => ["Jenis kelamin", "Tanggal lahir", "Kecamatan NIK", "tahun"],
        Lang::En => ["Sex", "Birth date", "NIK district", "years"],
    };
    if let (Some(sex), Some(birth_date)) = (verdict.sex, verdict.birth_date) {
        writeln!(out, "  {:<14} {}", labels[0], sex.name(lang))?;
        let age = verdict
            .age
            .map(|a| format!(" ({a} {})", labels[3]))
            .unwrap_or_default();
        writeln!(
            out,
            "  {:<14} {}{age}",
            labels[1],
            format_date(birth_date, lang)
        )?;
    }
    if let Some(district) = &verdict.district {
        let place = district
            .full_name
            .clone()
            .or_else(|| district.name.clone())
            .unwrap_or_else(|| match lang {
                Lang::Id => "tidak dikenal".to_owned(),
                Lang::En => "unknown".to_owned(),
            });
        writeln!(out, "  {:<14} {} {place}", labels[2], district.code)?;
    }
    for error in &verdict.errors {
        writeln!(out, "  ✗ {}: {}", error.code, error.text(lang))?;
    }
    for warning in &verdict.warnings {
        writeln!(out, "  ! {}: {}", warning.code, warning.text(lang))?;
    }
    Ok(())
}
