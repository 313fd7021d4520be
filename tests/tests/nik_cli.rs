//! `lindung-agent nik`: the verdicts an officer gets for real-world NIK shapes.

use lindung_tests::agent;

/// Female, born 1 January 1990, first registered in Sangir (131101), Solok Selatan.
const FEMALE: &str = "1311014101900001";
/// Male, born 1 January 1990, same district.
const MALE: &str = "1311010101900001";

fn codes(verdict: &serde_json::Value, kind: &str) -> Vec<String> {
    verdict[kind]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|m| m["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn valid_male_and_female_niks_show_sex_birth_date_and_district() {
    let out = agent(["nik", FEMALE, MALE]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("NIK {FEMALE}: SAH")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Perempuan") || out.stdout.contains("perempuan"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 Januari 1990"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Sangir"),
        "district name: {}",
        out.stdout
    );
    assert!(out.stdout.contains("Solok Selatan"), "{}", out.stdout);

    let out = agent(["nik", "--json", FEMALE, MALE]);
    let verdicts = out.json();
    assert_eq!(verdicts[0]["valid"], true);
    assert_eq!(verdicts[0]["sex"], "female");
    assert_eq!(verdicts[0]["birth_date"], "1990-01-01");
    assert_eq!(verdicts[0]["district"]["code"], "131101");
    assert_eq!(verdicts[0]["district"]["name"], "Sangir");
    assert_eq!(verdicts[1]["sex"], "male");
    assert_eq!(verdicts[1]["birth_date"], "1990-01-01");
}

#[test]
fn leap_day_births_are_valid_only_in_leap_years() {
    // 29 February 2000 (female: day 29 + 40 = 69) is real; 29 February 2001 is not.
    let out = agent(["nik", "--json", "1311016902000001", "1311012902010001"]);
    assert_eq!(out.code, Some(1), "one invalid NIK makes the exit code 1");
    let verdicts = out.json();
    assert_eq!(verdicts[0]["valid"], true, "{}", out.stdout);
    assert_eq!(verdicts[0]["birth_date"], "2000-02-29");
    assert_eq!(verdicts[0]["sex"], "female");
    assert_eq!(verdicts[1]["valid"], false);
    assert_eq!(codes(&verdicts[1], "errors"), vec!["nik_invalid_date"]);
}

#[test]
fn impossible_dates_unknown_provinces_and_serial_zero_are_rejected_with_their_codes() {
    let cases = [
        ("1311013102900001", "nik_invalid_date"),     // 31 February
        ("1311017201900001", "nik_invalid_date"),     // day 72
        ("1311010113900001", "nik_invalid_date"),     // month 13
        ("2011010101900001", "nik_unknown_province"), // 20 is no province
        ("1311010101900000", "nik_serial_zero"),
        ("131101010190001", "nik_wrong_length"), // 15 digits
        ("13110101019000011", "nik_wrong_length"), // 17 digits
        ("13110101O1900001", "nik_invalid_character"), // letter O for zero
    ];
    for (nik, code) in cases {
        let out = agent(["nik", "--json", nik]);
        assert_eq!(out.code, Some(1), "{nik}");
        let verdict = &out.json()[0];
        assert_eq!(verdict["valid"], false, "{nik}");
        assert!(
            codes(verdict, "errors").contains(&code.to_owned()),
            "{nik}: {verdict}"
        );
        let message = &verdict["errors"][0];
        assert!(
            !message["message_id"].as_str().unwrap_or("").is_empty(),
            "{nik}: Indonesian message"
        );
        assert!(
            !message["message_en"].as_str().unwrap_or("").is_empty(),
            "{nik}: English message"
        );
    }
}

#[test]
fn separators_are_ignored() {
    let out = agent([
        "nik",
        "--json",
        "1311-0141-0190-0001",
        "13.11.01 410190 0001",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let verdicts = out.json();
    assert_eq!(verdicts[0]["normalized"], FEMALE);
    assert_eq!(verdicts[1]["normalized"], FEMALE);
}

#[test]
fn a_retired_papua_district_warns_and_names_its_successor() {
    // Merauke was 910101 before the 2022 Papua split; it is 930101 now.
    let out = agent(["nik", "--json", "9101010101900001"]);
    assert_eq!(
        out.code,
        Some(0),
        "a retired district is a warning, not a rejection: {}",
        out.stdout
    );
    let verdict = &out.json()[0];
    assert_eq!(verdict["valid"], true);
    assert_eq!(codes(verdict, "warnings"), vec!["nik_retired_district"]);
    assert_eq!(verdict["district"]["retired"], true);
    assert_eq!(verdict["district"]["successor_code"], "930101");
    let warning = &verdict["warnings"][0];
    assert!(
        warning["message_id"]
            .as_str()
            .unwrap_or("")
            .contains("930101"),
        "{warning}"
    );
    assert!(
        warning["message_en"]
            .as_str()
            .unwrap_or("")
            .contains("930101"),
        "{warning}"
    );
}

#[test]
fn messages_follow_the_chosen_language() {
    let indonesian = agent(["nik", "1311010101900000"]);
    let english = agent(["--lang", "en", "nik", "1311010101900000"]);
    assert!(
        indonesian.stdout.contains("TIDAK SAH"),
        "{}",
        indonesian.stdout
    );
    assert!(english.stdout.contains("INVALID"), "{}", english.stdout);
    assert!(
        indonesian.stdout.contains("nik_serial_zero") && english.stdout.contains("nik_serial_zero")
    );
    assert_ne!(indonesian.stdout, english.stdout);
    let english_male = agent(["--lang", "en", "nik", MALE]);
    assert!(
        english_male.stdout.contains("1 January 1990"),
        "{}",
        english_male.stdout
    );
}

#[test]
fn no_nik_is_a_usage_error() {
    let out = agent(["nik"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("NIK"), "{}", out.stderr);
}
