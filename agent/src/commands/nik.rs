//! `lindung-agent nik NIK…`: check national identity numbers offline.

use std::io::{self, Write};

use clap::Args;
use lindung_shared::lang::{Lang, Message, Problem, age_on, format_date};
use lindung_shared::nik::{NikCheck, Sex, validate_nik};
use lindung_shared::region::regions;
use serde::Serialize;

use crate::output::{Outcome, print_json, today};

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

/// The verdict on one NIK, as printed by `--json`.
#[derive(Debug, Serialize)]
struct Verdict {
    input: String,
    normalized: String,
    valid: bool,
    sex: Option<Sex>,
    birth_date: Option<time::Date>,
    age: Option<u32>,
    district: Option<District>,
    errors: Vec<Message>,
    warnings: Vec<Message>,
}

/// The district a NIK was first registered in.
#[derive(Debug, Serialize)]
struct District {
    code: String,
    name: Option<String>,
    full_name: Option<String>,
    retired: bool,
    successor_code: Option<String>,
}

fn verdict(input: &str, check: &NikCheck, today: time::Date) -> Verdict {
    let index = regions();
    let district = check.nik.map(|nik| {
        let code = nik.district_code().to_string();
        let current = index.get(&code);
        let retired = index.retired_district(&code);
        District {
            name: current
                .map(|r| r.name.to_string())
                .or_else(|| retired.as_ref().map(|r| r.name.to_string())),
            full_name: index.full_name(&code),
            retired: current.is_none() && retired.is_some(),
            successor_code: retired.and_then(|r| r.successor_code.map(|c| c.to_string())),
            code,
        }
    });
    Verdict {
        input: input.to_owned(),
        normalized: check.normalized.clone(),
        valid: check.is_valid(),
        sex: check.sex,
        birth_date: check.birth_date,
        age: check.birth_date.map(|birth| age_on(birth, today)),
        district,
        errors: check.errors().map(Problem::to_message).collect(),
        warnings: check.warnings().map(Problem::to_message).collect(),
    }
}

/// Runs `nik`: exit code 0 when every NIK is valid, 1 otherwise.
pub fn run(args: &NikArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let today = today();
    let verdicts: Vec<Verdict> = args
        .niks
        .iter()
        .map(|input| verdict(input, &validate_nik(input, today, regions()), today))
        .collect();
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

fn print_verdict(out: &mut impl Write, verdict: &Verdict, lang: Lang) -> io::Result<()> {
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
