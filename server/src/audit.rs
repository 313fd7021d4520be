//! The audit log: every staff action that changes something, and every
//! export, is recorded with who did it, when, and to what.
//!
//! Commands call [`audit`] once the action has succeeded. The actor is the
//! staff member's name from `--staff` or `LINDUNG_STAFF`, else the operating
//! system's user name ([`resolve_actor`]).
//!
//! **Personal data:** no NIK is ever stored unmasked. [`audit`] masks every
//! run of exactly 16 digits in the subject and in every string of the
//! details (a NIK is 16 digits; ids, region codes and dates never are), so a
//! caller passing a NIK by mistake still stores only its masked form. Secrets
//! (enrolment codes, tokens) must not be passed at all.

use serde_json::Value;
use time::OffsetDateTime;

use crate::storage::{AuditEntry, Storage};

/// The environment variable naming the staff member (`--staff`).
pub const STAFF_VARIABLE: &str = "LINDUNG_STAFF";

/// The action names recorded by the server's own commands. Other commands
/// may use their own, in the same `noun.verb` form.
pub mod action {
    /// `officer add`.
    pub const OFFICER_ADD: &str = "officer.add";
    /// `enroll-code` (the code itself is never recorded).
    pub const ENROLL_CODE: &str = "enroll_code.create";
    /// `device revoke`.
    pub const DEVICE_REVOKE: &str = "device.revoke";
    /// `reference import`.
    pub const REFERENCE_IMPORT: &str = "reference.import";
    /// `rates set`.
    pub const RATES_SET: &str = "rates.set";
    /// `coverage recompute`.
    pub const COVERAGE_RECOMPUTE: &str = "coverage.recompute";
    /// `export coverage`.
    pub const EXPORT_COVERAGE: &str = "export.coverage";
    /// `export registrations`.
    pub const EXPORT_REGISTRATIONS: &str = "export.registrations";
    /// `duplicates merge`.
    pub const DUPLICATES_MERGE: &str = "duplicates.merge";
    /// `duplicates unmerge`.
    pub const DUPLICATES_UNMERGE: &str = "duplicates.unmerge";
    /// `conflicts resolve`.
    pub const CONFLICT_RESOLVE: &str = "conflict.resolve";
    /// `staff add` (the token is never recorded).
    pub const STAFF_ADD: &str = "staff.add";
    /// `staff revoke`.
    pub const STAFF_REVOKE: &str = "staff.revoke";
    /// `staff passwd` (the password is never recorded).
    pub const STAFF_PASSWORD: &str = "staff.password";
    /// `staff rotate-token` (the token is never recorded).
    pub const STAFF_ROTATE_TOKEN: &str = "staff.rotate_token";
    /// A dashboard login (`login` names who; failed attempts are not audited
    /// but counted for rate limiting).
    pub const STAFF_LOGIN: &str = "staff.login";
    /// A dashboard logout.
    pub const STAFF_LOGOUT: &str = "staff.logout";
    /// A record's own page was shown in the dashboard (it shows the full NIK).
    pub const RECORD_VIEW: &str = "record.view";
    /// `backup`: a copy of the whole store was written (an export of everything).
    pub const BACKUP: &str = "store.backup";
    /// `restore`: the store was replaced by a backup.
    pub const RESTORE: &str = "store.restore";
    /// `store-id --renew`: the store took a new identity.
    pub const STORE_ID_RENEW: &str = "store.renew_id";
    /// `bundle import` or the dashboard's upload: a laptop's outbox bundle
    /// was applied (or found applied before).
    pub const BUNDLE_IMPORT: &str = "bundle.import";
}

/// Who is acting: `given` (from `--staff` or `LINDUNG_STAFF`), else
/// `LINDUNG_STAFF`, else the OS user name (`USER`, `USERNAME`), else
/// `"unknown"`. Blank values count as absent.
pub fn resolve_actor(given: Option<&str>) -> String {
    resolve_actor_with(given, |name| std::env::var(name).ok())
}

fn resolve_actor_with(given: Option<&str>, env: impl Fn(&str) -> Option<String>) -> String {
    given
        .map(str::to_owned)
        .into_iter()
        .chain(
            [STAFF_VARIABLE, "USER", "USERNAME"]
                .into_iter()
                .filter_map(env),
        )
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Records that `actor` did `action` to `subject`, now. NIKs in the subject
/// and details are masked before anything is stored.
pub async fn audit(
    storage: &dyn Storage,
    actor: &str,
    action: &str,
    subject: &str,
    details: Value,
) -> anyhow::Result<()> {
    let entry = AuditEntry {
        at: OffsetDateTime::now_utc(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject: mask_niks(subject),
        details: mask_niks_in(details),
    };
    tracing::info!(actor, action, subject = %entry.subject, "audit");
    storage
        .record_audit(&entry)
        .await
        .map_err(|error| anyhow::Error::new(error).context("cannot record the audit entry"))
}

/// Every string in a JSON value (keys included) with its NIKs masked.
fn mask_niks_in(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(mask_niks(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(mask_niks_in).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (mask_niks(&key), mask_niks_in(value)))
                .collect(),
        ),
        Value::Number(number) => {
            // A NIK passed as a number: 16 digits.
            let digits = number.to_string();
            if digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()) {
                Value::String(mask_niks(&digits))
            } else {
                Value::Number(number)
            }
        }
        other => other,
    }
}

/// `text` with every run of exactly 16 ASCII digits masked the way
/// [`lindung_shared::nik::Nik::masked`] masks a NIK (first and last four kept).
pub fn mask_niks(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        if !bytes[index].is_ascii_digit() {
            index += 1;
            continue;
        }
        let run_start = index;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        let run = &text[run_start..index];
        if run.len() == 16 {
            out.push_str(&text[start..run_start]);
            match lindung_shared::nik::Nik::from_digits(run) {
                Ok(nik) => out.push_str(&nik.masked()),
                Err(_) => out.push_str(&"*".repeat(16)),
            }
            start = index;
        }
    }
    out.push_str(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn niks_are_masked_wherever_they_appear() {
        assert_eq!(
            mask_niks("nik 1311014101900001, region 1311012001"),
            "nik 1311********0001, region 1311012001"
        );
        assert_eq!(mask_niks("13110141019000012"), "13110141019000012");
        let details = mask_niks_in(serde_json::json!({
            "niks": ["1311014101900001"],
            "as_number": 1311014101900001_u64,
            "rows": 3,
        }));
        let text = details.to_string();
        assert!(!text.contains("1311014101900001"), "{text}");
        assert_eq!(details["rows"], 3);
    }

    #[test]
    fn the_actor_comes_from_the_option_then_the_environment() {
        let env = |name: &str| match name {
            "USER" => Some("budi".to_owned()),
            _ => None,
        };
        assert_eq!(resolve_actor_with(Some("Sari"), env), "Sari");
        assert_eq!(resolve_actor_with(Some("  "), env), "budi");
        assert_eq!(resolve_actor_with(None, env), "budi");
        assert_eq!(resolve_actor_with(None, |_| None), "unknown");
        let staff = |name: &str| (name == STAFF_VARIABLE).then(|| "Dewi".to_owned());
        assert_eq!(resolve_actor_with(None, staff), "Dewi");
    }
}
