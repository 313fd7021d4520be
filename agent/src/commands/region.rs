//! `lindung-agent region`: look up Kemendagri region codes or search them by name, offline.

use std::io::{self, Write};

use anyhow::bail;
use clap::Args;
use lindung_shared::lang::Lang;
use lindung_shared::region::{Level, Region, SearchOptions, VillageKind, normalize_code, regions};
use serde::Serialize;

use crate::output::{Outcome, print_json};

/// Arguments of `region`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["code", "search"]))]
pub struct RegionArgs {
    /// A region code at any level: 13, 1311, 131101 or 1311012001 (dots allowed).
    #[arg(value_name = "CODE")]
    pub code: Option<String>,

    /// Search regions by name instead (case and accents ignored; several words
    /// may also match the names of the district, regency or province).
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,

    /// With --search: only this level (province, regency, district, village).
    #[arg(long, value_enum, requires = "search")]
    pub level: Option<LevelArg>,

    /// With --search: only regions inside this code.
    #[arg(long, value_name = "CODE", requires = "search")]
    pub within: Option<String>,

    /// With --search: at most this many results.
    #[arg(long, default_value_t = 20, requires = "search")]
    pub limit: usize,

    /// With CODE: also list the regions directly inside it.
    #[arg(long, requires = "code")]
    pub children: bool,

    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A level given on the command line.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LevelArg {
    /// Provinsi.
    Province,
    /// Kabupaten/kota.
    Regency,
    /// Kecamatan.
    District,
    /// Desa/kelurahan.
    Village,
}

impl From<LevelArg> for Level {
    fn from(level: LevelArg) -> Level {
        match level {
            LevelArg::Province => Level::Province,
            LevelArg::Regency => Level::Regency,
            LevelArg::District => Level::District,
            LevelArg::Village => Level::Village,
        }
    }
}

/// One region as printed by `--json`.
#[derive(Debug, Serialize)]
struct RegionView {
    code: String,
    name: String,
    level: Level,
    /// `kelurahan`, `desa` or `desa_adat` for villages.
    #[serde(skip_serializing_if = "Option::is_none")]
    village_kind: Option<&'static str>,
    full_name: String,
    parents: Vec<Brief>,
    #[serde(skip_serializing_if = "Option::is_none")]
    children: Option<Vec<Brief>>,
}

/// Code and name only.
#[derive(Debug, Serialize)]
struct Brief {
    code: String,
    name: String,
}

fn brief(region: &Region<'_>) -> Brief {
    Brief {
        code: region.code.to_string(),
        name: region.name.to_string(),
    }
}

fn village_kind_code(kind: VillageKind) -> &'static str {
    match kind {
        VillageKind::Kelurahan => "kelurahan",
        VillageKind::Desa => "desa",
        VillageKind::DesaAdat => "desa_adat",
    }
}

fn level_label(region: &Region<'_>, lang: Lang) -> String {
    match (region.village_kind(), lang) {
        (Some(VillageKind::Kelurahan), _) => "kelurahan".into(),
        (Some(VillageKind::Desa), _) => "desa".into(),
        (Some(VillageKind::DesaAdat), _) => "desa adat".into(),
        (None, Lang::Id) => region.level.name_id().into(),
        (None, Lang::En) => region.level.name_en().into(),
    }
}

fn view(region: &Region<'_>, with_children: bool) -> RegionView {
    let index = regions();
    let code = region.code.to_string();
    RegionView {
        name: region.name.to_string(),
        level: region.level,
        village_kind: region.village_kind().map(village_kind_code),
        full_name: index
            .full_name(&code)
            .unwrap_or_else(|| region.name.to_string()),
        parents: index.ancestors(&code).iter().map(brief).collect(),
        children: with_children.then(|| index.children(&code).iter().map(brief).collect()),
        code,
    }
}

/// Runs `region`: exit code 0 when something was found, 1 when nothing was.
pub fn run(args: &RegionArgs, lang: Lang) -> anyhow::Result<Outcome> {
    match (&args.code, &args.search) {
        (Some(code), _) => lookup(code, args, lang),
        (None, Some(text)) => search(text, args, lang),
        (None, None) => bail!("give a CODE or --search TEXT"),
    }
}

fn lookup(input: &str, args: &RegionArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let index = regions();
    let found = normalize_code(input).and_then(|code| index.get(&code));
    let Some(region) = found else {
        let retired = normalize_code(input).and_then(|code| index.retired_district(&code));
        if args.json {
            print_json(&serde_json::json!({ "input": input, "found": false }))?;
        } else if let Some(retired) = retired {
            let successor = retired.successor_code.and_then(|code| {
                index
                    .full_name(code.as_ref())
                    .map(|name| format!("{code} {name}"))
            });
            match (lang, successor) {
                (Lang::Id, Some(s)) => println!(
                    "Kode {input} adalah kecamatan lama {} (terakhir tercantum di {}); sekarang: {s}.",
                    retired.name, retired.last_listed_in
                ),
                (Lang::Id, None) => println!(
                    "Kode {input} adalah kecamatan lama {} (terakhir tercantum di {}); penggantinya tidak diketahui.",
                    retired.name, retired.last_listed_in
                ),
                (Lang::En, Some(s)) => println!(
                    "Code {input} is the retired district {} (last listed in {}); now: {s}.",
                    retired.name, retired.last_listed_in
                ),
                (Lang::En, None) => println!(
                    "Code {input} is the retired district {} (last listed in {}); its successor is unknown.",
                    retired.name, retired.last_listed_in
                ),
            }
        } else {
            match lang {
                Lang::Id => eprintln!("Kode wilayah {input:?} tidak ditemukan."),
                Lang::En => eprintln!("Region code {input:?} not found."),
            }
        }
        return Ok(Outcome::Negative);
    };
    let shown = view(&region, args.children);
    if args.json {
        print_json(&shown)?;
        return Ok(Outcome::Success);
    }
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{}  {} ({})",
        shown.code,
        shown.name,
        level_label(&region, lang)
    )?;
    if !shown.parents.is_empty() {
        let chain: Vec<String> = shown
            .parents
            .iter()
            .rev()
            .map(|p| format!("{} {}", p.code, p.name))
            .collect();
        writeln!(out, "  {}", chain.join(" < "))?;
    }
    if let Some(children) = &shown.children {
        let heading = match lang {
            Lang::Id => "wilayah di dalamnya",
            Lang::En => "regions inside",
        };
        writeln!(out, "  {} {heading}:", children.len())?;
        for child in children {
            writeln!(out, "    {}  {}", child.code, child.name)?;
        }
    }
    Ok(Outcome::Success)
}

fn search(text: &str, args: &RegionArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let within = match &args.within {
        Some(code) => match normalize_code(code) {
            Some(code) if regions().get(&code).is_some() => Some(code),
            _ => bail!(match lang {
                Lang::Id => format!("--within {code:?} bukan kode wilayah yang dikenal"),
                Lang::En => format!("--within {code:?} is not a known region code"),
            }),
        },
        None => None,
    };
    let options = SearchOptions {
        level: args.level.map(Level::from),
        within,
        limit: args.limit,
    };
    let hits = regions().search(text, &options);
    if args.json {
        let views: Vec<RegionView> = hits.iter().map(|hit| view(&hit.region, false)).collect();
        print_json(&views)?;
    } else if hits.is_empty() {
        match lang {
            Lang::Id => eprintln!("Tidak ada wilayah yang cocok dengan {text:?}."),
            Lang::En => eprintln!("No region matches {text:?}."),
        }
    } else {
        let mut out = io::stdout().lock();
        for hit in &hits {
            let code = hit.region.code.to_string();
            let place = regions()
                .full_name(&code)
                .unwrap_or_else(|| hit.region.name.to_string());
            writeln!(
                out,
                "{code:<10}  {place} ({})",
                level_label(&hit.region, lang)
            )?;
        }
    }
    Ok(Outcome::from_bool(!hits.is_empty()))
}
