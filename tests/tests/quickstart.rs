//! The README's quick start: one command brings up a server on SQLite, a demo
//! officer and an enrolled agent; the printed next steps work; stopping it is
//! clean; running it again reuses everything.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use lindung_tests::binary;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts the script and returns it with everything it printed up to its last line.
fn start(demo_dir: &std::path::Path, port: u16) -> (std::process::Child, String) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/quickstart.sh");
    let bin_dir = binary("lindung-server")
        .parent()
        .expect("binary directory")
        .to_owned();
    let mut child = Command::new("bash")
        .arg(script)
        .env("LINDUNG_BIN_DIR", bin_dir)
        .env("LINDUNG_DEMO_DIR", demo_dir)
        .env("LINDUNG_DEMO_PORT", port.to_string())
        .env_remove("LINDUNG_DATABASE")
        .env_remove("LINDUNG_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the quick start runs");
    let mut printed = String::new();
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("reads");
        printed.push_str(&line);
        if n == 0 || line.contains("Ctrl-C") {
            break;
        }
    }
    (child, printed)
}

fn stop(mut child: std::process::Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("the script ends");
    assert!(status.success(), "Ctrl-C/TERM stops cleanly: {status:?}");
}

#[test]
fn the_quick_start_brings_up_the_whole_loop_and_can_run_twice() {
    let demo = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let (child, printed) = start(demo.path(), port);
    assert!(
        printed.contains(&format!("http://127.0.0.1:{port}")),
        "{printed}"
    );
    assert!(printed.contains("lindung-agent register"), "{printed}");
    // The printed next steps: register, sync, see the server's counts.
    let agent_dir = demo.path().join("agent");
    let agent = |args: &[&str]| {
        Command::new(binary("lindung-agent"))
            .args(args)
            .env("LINDUNG_DATA_DIR", &agent_dir)
            .env("LINDUNG_PASSPHRASE", "demo-lindung-2026")
            .env_remove("LINDUNG_LANG")
            .output()
            .expect("agent runs")
    };
    let registered = agent(&[
        "register",
        "--nik",
        "1311014101900001",
        "--name",
        "Siti Aminah",
        "--village",
        "1311012001",
        "--category",
        "Ketua RT",
        "--payer",
        "APBD",
        "--consent",
        "formulir",
    ]);
    assert!(
        registered.status.success(),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    let synced = agent(&["sync", "--json"]);
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    let stats = Command::new(binary("lindung-server"))
        .args(["stats", "--json"])
        .env(
            "LINDUNG_DATABASE",
            format!("sqlite://{}", demo.path().join("server.sqlite").display()),
        )
        .output()
        .expect("stats runs");
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).expect("json");
    assert_eq!(stats["records"], 1);
    assert_eq!(stats["officers"], 1);
    // The printed dashboard login works, and shows the synced worker.
    assert!(printed.contains("/login"), "{printed}");
    let address: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let dashboard = lindung_tests::web::Browser::new(address);
    let page = dashboard.login("staf", "demo-staf-lindung");
    assert_eq!(page.status, 303, "{}", page.body);
    let page = dashboard.get("/coverage?region=13.11.01");
    assert!(
        page.body.contains("id=\"summary-persons\">1<"),
        "{}",
        page.body
    );
    stop(child);

    // Again: same data, no second officer, the agent stays enrolled.
    let (child, printed) = start(demo.path(), port);
    assert!(printed.contains("Lindung berjalan"), "{printed}");
    let again = agent(&["sync", "--json"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    stop(child);
    let officers = Command::new(binary("lindung-server"))
        .args(["officer", "list", "--json"])
        .env(
            "LINDUNG_DATABASE",
            format!("sqlite://{}", demo.path().join("server.sqlite").display()),
        )
        .output()
        .expect("runs");
    let officers: serde_json::Value = serde_json::from_slice(&officers.stdout).expect("json");
    assert_eq!(officers.as_array().map(Vec::len), Some(1));
}
