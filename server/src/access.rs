//! What a staff account may see and do, by its role: one set of checks used
//! by the staff JSON API ([`crate::staff_api`]) and the web dashboard
//! ([`crate::dashboard`]), so both refuse the same things.
//!
//! - `staff`: everything.
//! - `supervisor`: everything, but only inside one region (a code prefix):
//!   coverage, queues and records outside it are refused, lists are limited
//!   to it; the audit log and reference imports (which span every region)
//!   are refused.
//! - `viewer`: reads everything and changes nothing (no merge, undo,
//!   resolution, import, officer, enrolment code or revocation).
//!
//! **Invariant:** every handler checks here on the server; a hidden button
//! is a courtesy, not the protection.

use lindung_shared::ids::RecordId;
use lindung_shared::registration::{Change, Field};

use crate::storage::{Role, StaffAccount, Storage, StorageError};

/// Why a request is refused by role (HTTP 403).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// A viewer asked to change something.
    #[error("read-only account: viewers cannot change anything")]
    ReadOnly,
    /// A supervisor asked for something outside their region.
    #[error("outside your region {allowed}: {asked}")]
    OutsideRegion {
        /// The supervisor's region.
        allowed: String,
        /// What was asked for (a region code or a record).
        asked: String,
    },
    /// Only `staff` accounts may do this (it spans every region).
    #[error("only staff accounts (role staff) may do this: it spans every region")]
    StaffOnly,
}

impl Denied {
    /// The reason in Bahasa Indonesia.
    pub fn indonesian(&self) -> String {
        match self {
            Denied::ReadOnly => {
                "akun hanya-baca: peninjau (viewer) tidak boleh mengubah apa pun".into()
            }
            Denied::OutsideRegion { allowed, asked } => {
                format!("di luar wilayah Anda {allowed}: {asked}")
            }
            Denied::StaffOnly => {
                "hanya akun staf (peran staff) yang boleh: ini mencakup semua wilayah".into()
            }
        }
    }
}

/// Refuses viewers.
pub fn may_change(account: &StaffAccount) -> Result<(), Denied> {
    if account.may_change() {
        Ok(())
    } else {
        Err(Denied::ReadOnly)
    }
}

/// Refuses everyone but `staff` (actions that span every region).
pub fn staff_only(account: &StaffAccount) -> Result<(), Denied> {
    match account.role {
        Role::Staff => Ok(()),
        Role::Supervisor | Role::Viewer => Err(Denied::StaffOnly),
    }
}

/// Whether the account may see region `code` ("" is the country).
pub fn may_see(account: &StaffAccount, code: &str) -> Result<(), Denied> {
    if account.sees(code) {
        Ok(())
    } else {
        Err(Denied::OutsideRegion {
            allowed: account.scope().to_owned(),
            asked: if code.is_empty() {
                "Indonesia".into()
            } else {
                code.to_owned()
            },
        })
    }
}

/// The region a list is limited to: the one asked for (which must be inside
/// the account's scope), else the account's scope ("" for everything).
/// `requested` is a normalised region code.
pub fn scoped(account: &StaffAccount, requested: Option<&str>) -> Result<String, Denied> {
    match requested.filter(|r| !r.is_empty()) {
        Some(code) => may_see(account, code).map(|()| code.to_owned()),
        None => Ok(account.scope().to_owned()),
    }
}

/// A record's current village code, if the record exists.
pub async fn record_village(
    storage: &dyn Storage,
    id: RecordId,
) -> Result<Option<String>, StorageError> {
    Ok(storage.record(id).await?.and_then(|record| {
        match record.state.current(Field::VillageCode) {
            Some(Change::VillageCode(code)) => Some(code.clone()),
            _ => None,
        }
    }))
}

/// Whether every record is inside the account's scope (records that do not
/// exist are left to the action itself, which reports them).
pub async fn may_touch_records(
    storage: &dyn Storage,
    account: &StaffAccount,
    ids: &[RecordId],
) -> Result<Result<(), Denied>, StorageError> {
    if account.scope().is_empty() {
        return Ok(Ok(()));
    }
    for id in ids {
        if let Some(village) = record_village(storage, *id).await?
            && !account.sees(&village)
        {
            return Ok(Err(Denied::OutsideRegion {
                allowed: account.scope().to_owned(),
                asked: format!("record {id}"),
            }));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(role: Role, region: Option<&str>) -> StaffAccount {
        StaffAccount {
            id: uuid::Uuid::nil(),
            name: "x".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            revoked_at: None,
            login: None,
            role,
            region: region.map(str::to_owned),
        }
    }

    #[test]
    fn roles_limit_what_an_account_sees_and_changes() {
        let staff = account(Role::Staff, None);
        let supervisor = account(Role::Supervisor, Some("1311"));
        let viewer = account(Role::Viewer, None);
        assert_eq!(may_change(&staff), Ok(()));
        assert_eq!(may_change(&supervisor), Ok(()));
        assert_eq!(may_change(&viewer), Err(Denied::ReadOnly));
        assert_eq!(staff_only(&supervisor), Err(Denied::StaffOnly));
        assert_eq!(may_see(&viewer, "15"), Ok(()));
        assert_eq!(may_see(&supervisor, "131101"), Ok(()));
        assert!(may_see(&supervisor, "13").is_err(), "a parent is outside");
        assert!(may_see(&supervisor, "").is_err(), "the country is outside");
        assert!(may_see(&supervisor, "1501").is_err());
        assert_eq!(scoped(&supervisor, None), Ok("1311".into()));
        assert_eq!(scoped(&staff, None), Ok(String::new()));
        assert_eq!(scoped(&supervisor, Some("131101")), Ok("131101".into()));
        assert!(scoped(&supervisor, Some("1501")).is_err());
    }
}
