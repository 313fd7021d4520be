//! `lindung-agent region`: code lookups and type-ahead search, offline.

use lindung_tests::agent;

#[test]
fn a_village_code_shows_its_name_kind_and_parents() {
    let out = agent(["region", "1311012001"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("Lubuk Gadang"), "{}", out.stdout);
    assert!(out.stdout.contains("desa"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Kabupaten Solok Selatan"),
        "{}",
        out.stdout
    );

    let json = agent(["region", "13.11.01.2001", "--json"]).json();
    assert_eq!(json["code"], "1311012001");
    assert_eq!(json["level"], "village");
    assert_eq!(json["village_kind"], "desa");
    let parents: Vec<&str> = json["parents"]
        .as_array()
        .expect("parents")
        .iter()
        .filter_map(|p| p["code"].as_str())
        .collect();
    assert_eq!(parents, vec!["13", "1311", "131101"]);
}

#[test]
fn children_of_a_regency_are_its_districts() {
    let json = agent(["region", "1311", "--children", "--json"]).json();
    let children = json["children"].as_array().expect("children");
    assert!(!children.is_empty());
    assert!(children.iter().all(|c| {
        c["code"]
            .as_str()
            .is_some_and(|code| code.len() == 6 && code.starts_with("1311"))
    }));
}

#[test]
fn search_finds_a_village_by_name_with_case_and_accents_ignored() {
    let json = agent([
        "region",
        "--search",
        "LUBUK gádang",
        "--level",
        "village",
        "--json",
    ])
    .json();
    let hits = json.as_array().expect("a list");
    assert!(!hits.is_empty(), "no hit");
    assert!(hits.iter().any(|h| h["code"] == "1311012001"), "{json}");
    assert!(hits.iter().all(|h| h["level"] == "village"));
}

#[test]
fn search_narrowed_to_a_regency_stays_inside_it() {
    let json = agent(["region", "--search", "koto", "--within", "1311", "--json"]).json();
    let hits = json.as_array().expect("a list");
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .all(|h| h["code"].as_str().is_some_and(|c| c.starts_with("1311"))),
        "{json}"
    );
}

#[test]
fn unknown_codes_and_empty_searches_exit_with_1() {
    let out = agent(["region", "9999"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("tidak ditemukan"), "{}", out.stderr);
    let out = agent(["region", "--search", "zzzzqqq"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("Tidak ada wilayah"), "{}", out.stderr);
}

#[test]
fn a_retired_district_code_points_to_its_successor() {
    let out = agent(["region", "910101"]);
    assert_eq!(out.code, Some(1), "a retired code is not a current region");
    assert!(
        out.stdout.contains("Merauke") && out.stdout.contains("930101"),
        "{}",
        out.stdout
    );
}
