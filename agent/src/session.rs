//! Opening the store for one command: where it lives and how the passphrase is asked.
//!
//! The passphrase comes from `LINDUNG_PASSPHRASE` (scripts, tests) or is asked
//! once on the terminal; it is never taken from the command line, where it
//! would end up in shell history and process lists.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, bail};
use lindung_shared::lang::Lang;

use crate::store::Store;

/// Environment variable holding the passphrase for non-interactive use.
pub const PASSPHRASE_ENV: &str = "LINDUNG_PASSPHRASE";
/// Environment variable holding the new passphrase for `passphrase change`.
pub const NEW_PASSPHRASE_ENV: &str = "LINDUNG_NEW_PASSPHRASE";

/// The data directory: `--data-dir`, else `LINDUNG_DATA_DIR`, else the platform's
/// data directory (`~/.local/share/lindung-agent` on Linux, `%APPDATA%` on Windows).
pub fn data_dir(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir);
    }
    directories::ProjectDirs::from("id", "Lindung", "lindung-agent")
        .map(|dirs| dirs.data_dir().to_owned())
        .context("no home directory to keep the data in; give --data-dir")
}

/// Reads a passphrase from an environment variable or, on a terminal, a prompt.
pub fn passphrase(
    env: &str,
    prompt_id: &str,
    prompt_en: &str,
    lang: Lang,
) -> anyhow::Result<String> {
    if let Ok(value) = std::env::var(env) {
        return Ok(value);
    }
    if !std::io::stdin().is_terminal() {
        bail!(match lang {
            Lang::Id => format!("kata sandi diperlukan: setel {env} atau jalankan di terminal"),
            Lang::En => format!("a passphrase is needed: set {env} or run in a terminal"),
        });
    }
    let prompt = match lang {
        Lang::Id => prompt_id,
        Lang::En => prompt_en,
    };
    rpassword::prompt_password(format!("{prompt}: ")).context("cannot read the passphrase")
}

/// Opens the store in the data directory, asking for the passphrase once.
pub fn open(dir: &std::path::Path, lang: Lang) -> anyhow::Result<Store> {
    let passphrase = passphrase(PASSPHRASE_ENV, "Kata sandi", "Passphrase", lang)?;
    Store::open(dir, &passphrase).map_err(|e| crate::output::problem(e, lang))
}
