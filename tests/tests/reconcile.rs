//! Staff reconciliation end to end: the conflict log and the duplicate
//! queue, decided with `lindung-server` commands and delivered to the real
//! agents by their next sync.

use std::time::Duration;

use lindung_tests::Laptop;
use lindung_tests::central::Central;
use serde_json::Value;

fn show(laptop: &Laptop, id: &str) -> Value {
    let out = laptop.agent(["show", id, "--json"]);
    assert_eq!(out.code, Some(0), "show: {}{}", out.stdout, out.stderr);
    out.json()
}

fn staff(central: &Central, args: &[&str]) -> Value {
    let out = central.admin(args);
    assert_eq!(out.code, Some(0), "{args:?}: {}{}", out.stdout, out.stderr);
    out.json()
}

#[test]
fn staff_resolve_a_conflict_and_every_laptop_gets_the_decision() {
    let central = Central::start();
    let rina = central.add_officer("Rina Marlina", &["1311"]);
    let budi = central.add_officer("Budi Santoso", &["1311"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Budi"));
    a.enroll(&central, &rina, &central.url());
    b.enroll(&central, &budi, &central.url());
    let id = a.register("1311014101900001", "Siti Aminah", "1311012001");
    a.sync();
    b.sync();
    // Both change the name offline; Budi's edit is later and arrives first.
    let edit = |laptop: &Laptop, value: &str| {
        let out = laptop.agent(["edit", &id, "--name", value, "--json"]);
        assert_eq!(out.code, Some(0), "edit: {}{}", out.stdout, out.stderr);
    };
    edit(&a, "Siti Aminah Nasution");
    std::thread::sleep(Duration::from_millis(5));
    edit(&b, "Siti Aminah Lubis");
    b.sync();
    a.sync();

    let open = staff(&central, &["conflicts", "list", "--json"]);
    let open = open.as_array().expect("list");
    assert_eq!(open.len(), 1, "{open:?}");
    let conflict = &open[0];
    assert_eq!(conflict["field"], "full_name");
    assert_eq!(conflict["kept"]["value"], "Siti Aminah Lubis");
    assert!(
        conflict["kept"]["by"]
            .as_str()
            .expect("writer")
            .contains("Budi Santoso")
    );
    assert_eq!(conflict["overwritten"]["value"], "Siti Aminah Nasution");
    assert!(
        conflict["overwritten"]["by"]
            .as_str()
            .expect("writer")
            .contains("Rina Marlina")
    );
    let number = conflict["id"].to_string();
    // The table names both values and who wrote them.
    let table = central.admin(["conflicts", "list"]);
    assert!(
        table.stdout.contains("Siti Aminah Nasution"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("Budi Santoso"), "{}", table.stdout);

    // A value that is not valid is refused, naming the field; nothing changes.
    let refused = central.admin(["conflicts", "resolve", &number, "--value", ""]);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("ditolak"), "{}", refused.stderr);
    assert!(
        refused.stderr.to_lowercase().contains("nama"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        staff(&central, &["conflicts", "list", "--json"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Staff take Rina's value; both laptops receive it.
    let resolved = central.admin([
        "conflicts",
        "resolve",
        &number,
        "--take-other",
        "--staff",
        "ani.staf",
    ]);
    assert_eq!(
        resolved.code,
        Some(0),
        "{}{}",
        resolved.stdout,
        resolved.stderr
    );
    a.sync();
    b.sync();
    for laptop in [&a, &b] {
        assert_eq!(
            show(laptop, &id)["registration"]["full_name"],
            "Siti Aminah Nasution"
        );
    }
    assert_eq!(a.registrations(), b.registrations());
    assert_eq!(
        staff(&central, &["conflicts", "list", "--json"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let all = staff(&central, &["conflicts", "list", "--all", "--json"]);
    assert_eq!(all[0]["resolved"]["by"], "ani.staf");
    assert_eq!(all[0]["resolved"]["how"], "other");
    // Twice is refused.
    let again = central.admin(["conflicts", "resolve", &number, "--keep"]);
    assert_ne!(again.code, Some(0));
    assert!(
        again.stderr.contains("already resolved"),
        "{}",
        again.stderr
    );
    // The decision is in the audit log, under its author.
    let audit = staff(
        &central,
        &["audit", "list", "--action", "conflict.resolve", "--json"],
    );
    assert_eq!(audit[0]["actor"], "ani.staf", "{audit}");
}

#[test]
fn staff_merge_a_duplicate_person_and_undo_it() {
    let central = Central::start();
    let rina = central.add_officer("Rina Marlina", &["131101"]);
    let budi = central.add_officer("Budi Santoso", &["131101"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Budi"));
    a.enroll(&central, &rina, &central.url());
    b.enroll(&central, &budi, &central.url());
    let nik = "1311014101900007";
    let by_a = a.register(nik, "Siti Aminah", "1311012001");
    let by_b = b.register(nik, "Siti Aminah", "1311012002");
    a.sync();
    b.sync();
    a.sync();

    let listed = staff(
        &central,
        &["duplicates", "list", "--region", "1311", "--json"],
    );
    assert_eq!(listed["total"], 1, "{listed}");
    let records = listed["groups"][0]["records"].as_array().expect("records");
    assert_eq!(records.len(), 2);
    assert!(!listed.to_string().contains(nik), "NIK masked: {listed}");
    let officers: Vec<&str> = records
        .iter()
        .filter_map(|r| r["officer"].as_str())
        .collect();
    assert!(officers.contains(&"Budi Santoso") && officers.contains(&"Rina Marlina"));
    let table = central.admin(["duplicates", "list"]);
    assert!(table.stdout.contains("NIK sama"), "{}", table.stdout);
    assert!(!table.stdout.contains(nik), "NIK masked: {}", table.stdout);

    // Keep Rina's registration, take Budi's village.
    let merged = staff(
        &central,
        &[
            "duplicates",
            "merge",
            "--keep",
            &by_a,
            "--with",
            &by_b,
            "--take",
            &format!("village_code={by_b}"),
            "--json",
        ],
    );
    let merge_id = merged["merge_id"].to_string();
    a.sync();
    b.sync();
    for laptop in [&a, &b] {
        let kept = show(laptop, &by_a);
        assert_eq!(kept["registration"]["village_code"], "1311012002");
        let gone = show(laptop, &by_b)["registration"]["status"].to_string();
        assert!(gone.contains("digabung"), "{gone}");
    }
    let coverage = staff(&central, &["coverage", "--region", "131101", "--json"]);
    assert_eq!(coverage["coverage"]["persons"], 1, "{coverage}");

    // Undo: Budi's registration is active again, Rina's back in her village.
    let undone = central.admin(["duplicates", "unmerge", &merge_id]);
    assert_eq!(undone.code, Some(0), "{}{}", undone.stdout, undone.stderr);
    a.sync();
    b.sync();
    for laptop in [&a, &b] {
        assert_eq!(
            show(laptop, &by_a)["registration"]["village_code"],
            "1311012001"
        );
        let back = show(laptop, &by_b)["registration"]["status"].to_string();
        assert!(back.contains("active"), "{back}");
    }
    let merges = staff(&central, &["duplicates", "merges", "--json"]);
    assert!(merges[0]["undone_by"].is_string(), "{merges}");
    let again = central.admin(["duplicates", "unmerge", &merge_id]);
    assert_ne!(again.code, Some(0));
}
