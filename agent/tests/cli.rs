//! The agent binary starts and describes itself. (Also makes `cargo test`
//! build the binary that the end-to-end suite in `tests/` runs.)

use std::process::Command;

#[test]
fn help_lists_the_commands_in_both_languages() {
    let output = Command::new(env!("CARGO_BIN_EXE_lindung-agent"))
        .arg("--help")
        .output()
        .expect("runs");
    assert!(output.status.success());
    // Help text wraps to the terminal width; compare with whitespace folded.
    let help = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "nik",
        "region",
        "register",
        "Periksa NIK",
        "Check NIKs",
        "Daftarkan pekerja",
        "--lang",
        "--data-dir",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from:\n{help}");
    }
}

#[test]
fn an_unknown_language_is_refused_clearly() {
    let output = Command::new(env!("CARGO_BIN_EXE_lindung-agent"))
        .args(["--lang", "fr", "nik", "1311014101900001"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("\"id\""));
}
