//! The OpenAPI 3.1 document of the HTTP API, served at
//! `GET /api/v1/openapi.json`. Written by hand next to the routes (a test
//! checks that every route the router serves is described, and nothing else).

use serde_json::{Value, json};

/// Every path and method the document describes (the test compares this
/// with the router).
pub const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/enroll"),
    ("post", "/api/v1/sync/push"),
    ("get", "/api/v1/sync/pull"),
    ("get", "/api/v1/staff/coverage"),
    ("get", "/api/v1/staff/reference"),
    ("put", "/api/v1/staff/reference"),
    ("get", "/api/v1/staff/duplicates"),
    ("post", "/api/v1/staff/duplicates/merge"),
    ("get", "/api/v1/staff/merges"),
    ("post", "/api/v1/staff/merges/{id}/undo"),
    ("get", "/api/v1/staff/conflicts"),
    ("post", "/api/v1/staff/conflicts/{id}/resolve"),
    ("get", "/api/v1/staff/audit"),
];

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false,
            "schema": { "type": kind }, "description": description })
}

fn id_path() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } })
}

fn ok(description: &str) -> Value {
    json!({
        "200": { "description": description,
                 "content": { "application/json": { "schema": { "type": "object" } } } },
        "default": { "$ref": "#/components/responses/Error" }
    })
}

fn staff_operation(summary: &str, parameters: Vec<Value>, responses: Value) -> Value {
    json!({
        "summary": summary,
        "tags": ["staff"],
        "security": [{ "staffToken": [] }],
        "parameters": parameters,
        "responses": responses,
    })
}

/// The document.
pub fn document() -> Value {
    let mut document = operations();
    // Every staff route checks the account's role (`crate::access`): a
    // viewer's change, a supervisor's request outside their region, or an
    // action only `staff` may take is refused with 403 `forbidden`.
    if let Some(paths) = document["paths"].as_object_mut() {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in operation.values_mut() {
                let is_staff = operation["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.iter().any(|t| t == "staff"));
                if is_staff && let Some(responses) = operation["responses"].as_object_mut() {
                    responses.insert(
                        "403".into(),
                        json!({ "$ref": "#/components/responses/Forbidden" }),
                    );
                }
            }
        }
    }
    document
}

fn operations() -> Value {
    let region = query(
        "region",
        "string",
        "Region code (province 2, regency 4, district 6 or village 10 digits, dots allowed); the whole country when absent.",
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Lindung server API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Sync for field agents (enrol, push, pull) and the staff API (coverage, reference data, duplicate queue, conflict log, audit). Errors are {\"error\": WireError} with a stable code and messages in English and Bahasa Indonesia. Request and response bodies of the sync API may be zstd-compressed (Content-Encoding / Accept-Encoding: zstd)."
        },
        "components": {
            "securitySchemes": {
                "deviceToken": { "type": "http", "scheme": "bearer",
                    "description": "The device token from POST /api/v1/enroll." },
                "staffToken": { "type": "http", "scheme": "bearer",
                    "description": "A staff token from `lindung-server staff add NAME`." }
            },
            "schemas": {
                "WireError": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string", "enum": [
                            "bad_request", "payload_too_large", "unsupported_protocol",
                            "unauthorized", "device_revoked", "forbidden", "out_of_scope",
                            "invalid_operation", "invalid_value", "sequence_reused",
                            "not_found", "already_done", "rate_limited", "unavailable",
                            "internal"] },
                        "message": { "type": "string", "description": "English." },
                        "message_id": { "type": "string", "description": "Bahasa Indonesia." },
                        "field": { "type": "string" },
                        "details": { "type": "array", "items": { "type": "object" } }
                    }
                }
            },
            "responses": {
                "Forbidden": {
                    "description": "Refused by the staff account's role (code `forbidden`): a viewer (read-only) asked to change something, a supervisor asked for something outside their region, or the action is for `staff` accounts only (audit log, reference import).",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": { "error": { "$ref": "#/components/schemas/WireError" } }
                    } } }
                },
                "Error": {
                    "description": "An error with a stable code.",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": { "error": { "$ref": "#/components/schemas/WireError" } }
                    } } }
                }
            }
        },
        "paths": {
            "/health": { "get": { "summary": "Liveness.", "responses": ok("{\"status\": \"ok\"}") } },
            "/api/v1/openapi.json": { "get": { "summary": "This document.", "responses": ok("OpenAPI 3.1") } },
            "/api/v1/enroll": { "post": {
                "summary": "A laptop joins with a one-time enrolment code and receives its device token.",
                "tags": ["sync"],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                    "required": ["protocol", "code", "device_id", "device_name"] } } } },
                "responses": ok("EnrollResponse: store id, token, officer and regions")
            } },
            "/api/v1/sync/push": { "post": {
                "summary": "A batch of the device's outbox (at most 5,000 operations); one receipt per operation: accepted, duplicate or rejected with a reason.",
                "tags": ["sync"],
                "security": [{ "deviceToken": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                    "required": ["protocol", "device_id", "device_time_ms", "operations"] } } } },
                "responses": ok("PushResponse")
            } },
            "/api/v1/sync/pull": { "get": {
                "summary": "Changes in the officer's scope after the cursor, in pages; 204 when there are none.",
                "tags": ["sync"],
                "security": [{ "deviceToken": [] }],
                "parameters": [
                    query("cursor", "integer", "Server sequence already applied."),
                    query("limit", "integer", "Page size (at most 5,000)."),
                    query("store", "string", "The store id the cursor belongs to.")
                ],
                "responses": {
                    "200": { "description": "PullPage" },
                    "204": { "description": "Nothing new." },
                    "default": { "$ref": "#/components/responses/Error" }
                }
            } },
            "/api/v1/staff/coverage": { "get": staff_operation(
                "Coverage of a region (persons, working population, %, target, gap, yearly cost, 30-day pace, target date), or with `level` every region of that level inside it.",
                vec![region.clone(),
                     query("level", "string", "province, regency, district or village: list the regions of this level inside the region."),
                     query("year", "integer", "Reference year (default: this year)."),
                     query("baseline", "boolean", "Include participants covered outside Lindung (default true).")],
                ok("A region report, or a list of {region_code, region, coverage}")) },
            "/api/v1/staff/reference": {
                "get": staff_operation("Reference values (working population, baseline, target, category denominators) of a year.",
                    vec![query("year", "integer", "Default: this year.")], ok("{year, rows}")),
                "put": {
                    "summary": "Import a reference CSV (docs/reference.md): stored only when every row is valid, replacing each year it holds. Row problems come back as details.",
                    "tags": ["staff"],
                    "security": [{ "staffToken": [] }],
                    "requestBody": { "required": true, "content": { "text/csv": { "schema": { "type": "string" } } } },
                    "responses": ok("{imported: true, result}")
                }
            },
            "/api/v1/staff/duplicates": { "get": staff_operation(
                "The duplicate-person queue: groups with the same NIK (certain) or, with probable=true, similar names born the same day in one district. NIKs masked.",
                vec![region,
                     query("probable", "boolean", "Probable instead of certain groups."),
                     query("limit", "integer", "At most this many groups (default 50).")],
                ok("{total, groups: [{kind, records}]}")) },
            "/api/v1/staff/duplicates/merge": { "post": {
                "summary": "Merge records of one person: keep one, take chosen field values from the others, withdraw the others. Becomes operations the agents pull.",
                "tags": ["staff"],
                "security": [{ "staffToken": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["keep", "with"],
                    "properties": {
                        "keep": { "type": "string", "format": "uuid" },
                        "with": { "type": "array", "items": { "type": "string", "format": "uuid" } },
                        "take": { "type": "object", "additionalProperties": { "type": "string", "format": "uuid" },
                                  "description": "field name → record to take its value from" }
                    } } } } },
                "responses": ok("{merge_id, kept, merged, operations}")
            } },
            "/api/v1/staff/merges": { "get": staff_operation("Merges, newest first.",
                vec![query("limit", "integer", "Default 50.")], ok("[merge]")) },
            "/api/v1/staff/merges/{id}/undo": { "post": staff_operation(
                "Undo a merge: the merged records become active again and the kept one gets back the values the merge replaced.",
                vec![id_path()], ok("{merge_id, undone, active_again}")) },
            "/api/v1/staff/conflicts": { "get": staff_operation(
                "The conflict log: values overwritten by a change made without seeing them, with both values, who and when.",
                vec![query("region", "string", "Region code."),
                     query("all", "boolean", "Resolved ones too."),
                     query("limit", "integer", "Default 50.")],
                ok("[conflict]")) },
            "/api/v1/staff/conflicts/{id}/resolve": { "post": {
                "summary": "Resolve a conflict: keep the winner, take the other value, or enter a new one (validated like an officer's edit). Becomes an operation the agents pull.",
                "tags": ["staff"],
                "security": [{ "staffToken": [] }],
                "parameters": [id_path()],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["how"],
                    "properties": {
                        "how": { "type": "string", "enum": ["keep", "other", "new"] },
                        "value": { "type": "string" }
                    } } } } },
                "responses": ok("{conflict_id, resolved, field, value}")
            } },
            "/api/v1/staff/audit": { "get": staff_operation(
                "The audit log, newest first: every staff action and export (who, when, what); NIKs masked.",
                vec![query("limit", "integer", "Default 50."), query("action", "string", "Only this action.")],
                ok("[entry]")) }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_document_describes_exactly_the_listed_operations() {
        let document = document();
        let paths = document["paths"].as_object().expect("paths");
        let mut described: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .expect("path item")
                    .keys()
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect();
        described.sort();
        let mut listed: Vec<(String, String)> = OPERATIONS
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        listed.sort();
        assert_eq!(described, listed);
        assert_eq!(document["openapi"], "3.1.0");
    }

    #[test]
    fn every_staff_route_lists_the_refusal_by_role_and_sync_routes_do_not() {
        let document = document();
        let forbidden = &document["components"]["responses"]["Forbidden"];
        assert!(forbidden["description"].as_str().is_some(), "{forbidden}");
        for (method, path) in OPERATIONS {
            let responses = &document["paths"][*path][*method]["responses"];
            let refused = responses.get("403").is_some();
            assert_eq!(
                refused,
                path.starts_with("/api/v1/staff/"),
                "{method} {path}: {responses}"
            );
            if refused {
                assert_eq!(responses["403"]["$ref"], "#/components/responses/Forbidden");
            }
        }
    }
}
