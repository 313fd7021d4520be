//! The server binary starts and describes itself. (Also makes `cargo test`
//! build the binary that the end-to-end suite in `tests/` runs.)

use std::process::Command;

#[test]
fn help_lists_the_commands() {
    let output = Command::new(env!("CARGO_BIN_EXE_lindung-server"))
        .arg("--help")
        .output()
        .expect("runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("regions"), "{help}");
}
