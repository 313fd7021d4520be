//! `register`, `edit`, `withdraw`, `show` and `list`: registrations on this laptop.

use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::bail;
use clap::Args;
use lindung_shared::lang::{Lang, Message, format_date, format_rupiah};
use lindung_shared::region::{normalize_code, regions};
use lindung_shared::registration::{
    Category, ConsentMethod, Field, PayerKind, Registration, Status,
};
use lindung_shared::validation::RegistrationInput;
use serde::Serialize;
use serde_json::json;

use crate::actions::{VillageChoice, choose_village, validate};
use crate::output::{Outcome, now, print_json, problem};
use crate::store::{ListFilter, ListedRegistration, Refusal, Store};

/// The fields of a registration as command-line options (all optional, so
/// `edit` can change just one; `register` asks for what is missing).
#[derive(Debug, Args, Default, Clone)]
pub struct FieldArgs {
    /// NIK (16 digits).
    #[arg(long)]
    pub nik: Option<String>,
    /// Full name as on the KTP.
    #[arg(long)]
    pub name: Option<String>,
    /// Birth date (31-01-1990 or 1990-01-31); taken from the NIK when left out.
    #[arg(long)]
    pub birth_date: Option<String>,
    /// Sex: L or P; taken from the NIK when left out.
    #[arg(long)]
    pub sex: Option<String>,
    /// Phone number.
    #[arg(long)]
    pub phone: Option<String>,
    /// Village: a 10-digit code, or a name to search.
    #[arg(long)]
    pub village: Option<String>,
    /// RT number.
    #[arg(long)]
    pub rt: Option<String>,
    /// RW number.
    #[arg(long)]
    pub rw: Option<String>,
    /// Address line.
    #[arg(long)]
    pub address: Option<String>,
    /// Worker category (rt_head, rw_head, fisherman, street_vendor, village_head,
    /// village_official, bpd_member, farmer, ... or the Indonesian name).
    #[arg(long)]
    pub category: Option<String>,
    /// Add JHT (old-age savings): ya/tidak.
    #[arg(long)]
    pub jht: Option<String>,
    /// Declared monthly income in rupiah (default 1.000.000).
    #[arg(long)]
    pub income: Option<String>,
    /// Who pays: self, apbd, apbdes, csr, baznas, dbh_sawit, dbhcht, other.
    #[arg(long)]
    pub payer: Option<String>,
    /// Name of the paying institution (required for csr, baznas, other).
    #[arg(long)]
    pub payer_name: Option<String>,
    /// How consent was given: signed_form, verbal, electronic, public_task.
    #[arg(long)]
    pub consent: Option<String>,
    /// Consent form number, witness or legal basis.
    #[arg(long)]
    pub consent_ref: Option<String>,
    /// Confirm a warning by its code (nik_birth_date_mismatch, nik_sex_mismatch, possible_duplicate).
    #[arg(long = "confirm", value_name = "CODE")]
    pub confirm: Vec<String>,
}

impl FieldArgs {
    /// Puts every given option over `input`.
    fn apply_to(&self, input: &mut RegistrationInput) {
        let pairs: [(&Option<String>, &mut String); 16] = [
            (&self.nik, &mut input.nik),
            (&self.name, &mut input.full_name),
            (&self.birth_date, &mut input.birth_date),
            (&self.sex, &mut input.sex),
            (&self.phone, &mut input.phone),
            (&self.village, &mut input.village_code),
            (&self.rt, &mut input.rt),
            (&self.rw, &mut input.rw),
            (&self.address, &mut input.address),
            (&self.category, &mut input.category),
            (&self.jht, &mut input.jht),
            (&self.income, &mut input.monthly_income),
            (&self.payer, &mut input.payer),
            (&self.payer_name, &mut input.payer_name),
            (&self.consent, &mut input.consent_method),
            (&self.consent_ref, &mut input.consent_reference),
        ];
        for (given, slot) in pairs {
            if let Some(value) = given {
                *slot = value.clone();
            }
        }
        input
            .confirmed_warnings
            .extend(self.confirm.iter().cloned());
    }
}

/// Arguments of `register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The worker's details.
    #[command(flatten)]
    pub fields: FieldArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The registration: its id (or the first 8 characters of it) or its NIK.
    pub id: String,
    /// The fields to change.
    #[command(flatten)]
    pub fields: FieldArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `withdraw`.
#[derive(Debug, Args)]
pub struct WithdrawArgs {
    /// The registration: its id (or the first 8 characters of it) or its NIK.
    pub id: String,
    /// Why (deceased, moved away, registered elsewhere, ...).
    #[arg(long)]
    pub reason: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The registration: its id (or the first 8 characters of it) or its NIK.
    pub id: String,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this village (code).
    #[arg(long)]
    pub village: Option<String>,
    /// Only villages inside this district, regency or province (code).
    #[arg(long, visible_alias = "district")]
    pub region: Option<String>,
    /// Only this category.
    #[arg(long)]
    pub category: Option<String>,
    /// Only active or only withdrawn registrations.
    #[arg(long, value_parser = ["active", "withdrawn"])]
    pub status: Option<String>,
    /// Name contains this text, or the NIK starts with it.
    #[arg(long)]
    pub text: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Resolves `--village` given as a name to a code; codes pass through unchanged.
/// On a terminal the officer picks one of several matches by number.
fn resolve_village(input: &mut RegistrationInput, lang: Lang) -> anyhow::Result<()> {
    let text = input.village_code.trim().to_owned();
    let hits = match choose_village(&text) {
        VillageChoice::AsTyped => return Ok(()),
        VillageChoice::Code(code) => {
            input.village_code = code;
            return Ok(());
        }
        VillageChoice::NotFound => Vec::new(),
        VillageChoice::Ambiguous(hits) => hits,
    };
    let listing: Vec<String> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            format!(
                "  {}. {}  {}",
                i + 1,
                h.region.code,
                regions().full_name(h.region.code).unwrap_or_default()
            )
        })
        .collect();
    // On a terminal the officer picks one by number instead of retyping a code.
    if !hits.is_empty() && io::stdin().is_terminal() {
        println!(
            "{}\n{}",
            match lang {
                Lang::Id => format!("Beberapa desa cocok dengan {text:?}:"),
                Lang::En => format!("Several villages match {text:?}:"),
            },
            listing.join("\n")
        );
        print!(
            "{} ",
            match lang {
                Lang::Id => "Pilih nomor:",
                Lang::En => "Choose a number:",
            }
        );
        io::stdout().flush()?;
        let mut answer = String::new();
        io::stdin().read_line(&mut answer)?;
        if let Some(hit) = answer
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| hits.get(i))
        {
            input.village_code = hit.region.code.to_owned();
            return Ok(());
        }
    }
    match (hits.is_empty(), lang) {
        (true, Lang::Id) => {
            bail!("tidak ada desa/kelurahan bernama {text:?}; periksa ejaan atau gunakan kodenya")
        }
        (true, Lang::En) => {
            bail!("no village is named {text:?}; check the spelling or use its code")
        }
        (false, Lang::Id) => bail!(
            "beberapa desa cocok dengan {text:?}; gunakan kodenya:\n{}",
            listing.join("\n")
        ),
        (false, Lang::En) => bail!(
            "several villages match {text:?}; use its code:\n{}",
            listing.join("\n")
        ),
    }
}

/// On a terminal, asks for the required fields that are still empty.
fn prompt_missing(input: &mut RegistrationInput, lang: Lang) -> anyhow::Result<()> {
    if !io::stdin().is_terminal() {
        return Ok(());
    }
    let required_missing = [
        &input.nik,
        &input.full_name,
        &input.village_code,
        &input.category,
        &input.payer,
        &input.consent_method,
    ]
    .iter()
    .any(|value| value.trim().is_empty());
    if !required_missing {
        return Ok(());
    }
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let mut ask = |field: Field, hint: String, slot: &mut String| -> anyhow::Result<()> {
        if slot.trim().is_empty() {
            if hint.is_empty() {
                print!("{}: ", field.label(lang));
            } else {
                print!("{} ({hint}): ", field.label(lang));
            }
            io::stdout().flush()?;
            if let Some(line) = lines.next() {
                *slot = line?;
            }
        }
        Ok(())
    };
    let optional = match lang {
        Lang::Id => "boleh kosong",
        Lang::En => "may be empty",
    };
    ask(Field::Nik, String::new(), &mut input.nik)?;
    ask(Field::FullName, String::new(), &mut input.full_name)?;
    ask(
        Field::VillageCode,
        match lang {
            Lang::Id => "kode atau nama".into(),
            Lang::En => "code or name".into(),
        },
        &mut input.village_code,
    )?;
    ask(Field::Rt, optional.into(), &mut input.rt)?;
    ask(Field::Rw, optional.into(), &mut input.rw)?;
    ask(Field::Phone, optional.into(), &mut input.phone)?;
    ask(
        Field::Category,
        choices(Category::ALL.iter().map(|c| c.label(lang))),
        &mut input.category,
    )?;
    ask(
        Field::Payer,
        choices(PayerKind::ALL.iter().map(|p| p.code())),
        &mut input.payer,
    )?;
    if PayerKind::parse_loose(&input.payer).is_some_and(PayerKind::requires_name) {
        ask(Field::Payer, payer_name_hint(lang), &mut input.payer_name)?;
    }
    ask(
        Field::Consent,
        choices(ConsentMethod::ALL.iter().map(|c| c.code())),
        &mut input.consent_method,
    )?;
    Ok(())
}

fn choices<'a>(words: impl Iterator<Item = &'a str>) -> String {
    words.collect::<Vec<_>>().join(", ")
}

fn payer_name_hint(lang: Lang) -> String {
    match lang {
        Lang::Id => "nama perusahaan/lembaga".into(),
        Lang::En => "name of the company or office".into(),
    }
}

/// A registration as shown in lists and refusals: the NIK masked.
#[derive(Debug, Serialize)]
struct Summary {
    id: String,
    nik: String,
    full_name: String,
    village_code: String,
    village: String,
    category: Category,
    status: &'static str,
    registered_at: String,
    registered_by_this_laptop: bool,
    sync: crate::store::SyncState,
}

fn summary(listed: &ListedRegistration, store: &Store) -> Summary {
    let r = &listed.registration;
    Summary {
        id: r.id.to_string(),
        nik: r.nik.masked(),
        full_name: r.full_name.clone(),
        village_code: r.village_code.clone(),
        village: regions()
            .get(&r.village_code)
            .map(|v| v.name.to_owned())
            .unwrap_or_default(),
        category: r.category,
        status: if r.is_active() { "active" } else { "withdrawn" },
        registered_at: crate::store::utc_date_text(r.origin.registered_at),
        registered_by_this_laptop: r.origin.device_id == store.device_id(),
        sync: listed.sync,
    }
}

fn print_summary_line(out: &mut impl Write, s: &Summary, lang: Lang) -> io::Result<()> {
    let category = s.category.label(lang);
    let status = match (s.status, lang) {
        ("active", Lang::Id) => "aktif",
        ("active", Lang::En) => "active",
        (_, Lang::Id) => "ditarik",
        (_, Lang::En) => "withdrawn",
    };
    let sync = match (s.sync, lang) {
        (crate::store::SyncState::Pending, Lang::Id) => "belum terkirim",
        (crate::store::SyncState::Pending, Lang::En) => "not sent",
        (crate::store::SyncState::Rejected, Lang::Id) => "DITOLAK server",
        (crate::store::SyncState::Rejected, Lang::En) => "REJECTED by server",
        (crate::store::SyncState::Synced, Lang::Id) => "terkirim",
        (crate::store::SyncState::Synced, Lang::En) => "synced",
    };
    writeln!(
        out,
        "{:<8}  {}  {:<28}  {:<22}  {:<24}  {:<8}  {}",
        &s.id[..8],
        s.nik,
        clip(&s.full_name, 28),
        clip(&s.village, 22),
        clip(category, 24),
        status,
        sync
    )
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Prints why a valid registration was not saved.
fn print_refusal(
    refusal: &Refusal,
    store: &Store,
    lang: Lang,
    json_out: bool,
) -> anyhow::Result<()> {
    let (code, existing, text) = match refusal {
        Refusal::DuplicateNik(d) => (
            "duplicate_nik",
            &d.existing,
            match lang {
                Lang::Id => "NIK ini sudah terdaftar di laptop ini; tidak disimpan lagi:",
                Lang::En => "This NIK is already registered on this laptop; not saved again:",
            },
        ),
        Refusal::ProbableDuplicate(p) => (
            "possible_duplicate",
            &p.candidates,
            match lang {
                Lang::Id => {
                    "Mungkin orang yang sama sudah terdaftar (desa dan tanggal lahir sama, nama mirip). Jika memang orang lain, ulangi dengan --confirm possible_duplicate:"
                }
                Lang::En => {
                    "Probably the same person is already registered (same village and birth date, similar name). If this is someone else, repeat with --confirm possible_duplicate:"
                }
            },
        ),
    };
    let summaries: Vec<Summary> = existing.iter().map(|e| summary(e, store)).collect();
    if json_out {
        print_json(
            &json!({ "saved": false, "code": code, "message": text, "existing": summaries }),
        )?;
    } else {
        let mut out = io::stdout().lock();
        writeln!(out, "{text}")?;
        for s in &summaries {
            print_summary_line(&mut out, s, lang)?;
        }
    }
    Ok(())
}

fn print_invalid(messages: &[Message], lang: Lang, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        print_json(&json!({ "saved": false, "code": "invalid", "errors": messages }))?;
    } else {
        let mut out = io::stdout().lock();
        writeln!(
            out,
            "{}",
            match lang {
                Lang::Id => "Tidak disimpan; perbaiki isian berikut:",
                Lang::En => "Not saved; fix these fields:",
            }
        )?;
        for m in messages {
            writeln!(
                out,
                "  ✗ {}: {}",
                m.field.as_deref().unwrap_or("-"),
                m.text(lang)
            )?;
        }
    }
    Ok(())
}

fn print_saved(
    registration: &Registration,
    warnings: &[Message],
    lang: Lang,
    json_out: bool,
) -> anyhow::Result<()> {
    if json_out {
        print_json(&json!({ "saved": true, "registration": registration, "warnings": warnings }))?;
        return Ok(());
    }
    let mut out = io::stdout().lock();
    let place = regions()
        .full_name(&registration.village_code)
        .unwrap_or_default();
    match lang {
        Lang::Id => writeln!(
            out,
            "Tersimpan: {} {} — {place}",
            registration.nik.masked(),
            registration.full_name
        )?,
        Lang::En => writeln!(
            out,
            "Saved: {} {} — {place}",
            registration.nik.masked(),
            registration.full_name
        )?,
    }
    writeln!(out, "  id {}", registration.id)?;
    for w in warnings {
        writeln!(out, "  ! {}: {}", w.code, w.text(lang))?;
    }
    Ok(())
}

/// Runs `register`.
pub fn register(store: &mut Store, args: &RegisterArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let mut input = RegistrationInput::default();
    args.fields.apply_to(&mut input);
    prompt_missing(&mut input, lang)?;
    resolve_village(&mut input, lang)?;
    let valid = match validate(&input) {
        Ok(valid) => valid,
        Err(invalid) => {
            print_invalid(&invalid.messages(), lang, args.json)?;
            return Ok(Outcome::Negative);
        }
    };
    let warnings = valid.warnings.clone();
    match store.register(valid, now()).map_err(|e| problem(e, lang))? {
        Ok(registration) => {
            print_saved(&registration, &warnings, lang, args.json)?;
            Ok(Outcome::Success)
        }
        Err(refusal) => {
            print_refusal(&refusal, store, lang, args.json)?;
            Ok(Outcome::Negative)
        }
    }
}

/// Finds a registration by id, id prefix or NIK.
fn find(store: &Store, id: &str, lang: Lang) -> anyhow::Result<ListedRegistration> {
    let by_id = store.find(id).map_err(|e| problem(e, lang))?;
    let found = match by_id {
        Some(found) => Some(found),
        None => match id.parse::<lindung_shared::nik::Nik>() {
            Ok(nik) => {
                let mut same = store.find_by_nik(&nik).map_err(|e| problem(e, lang))?;
                if same.len() > 1 {
                    match lang {
                        Lang::Id => bail!(
                            "ada {} pendaftaran dengan NIK ini; sebutkan id-nya",
                            same.len()
                        ),
                        Lang::En => {
                            bail!("{} registrations have this NIK; give the id", same.len())
                        }
                    }
                }
                same.pop()
            }
            Err(_) => None,
        },
    };
    match (found, lang) {
        (Some(found), _) => Ok(found),
        (None, Lang::Id) => bail!("pendaftaran {id:?} tidak ditemukan"),
        (None, Lang::En) => bail!("registration {id:?} not found"),
    }
}

/// Runs `edit`: re-validates the whole registration with the changes and saves what differs.
pub fn edit(store: &mut Store, args: &EditArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let current = find(store, &args.id, lang)?.registration;
    let mut input = RegistrationInput::from_registration(&current);
    args.fields.apply_to(&mut input);
    resolve_village(&mut input, lang)?;
    let edited = match validate(&input) {
        Ok(valid) => valid,
        Err(invalid) => {
            print_invalid(&invalid.messages(), lang, args.json)?;
            return Ok(Outcome::Negative);
        }
    };
    match store
        .edit(&current, &edited, now())
        .map_err(|e| problem(e, lang))?
    {
        Err(refusal) => {
            print_refusal(&refusal, store, lang, args.json)?;
            Ok(Outcome::Negative)
        }
        Ok(operation) => {
            let fields: Vec<&str> = operation
                .iter()
                .flat_map(|op| op.changes.iter().map(|c| c.field().as_str()))
                .collect();
            if args.json {
                print_json(&json!({ "saved": operation.is_some(), "changed_fields": fields }))?;
            } else if fields.is_empty() {
                println!(
                    "{}",
                    match lang {
                        Lang::Id => "Tidak ada yang berubah.",
                        Lang::En => "Nothing changed.",
                    }
                );
            } else {
                println!(
                    "{} {}",
                    match lang {
                        Lang::Id => "Diubah:",
                        Lang::En => "Changed:",
                    },
                    fields.join(", ")
                );
            }
            Ok(Outcome::Success)
        }
    }
}

/// Runs `withdraw`.
pub fn withdraw(store: &mut Store, args: &WithdrawArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let reason = args.reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if reason.is_empty() {
        match lang {
            Lang::Id => bail!("alasan penarikan wajib diisi (--reason)"),
            Lang::En => bail!("a reason for the withdrawal is required (--reason)"),
        }
    }
    let current = find(store, &args.id, lang)?.registration;
    store
        .set_status(
            current.id,
            Status::Withdrawn {
                reason: reason.clone(),
            },
            now(),
        )
        .map_err(|e| problem(e, lang))?;
    if args.json {
        print_json(&json!({ "withdrawn": true, "id": current.id, "reason": reason }))?;
    } else {
        match lang {
            Lang::Id => println!(
                "Ditarik: {} {} ({reason})",
                current.nik.masked(),
                current.full_name
            ),
            Lang::En => println!(
                "Withdrawn: {} {} ({reason})",
                current.nik.masked(),
                current.full_name
            ),
        }
    }
    Ok(Outcome::Success)
}

/// Runs `show`: the full record (its own page shows the full NIK) and every overwritten value.
pub fn show(store: &Store, args: &ShowArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let found = find(store, &args.id, lang)?;
    let state = store
        .record_state(found.registration.id)
        .map_err(|e| problem(e, lang))?;
    let history: Vec<_> = state
        .overwritten()
        .map(|(field, version)| json!({ "field": field, "value": version.change, "hlc": version.stamp.hlc, "device_id": version.stamp.device_id }))
        .collect();
    let also_registered = store
        .duplicate_notice(found.registration.id)
        .map_err(|e| problem(e, lang))?;
    if args.json {
        print_json(&json!({
            "registration": found.registration,
            "sync": found.sync,
            "history": history,
            "also_registered": also_registered,
        }))?;
        return Ok(Outcome::Success);
    }
    let r = &found.registration;
    let mut out = io::stdout().lock();
    let line = |out: &mut io::StdoutLock<'_>, field: Field, value: String| -> io::Result<()> {
        writeln!(out, "  {:<28} {value}", field.label(lang))
    };
    writeln!(out, "{}  {}", r.id, r.full_name)?;
    line(&mut out, Field::Nik, r.nik.as_str().to_owned())?;
    line(&mut out, Field::BirthDate, format_date(r.birth_date, lang))?;
    line(&mut out, Field::Sex, r.sex.name(lang).to_owned())?;
    line(
        &mut out,
        Field::Phone,
        r.phone
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "-".into()),
    )?;
    line(
        &mut out,
        Field::VillageCode,
        format!(
            "{} {}",
            r.village_code,
            regions().full_name(&r.village_code).unwrap_or_default()
        ),
    )?;
    let rt_rw = |n: Option<u16>| n.map(|n| format!("{n:03}")).unwrap_or_else(|| "-".into());
    line(&mut out, Field::Rt, rt_rw(r.rt))?;
    line(&mut out, Field::Rw, rt_rw(r.rw))?;
    line(
        &mut out,
        Field::Address,
        r.address.clone().unwrap_or_else(|| "-".into()),
    )?;
    line(&mut out, Field::Category, r.category.label(lang).to_owned())?;
    line(
        &mut out,
        Field::Programmes,
        r.programmes
            .list()
            .iter()
            .map(|p| p.code().to_uppercase())
            .collect::<Vec<_>>()
            .join(" + "),
    )?;
    line(
        &mut out,
        Field::MonthlyIncome,
        format_rupiah(r.monthly_income),
    )?;
    let payer = match &r.payer.name {
        Some(name) => format!("{} ({name})", r.payer.kind.label(lang)),
        None => r.payer.kind.label(lang).to_owned(),
    };
    line(&mut out, Field::Payer, payer)?;
    line(
        &mut out,
        Field::Consent,
        format!(
            "{} — {}",
            r.consent.method.label(lang),
            crate::store::utc_date_text(r.consent.recorded_at)
        ),
    )?;
    let status = match (&r.status, lang) {
        (Status::Active, Lang::Id) => "aktif".to_owned(),
        (Status::Active, Lang::En) => "active".to_owned(),
        (Status::Withdrawn { reason }, Lang::Id) => format!("ditarik: {reason}"),
        (Status::Withdrawn { reason }, Lang::En) => format!("withdrawn: {reason}"),
    };
    line(&mut out, Field::Status, status)?;
    if !also_registered.is_empty() {
        writeln!(
            out,
            "  {}",
            match lang {
                Lang::Id => "NIK ini juga didaftarkan di server oleh (staf akan memeriksa):",
                Lang::En => "This NIK was also registered on the server by (staff will review):",
            }
        )?;
        for other in &also_registered {
            writeln!(
                out,
                "    {} — {} {}",
                other.officer_name.as_deref().unwrap_or("-"),
                other.village_code,
                regions().full_name(&other.village_code).unwrap_or_default()
            )?;
        }
    }
    if !history.is_empty() {
        writeln!(
            out,
            "  {}",
            match lang {
                Lang::Id => "Nilai lama (tidak pernah dihapus):",
                Lang::En => "Earlier values (never deleted):",
            }
        )?;
        for (field, version) in state.overwritten() {
            let value = serde_json::to_string(&version.change).unwrap_or_default();
            writeln!(out, "    {:<14} {value}", field.as_str())?;
        }
    }
    Ok(Outcome::Success)
}

/// Runs `list`.
pub fn list(store: &Store, args: &ListArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let code = |text: &Option<String>, what: &str| -> anyhow::Result<Option<String>> {
        match text {
            None => Ok(None),
            Some(text) => match normalize_code(text) {
                Some(code) => Ok(Some(code)),
                None => bail!("--{what} {text:?}: not a region code"),
            },
        }
    };
    let category = match &args.category {
        None => None,
        Some(text) => Some(text.parse::<Category>()?),
    };
    let filter = ListFilter {
        village_code: code(&args.village, "village")?,
        region_prefix: code(&args.region, "region")?,
        category,
        active: args.status.as_deref().map(|s| s == "active"),
        text: args.text.clone(),
        limit: Some(args.limit),
    };
    let listed = store.list(&filter).map_err(|e| problem(e, lang))?;
    let summaries: Vec<Summary> = listed.iter().map(|l| summary(l, store)).collect();
    if args.json {
        print_json(&summaries)?;
    } else if summaries.is_empty() {
        println!(
            "{}",
            match lang {
                Lang::Id => "Tidak ada pendaftaran yang cocok.",
                Lang::En => "No registration matches.",
            }
        );
    } else {
        let mut out = io::stdout().lock();
        for s in &summaries {
            print_summary_line(&mut out, s, lang)?;
        }
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_options_replace_only_their_fields() {
        let mut input = RegistrationInput {
            full_name: "Lama".into(),
            rt: "1".into(),
            ..RegistrationInput::default()
        };
        let args = FieldArgs {
            rt: Some("2".into()),
            confirm: vec!["nik_sex_mismatch".into()],
            ..FieldArgs::default()
        };
        args.apply_to(&mut input);
        assert_eq!(input.full_name, "Lama");
        assert_eq!(input.rt, "2");
        assert_eq!(
            input.confirmed_warnings,
            vec!["nik_sex_mismatch".to_owned()]
        );
    }
}
