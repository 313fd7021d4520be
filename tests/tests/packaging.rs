//! The Debian packages: built with cargo-deb from the binaries this test run
//! built, unpacked into a throwaway root, and checked there — the files, the
//! maintainer scripts, the hardened systemd unit (`systemd-analyze verify`
//! and its offline security score) and the packaged program itself.
//! Skipped, saying so, where cargo-deb is not installed (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_owned()
}

fn has(program: &str, probe: &[&str]) -> bool {
    Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|out| out.status.success())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds the package of `crate_name` into `out` and returns the .deb.
fn build_deb(crate_name: &str, out: &Path) -> PathBuf {
    // The binaries of this run (target/debug), stripped into the package.
    let built = Command::new("cargo")
        .current_dir(workspace())
        .args([
            "deb",
            "-p",
            crate_name,
            "--no-build",
            "--profile",
            "dev",
            "--fast",
            "-o",
        ])
        .arg(out)
        .output()
        .expect("cargo deb runs");
    assert!(built.status.success(), "{}", text(&built.stderr));
    std::fs::read_dir(out)
        .expect("output dir")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{crate_name}_")) && n.ends_with(".deb"))
        })
        .expect("a .deb was written")
}

fn check_package(crate_name: &str, config: &str, user: &str, state: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let deb = build_deb(crate_name, dir.path());
    let root = dir.path().join("root");
    let control = dir.path().join("control");
    for (flag, target) in [("-x", &root), ("-e", &control)] {
        let unpacked = Command::new("dpkg-deb")
            .arg(flag)
            .arg(&deb)
            .arg(target)
            .output()
            .expect("dpkg-deb runs");
        assert!(unpacked.status.success(), "{}", text(&unpacked.stderr));
    }

    let fields = std::fs::read_to_string(control.join("control")).expect("control");
    assert!(
        fields.contains(&format!("Package: {crate_name}")),
        "{fields}"
    );
    assert!(fields.contains("Depends: libc6"), "{fields}");
    let conffiles = std::fs::read_to_string(control.join("conffiles")).expect("conffiles");
    assert_eq!(conffiles.trim(), format!("/etc/lindung/{config}"));
    for script in ["postinst", "prerm", "postrm"] {
        let checked = Command::new("sh")
            .arg("-n")
            .arg(control.join(script))
            .output()
            .expect("sh runs");
        assert!(
            checked.status.success(),
            "{script}: {}",
            text(&checked.stderr)
        );
    }

    let binary = root.join("usr/bin").join(crate_name);
    let unit_path = root.join(format!("usr/lib/systemd/system/{crate_name}.service"));
    let sysusers =
        std::fs::read_to_string(root.join(format!("usr/lib/sysusers.d/{crate_name}.conf")))
            .expect("sysusers entry");
    assert!(sysusers.contains(&format!("u {user} ")), "{sysusers}");
    let unit = std::fs::read_to_string(&unit_path).expect("unit");
    for directive in [
        format!("User={user}"),
        format!("StateDirectory={state}"),
        "NoNewPrivileges=yes".to_owned(),
        "ProtectSystem=strict".to_owned(),
        "ProtectHome=yes".to_owned(),
        "CapabilityBoundingSet=\n".to_owned(),
        format!("Environment=LINDUNG_CONFIG=/etc/lindung/{config}"),
        format!("ExecStart=/usr/bin/{crate_name} serve"),
    ] {
        assert!(unit.contains(&directive), "{directive:?} in\n{unit}");
    }

    // The packaged program runs and accepts the packaged configuration.
    let checked = Command::new(&binary)
        .args(["config", "check", "--config"])
        .arg(root.join("etc/lindung").join(config))
        .env_remove("LINDUNG_CONFIG")
        .output()
        .expect("the packaged binary runs");
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    assert!(text(&checked.stdout).contains(": OK"));

    if !has("systemd-analyze", &["--version"]) {
        eprintln!(
            "skipped: systemd-analyze is not installed; the unit was checked by content only"
        );
        return;
    }
    // `verify --root` needs the system's own units (targets) beside ours.
    let units = root.join("usr/lib/systemd/system");
    for system_units in ["/usr/lib/systemd/system", "/lib/systemd/system"] {
        if let Ok(entries) = std::fs::read_dir(system_units) {
            for entry in entries.filter_map(Result::ok) {
                let target = units.join(entry.file_name());
                if !target.exists() && entry.path().is_file() {
                    let _ = std::fs::copy(entry.path(), target);
                }
            }
            break;
        }
    }
    let unit_name = format!("{crate_name}.service");
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg(&unit_name)
        .output()
        .expect("systemd-analyze runs");
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "{}{}",
        text(&verified.stdout),
        text(&verified.stderr)
    );
    // Exposure on systemd's scale of 0 (locked down) to 10 (unprotected).
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager", "--threshold=20"])
        .arg(format!("--root={}", root.display()))
        .arg(&unit_name)
        .output()
        .expect("systemd-analyze runs");
    let report = text(&security.stdout);
    assert!(
        security.status.success(),
        "{report}{}",
        text(&security.stderr)
    );
    assert!(report.contains("Overall exposure level"), "{report}");
}

#[test]
fn the_debian_packages_install_hardened_services() {
    if !has("cargo", &["deb", "--version"]) || !has("dpkg-deb", &["--version"]) {
        eprintln!("skipped: cargo-deb or dpkg-deb is not installed (`cargo install cargo-deb`)");
        return;
    }
    check_package("lindung-server", "server.toml", "lindung", "lindung");
    check_package(
        "lindung-agent",
        "agent.toml",
        "lindung-agent",
        "lindung-agent",
    );
}
