//! Backups and restores of the embedded SQLite store, and the lock that
//! keeps a restore away from a running server.
//!
//! - **Backup** (`lindung-server backup FILE`) runs beside a serving server:
//!   `VACUUM INTO` writes a consistent, compacted copy of the database as of
//!   one moment (a read transaction; pushes go on meanwhile).
//! - **Restore** (`lindung-server restore FILE`) needs the server stopped
//!   (it refuses while `serve` holds [`ServeLock`]). It checks that the file
//!   is a Lindung store this build can read, keeps the current database as
//!   `NAME.before-restore-TIMESTAMP` (nothing is lost), puts the backup in
//!   place and gives the store a new identity
//!   ([`crate::storage::Storage::renew_store_id`]): every agent then sees
//!   another store, turns what it had delivered back to pending and sends it
//!   again, so what reached the server after the backup comes back, and what
//!   the backup already has is answered `duplicate`.
//!
//! PostgreSQL is backed up with its own tools (`pg_dump`, `pg_restore`; see
//! `docs/operations.md`), followed by `lindung-server store-id --renew`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use time::OffsetDateTime;

/// Why a backup or restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target of a backup exists already.
    #[error("{0} exists already; choose a new file name (a backup never overwrites)")]
    TargetExists(PathBuf),
    /// The file to restore is missing or unreadable.
    #[error("cannot read the backup {path}: {reason}")]
    Unreadable {
        /// The backup file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file to restore is not a Lindung server store.
    #[error("{0} is not a backup of a Lindung server (no store identity in it)")]
    NotAStore(PathBuf),
    /// The file failed SQLite's integrity check.
    #[error("the backup {path} is damaged: {detail}")]
    Damaged {
        /// The backup file.
        path: PathBuf,
        /// What SQLite's check said.
        detail: String,
    },
    /// A server is serving the database.
    #[error(
        "a lindung-server is serving {0}; stop it before restoring (the running server would keep the old store identity)"
    )]
    ServerRunning(PathBuf),
    /// SQLite failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

/// Held by `serve` for as long as it serves a SQLite database: an exclusive
/// lock on `DATABASE.serve-lock`, released by the operating system when the
/// process ends, however it ends.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".serve-lock");
    PathBuf::from(name)
}

/// Takes the serve lock of `database`; `Ok(None)` when another process holds it.
pub fn try_serve_lock(database: &Path) -> Result<Option<ServeLock>, BackupError> {
    let path = lock_path(database);
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(format!("cannot open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServeLock { _file: file })),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(source)) => Err(BackupError::Io {
            context: format!("cannot lock {}", path.display()),
            source,
        }),
    }
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupDone {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Writes a consistent copy of the SQLite database at `database` to `to`
/// (which must not exist), while a server may go on serving it.
pub fn backup_sqlite(database: &Path, to: &Path) -> Result<BackupDone, BackupError> {
    if to.exists() {
        return Err(BackupError::TargetExists(to.to_owned()));
    }
    if !database.exists() {
        return Err(BackupError::Unreadable {
            path: database.to_owned(),
            reason: "no such database".into(),
        });
    }
    let connection = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = to.to_str().ok_or_else(|| BackupError::Unreadable {
        path: to.to_owned(),
        reason: "the file name is not valid UTF-8".into(),
    })?;
    connection.execute("VACUUM INTO ?1", [target])?;
    let bytes = fs::metadata(to)
        .map_err(io(format!("cannot read {}", to.display())))?
        .len();
    Ok(BackupDone {
        path: to.to_owned(),
        bytes,
    })
}

/// Checks that `backup` is an intact Lindung server store; returns its
/// store identity as stored.
pub fn check_backup(backup: &Path) -> Result<String, BackupError> {
    let unreadable = |reason: String| BackupError::Unreadable {
        path: backup.to_owned(),
        reason,
    };
    if !backup.is_file() {
        return Err(unreadable("no such file".into()));
    }
    let connection = Connection::open_with_flags(
        backup,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| unreadable(e.to_string()))?;
    let verdict: String = connection
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(|e| unreadable(e.to_string()))?;
    if verdict != "ok" {
        return Err(BackupError::Damaged {
            path: backup.to_owned(),
            detail: verdict,
        });
    }
    connection
        .query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |row| {
            row.get::<_, String>(0)
        })
        .map_err(|_| BackupError::NotAStore(backup.to_owned()))
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Where the database that was replaced was kept (`None`: there was none).
    pub previous_kept_as: Option<PathBuf>,
}

/// Puts the backup `backup` in place of the SQLite database at `database`,
/// keeping the current one beside it. The caller holds the serve lock and
/// renews the store identity afterwards (it opens the store through
/// [`crate::storage::open`], which also migrates an older backup).
pub fn put_backup_in_place(
    backup: &Path,
    database: &Path,
    _lock: &ServeLock,
    now: OffsetDateTime,
) -> Result<Restored, BackupError> {
    check_backup(backup)?;
    let mut previous_kept_as = None;
    if database.exists() {
        // A consistent single-file copy of the current database (its WAL
        // included), then the live files go.
        let stamp = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let mut name = database.as_os_str().to_owned();
        name.push(format!(".before-restore-{stamp}"));
        let kept = PathBuf::from(name);
        backup_sqlite(database, &kept)?;
        previous_kept_as = Some(kept);
    }
    let mut staging = database.as_os_str().to_owned();
    staging.push(".restoring");
    let staging = PathBuf::from(staging);
    fs::copy(backup, &staging).map_err(io(format!(
        "cannot copy {} to {}",
        backup.display(),
        staging.display()
    )))?;
    File::open(&staging)
        .and_then(|file| file.sync_all())
        .map_err(io(format!("cannot flush {}", staging.display())))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = database.as_os_str().to_owned();
        side.push(suffix);
        match fs::remove_file(PathBuf::from(side)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(BackupError::Io {
                    context: format!("cannot remove the {suffix} file of {}", database.display()),
                    source: error,
                });
            }
        }
    }
    fs::rename(&staging, database).map_err(io(format!(
        "cannot move {} to {}",
        staging.display(),
        database.display()
    )))?;
    if let Some(dir) = database.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        // The rename is durable once the directory is.
        if let Ok(handle) = File::open(dir) {
            let _ = handle.sync_all();
        }
    }
    Ok(Restored { previous_kept_as })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn store(path: &Path, id: &str, rows: u32) {
        let connection = Connection::open(path).expect("opens");
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE t (n INTEGER);",
            )
            .expect("schema");
        connection
            .execute("INSERT INTO meta VALUES ('store_id', ?1)", [id])
            .expect("id");
        for n in 0..rows {
            connection
                .execute("INSERT INTO t VALUES (?1)", [n])
                .expect("row");
        }
    }

    fn rows(path: &Path) -> u32 {
        Connection::open(path)
            .expect("opens")
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .expect("counts")
    }

    #[test]
    fn a_backup_is_a_consistent_copy_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("dir");
        let database = dir.path().join("lindung.sqlite");
        store(&database, "a", 5);
        let to = dir.path().join("backup.sqlite");
        let done = backup_sqlite(&database, &to).expect("backs up");
        assert!(done.bytes > 0);
        assert_eq!(rows(&to), 5);
        assert_eq!(check_backup(&to).expect("a store"), "a");
        assert!(matches!(
            backup_sqlite(&database, &to),
            Err(BackupError::TargetExists(_))
        ));
    }

    #[test]
    fn a_restore_keeps_the_replaced_database_and_refuses_what_is_not_a_store() {
        let dir = tempfile::tempdir().expect("dir");
        let database = dir.path().join("lindung.sqlite");
        store(&database, "a", 2);
        let to = dir.path().join("backup.sqlite");
        backup_sqlite(&database, &to).expect("backs up");
        Connection::open(&database)
            .expect("opens")
            .execute("INSERT INTO t VALUES (99)", [])
            .expect("row");
        let lock = try_serve_lock(&database).expect("locks").expect("free");
        let now = OffsetDateTime::from_unix_timestamp(1_764_000_000).expect("time");
        let restored = put_backup_in_place(&to, &database, &lock, now).expect("restores");
        assert_eq!(rows(&database), 2);
        let kept = restored.previous_kept_as.expect("kept");
        assert_eq!(rows(&kept), 3, "the replaced database is kept whole");

        let junk = dir.path().join("junk.sqlite");
        fs::write(&junk, b"not a database at all, just text").expect("writes");
        assert!(put_backup_in_place(&junk, &database, &lock, now).is_err());
        let empty = dir.path().join("empty.sqlite");
        Connection::open(&empty)
            .expect("opens")
            .execute_batch("CREATE TABLE x (y)")
            .expect("table");
        assert!(matches!(
            put_backup_in_place(&empty, &database, &lock, now),
            Err(BackupError::NotAStore(_))
        ));
        assert_eq!(rows(&database), 2, "a refused restore changes nothing");
    }

    #[test]
    fn the_serve_lock_is_exclusive() {
        let dir = tempfile::tempdir().expect("dir");
        let database = dir.path().join("lindung.sqlite");
        let held = try_serve_lock(&database).expect("locks");
        assert!(held.is_some());
        // flock locks are per open file description: a second open sees it held.
        assert!(try_serve_lock(&database).expect("asks").is_none());
        drop(held);
        assert!(try_serve_lock(&database).expect("asks").is_some());
    }
}
