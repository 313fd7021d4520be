//! The staff API over HTTP against the real server: staff tokens, coverage,
//! reference import, the duplicate queue and the audit trail, and the
//! OpenAPI document describing only routes that exist.

use lindung_tests::central::Central;
use lindung_tests::{Laptop, raw_request};
use serde_json::Value;

fn call(central: &Central, method_path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
    // `method_path` may carry extra header lines after the request line.
    let (line, headers) = method_path.split_once("\r\n").unwrap_or((method_path, ""));
    let mut head = format!("{line} HTTP/1.1");
    if !headers.is_empty() {
        head.push_str("\r\n");
        head.push_str(headers);
    }
    if let Some(token) = token {
        head.push_str(&format!("\r\nAuthorization: Bearer {token}"));
    }
    let (status, body) = raw_request(central.address(), &head, body);
    let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, json)
}

fn staff_token(central: &Central, name: &str) -> (String, String) {
    let out = central.admin(["staff", "add", name, "--json"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let json = out.json();
    let token = json["token"].as_str().expect("token").to_owned();
    central.remember_secret(&token);
    (json["id"].as_str().expect("id").to_owned(), token)
}

#[test]
fn staff_work_through_the_api_with_their_own_token() {
    let central = Central::start();
    let (id, token) = staff_token(&central, "Ani Staf Pusat");
    let token = Some(token.as_str());

    // No token, an agent-like unknown token: refused with a stable code.
    let (status, body) = call(&central, "GET /api/v1/staff/coverage", None, b"");
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = call(&central, "GET /api/v1/staff/coverage", Some("00ff"), b"");
    assert_eq!(status, 401);

    // Reference data through the API: a bad row names its line; nothing stored.
    let (status, body) = call(
        &central,
        "PUT /api/v1/staff/reference\r\nContent-Type: text/csv",
        token,
        b"tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs;target_persen\n2026;13.11;banyak;150;28,30\n",
    );
    assert_eq!(status, 400, "{body}");
    let detail = body["error"]["details"][0]["message_en"].as_str();
    assert!(detail.is_some_and(|d| d.contains("line 2")), "{body}");
    let (status, body) = call(
        &central,
        "PUT /api/v1/staff/reference\r\nContent-Type: text/csv",
        token,
        b"tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs;target_persen\n2026;13.11;1000;150;28,30\n",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], true);

    // Two laptops register the same person; staff see the group and merge it.
    let rina = central.add_officer("Rina Marlina", &["1311"]);
    let budi = central.add_officer("Budi Santoso", &["1311"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Budi"));
    a.enroll(&central, &rina, &central.url());
    b.enroll(&central, &budi, &central.url());
    let nik = "1311014101900003";
    let first = a.register(nik, "Siti Aminah", "1311012001");
    let second = b.register(nik, "Siti Aminah", "1311012002");
    a.sync();
    b.sync();
    let (status, groups) = call(
        &central,
        "GET /api/v1/staff/duplicates?region=1311",
        token,
        b"",
    );
    assert_eq!(status, 200, "{groups}");
    assert_eq!(groups["total"], 1);
    assert!(!groups.to_string().contains(nik), "NIK masked");
    let merge = format!("{{\"keep\":\"{first}\",\"with\":[\"{second}\"]}}");
    let (status, merged) = call(
        &central,
        "POST /api/v1/staff/duplicates/merge\r\nContent-Type: application/json",
        token,
        merge.as_bytes(),
    );
    assert_eq!(status, 200, "{merged}");
    let merge_id = merged["merge_id"].as_i64().expect("merge id");
    let (status, again) = call(
        &central,
        &format!("POST /api/v1/staff/merges/{merge_id}/undo"),
        token,
        b"",
    );
    assert_eq!(status, 200, "{again}");
    let (status, again) = call(
        &central,
        &format!("POST /api/v1/staff/merges/{merge_id}/undo"),
        token,
        b"",
    );
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "already_done");
    let (status, missing) = call(
        &central,
        "POST /api/v1/staff/conflicts/999/resolve",
        token,
        b"{\"how\":\"keep\"}",
    );
    assert_eq!(status, 404, "{missing}");

    // Coverage of the regency: one person (the same NIK counts once) + baseline.
    let (status, coverage) = call(
        &central,
        "GET /api/v1/staff/coverage?region=1311&year=2026",
        token,
        b"",
    );
    assert_eq!(status, 200, "{coverage}");
    assert_eq!(coverage["coverage"]["covered"], 151, "{coverage}");
    let (status, listing) = call(
        &central,
        "GET /api/v1/staff/coverage?region=1311&level=district&year=2026",
        token,
        b"",
    );
    assert_eq!(status, 200, "{listing}");
    assert!(listing.as_array().is_some_and(|rows| !rows.is_empty()));

    // Everything staff did carries their name.
    let (status, audit) = call(&central, "GET /api/v1/staff/audit?limit=10", token, b"");
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<(&str, &str)> = audit
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["actor"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for action in ["reference.import", "duplicates.merge", "duplicates.unmerge"] {
        assert!(
            actions.contains(&(action, "Ani Staf Pusat")),
            "{action} in {actions:?}"
        );
    }

    // A revoked account is refused.
    let revoked = central.admin(["staff", "revoke", &id]);
    assert_eq!(revoked.code, Some(0), "{}", revoked.stderr);
    let (status, body) = call(&central, "GET /api/v1/staff/audit", token, b"");
    assert_eq!(status, 401);
    assert!(body.to_string().contains("revoked"), "{body}");
}

#[test]
fn the_openapi_document_describes_routes_that_exist() {
    let central = Central::start();
    let (_, token) = staff_token(&central, "Ani Staf Pusat");
    let (status, document) = call(&central, "GET /api/v1/openapi.json", Some(&token), b"");
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 10);
    // Staff routes list the refusal by role; the sync routes have no roles.
    assert_eq!(
        document["paths"]["/api/v1/staff/duplicates/merge"]["post"]["responses"]["403"]["$ref"],
        "#/components/responses/Forbidden"
    );
    assert!(document["components"]["responses"]["Forbidden"]["description"].is_string());
    assert!(document["paths"]["/api/v1/sync/push"]["post"]["responses"]["403"].is_null());
    for (path, item) in paths {
        for method in item.as_object().expect("methods").keys() {
            let concrete = path.replace("{id}", "1");
            let (status, body) = call(
                &central,
                &format!("{} {concrete}", method.to_uppercase()),
                None,
                b"",
            );
            assert_ne!(
                status, 404,
                "{method} {path} is described but not served: {body}"
            );
            assert_ne!(status, 405, "{method} {path}: {body}");
        }
    }
    // And an undescribed route is not served.
    let (status, _) = call(&central, "GET /api/v1/staff/secrets", None, b"");
    assert_eq!(status, 404);
}
