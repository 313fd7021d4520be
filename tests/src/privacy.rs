//! Personal data and secrets must never reach a log (UU 27/2022; issue 7):
//! the checks the end-to-end helpers run over every log they collect.

/// What in `log` looks like a leak: a run of exactly 16 digits (a full
/// NIK; masked NIKs have `*` in the middle) or any of `secrets`
/// (enrolment codes, passwords, tokens the test handed out). Each finding
/// names the line and what was found, itself masked.
pub fn leaks(log: &str, secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for (number, line) in log.lines().enumerate() {
        for run in line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|run| run.len() == 16)
        {
            found.push(format!(
                "line {}: a full NIK {}********{}",
                number + 1,
                &run[..4],
                &run[12..]
            ));
        }
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            if line.contains(secret.as_str()) {
                found.push(format!(
                    "line {}: a secret ({} characters, starting {:?})",
                    number + 1,
                    secret.chars().count(),
                    secret.chars().take(2).collect::<String>()
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::leaks;

    #[test]
    fn full_niks_and_secrets_are_found_masked_ones_and_other_numbers_are_not() {
        let log = "push from device 01a2 accepted 5000 operations at 1764633600000\n\
                   record 1311********0003 merged\n\
                   rejected NIK 1311014101900003 in batch\n\
                   enroll with code ABCD-EFGH-JKLM\n\
                   serial 13110141019000031 is seventeen digits";
        let found = leaks(log, &["ABCD-EFGH-JKLM".to_owned()]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("line 3: a full NIK 1311********0003"));
        assert!(found[1].starts_with("line 4: a secret"));
        assert!(found.iter().all(|f| !f.contains("1311014101900003")));
    }
}
