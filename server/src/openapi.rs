//! The OpenAPI 3.1 document of the HTTP API, served at
//! `GET /api/v1/openapi.json`. Written by hand next to the routes (a test
//! checks that every route the router serves is described, and nothing else).

use lindung_shared::protocol::{MAX_PUSH_OPERATIONS, OLDEST_SUPPORTED_PROTOCOL, PROTOCOL_VERSION};
use lindung_shared::registration::Field;
use serde_json::{Value, json};

/// Every path and method the document describes (the test compares this
/// with the router).
pub const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/enroll"),
    ("post", "/api/v1/sync/push"),
    ("get", "/api/v1/sync/pull"),
    ("post", "/api/v1/token/rotate"),
    ("post", "/api/v1/bundle/keys"),
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

/// A region code as the staff routes take it: province 2, regency 4,
/// district 6 or village 10 digits, dots allowed between the parts. A code
/// of this form that names no region is answered 404 `not_found`; an
/// empty one means the whole country.
const REGION_PATTERN: &str = r"^([0-9]{2}(\.?[0-9]{2}(\.?[0-9]{2}(\.?[0-9]{4})?)?)?)?$";

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false,
            "schema": schema, "description": description })
}

/// A `u32` query parameter (what the server parses; larger lists are cut).
fn count(name: &str, description: &str) -> Value {
    query(
        name,
        json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX }),
        description,
    )
}

fn flag(name: &str, description: &str) -> Value {
    query(name, json!({ "type": "boolean" }), description)
}

fn region_query() -> Value {
    query(
        "region",
        json!({ "type": "string", "pattern": REGION_PATTERN }),
        "Region code (province 2, regency 4, district 6 or village 10 digits, dots allowed); the whole country when absent. A code that names no region: 404 `not_found`.",
    )
}

fn year_query() -> Value {
    query(
        "year",
        json!({ "type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX }),
        "Reference year (default: this year).",
    )
}

fn id_path() -> Value {
    json!({ "name": "id", "in": "path", "required": true,
            "schema": { "type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX } })
}

/// 200 with a JSON body of `schema`, and the error responses.
fn ok(description: &str, schema: Value) -> Value {
    json!({
        "200": { "description": description,
                 "content": { "application/json": { "schema": schema } } },
        "default": { "$ref": "#/components/responses/Error" }
    })
}

/// Like [`ok`], for the sync routes whose JSON may come zstd-compressed
/// (`Content-Encoding: zstd`, when the request says `Accept-Encoding: zstd`).
fn ok_sync(description: &str, schema: Value) -> Value {
    json!({
        "200": { "description": description,
                 "headers": { "Content-Encoding": { "description": "`zstd` when the client accepts it and the body is larger than 512 bytes.",
                                                    "schema": { "type": "string", "enum": ["zstd"] } } },
                 "content": { "application/json": { "schema": schema } } },
        "default": { "$ref": "#/components/responses/Error" }
    })
}

fn object() -> Value {
    json!({ "type": "object" })
}

fn array() -> Value {
    json!({ "type": "array", "items": { "type": "object" } })
}

fn uuid() -> Value {
    json!({ "type": "string", "format": "uuid" })
}

/// One operation of a push: the shape the server parses. The values are
/// checked by their domain types (NIK structure, dates, codes); a value of
/// the wrong type refuses the batch with 400, a value that breaks a
/// registration rule is a `rejected` receipt.
fn operation_schema() -> Value {
    let fields: Vec<&str> = Field::ALL.iter().map(|f| f.as_str()).collect();
    json!({
        "type": "object",
        "required": ["device_id", "seq", "record_id", "hlc", "changes"],
        "properties": {
            "device_id": uuid(),
            "seq": { "type": "integer", "minimum": 1 },
            "record_id": uuid(),
            "hlc": { "type": "string", "pattern": "^[0-9]+-[0-9]+$",
                     "description": "Hybrid logical clock: wall milliseconds, dash, counter." },
            "changes": { "type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["field", "value"],
                "properties": { "field": { "type": "string", "enum": fields }, "value": {} } } }
        }
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
    let protocol = json!({ "type": "integer", "minimum": OLDEST_SUPPORTED_PROTOCOL, "maximum": PROTOCOL_VERSION,
        "description": "Sync protocol version; another is refused with 400 `unsupported_protocol`." });
    let error_body = json!({
        "type": "object", "required": ["error"],
        "properties": { "error": { "$ref": "#/components/schemas/WireError" } }
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Lindung server API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Sync for field agents (enrol, push, pull, token rotation) and the staff API (coverage, reference data, duplicate queue, conflict log, audit). Errors are {\"error\": WireError} with a stable code and messages in English and Bahasa Indonesia. Request and response bodies of the sync API may be zstd-compressed (Content-Encoding / Accept-Encoding: zstd). Bodies are limited to 16 MiB as sent and 64 MiB decompressed (413 `payload_too_large`). Every operation needs a bearer token except /health and /api/v1/enroll (which takes a one-time enrolment code)."
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
                    "content": { "application/json": { "schema": error_body.clone() } }
                },
                "Error": {
                    "description": "An error with a stable code.",
                    "content": { "application/json": { "schema": error_body } }
                }
            }
        },
        "paths": {
            "/health": { "get": { "summary": "Liveness.", "security": [],
                "responses": ok("{\"status\": \"ok\"}", json!({ "type": "object", "required": ["status"],
                    "properties": { "status": { "const": "ok" } } })) } },
            "/api/v1/openapi.json": { "get": { "summary": "This document, for an enrolled device or a staff account (without a token: 401 `unauthorized`).",
                "security": [{ "deviceToken": [] }, { "staffToken": [] }],
                "responses": ok("OpenAPI 3.1", json!({ "type": "object", "required": ["openapi", "paths"] })) } },
            "/api/v1/enroll": { "post": {
                "summary": "A laptop joins with a one-time enrolment code and receives its device token. Ten failed attempts from one address in 15 minutes: 429 `rate_limited`.",
                "tags": ["sync"],
                "security": [],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object",
                    "required": ["protocol", "code", "device_id"],
                    "properties": {
                        "protocol": protocol.clone(),
                        "code": { "type": "string", "description": "XXXX-XXXX-XXXX; case and dashes do not matter. An unknown, used or expired one: 401 `unauthorized`." },
                        "device_id": uuid(),
                        "device_name": { "type": "string", "description": "Cut to 100 characters." }
                    } } } } },
                "responses": ok_sync("EnrollResponse", json!({
                    "type": "object", "required": ["protocol", "store_id", "token", "officer", "server_time_ms"],
                    "properties": {
                        "protocol": { "type": "integer" }, "store_id": uuid(), "token": { "type": "string" },
                        "officer": { "type": "object", "required": ["id", "name", "regions"],
                            "properties": { "id": uuid(), "name": { "type": "string" },
                                            "regions": { "type": "array", "items": { "type": "string" } } } },
                        "server_time_ms": { "type": "integer", "minimum": 0 }
                    } }))
            } },
            "/api/v1/sync/push": { "post": {
                "summary": "A batch of the device's outbox (at most 5,000 operations); one receipt per operation: accepted, duplicate or rejected with a reason.",
                "tags": ["sync"],
                "security": [{ "deviceToken": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object",
                    "required": ["protocol", "device_id", "device_time_ms", "operations"],
                    "properties": {
                        "protocol": protocol.clone(),
                        "device_id": uuid(),
                        "known_store_id": { "type": ["string", "null"], "format": "uuid" },
                        "device_time_ms": { "type": "integer", "minimum": 0 },
                        "pulled_upto": { "type": ["integer", "null"], "minimum": 0 },
                        "after_seq": { "type": ["integer", "null"], "minimum": 0,
                            "description": "Last sequence of the batch sent just before this one, still unanswered: applied only after it (else 503 unavailable, send again)." },
                        "operations": { "type": "array", "maxItems": MAX_PUSH_OPERATIONS, "items": operation_schema() }
                    } } } } },
                "responses": ok_sync("PushResponse", json!({
                    "type": "object", "required": ["protocol", "store_id", "server_time_ms", "server_hlc", "acknowledged_seq", "receipts"],
                    "properties": { "store_id": uuid(), "acknowledged_seq": { "type": "integer", "minimum": 0 },
                                    "receipts": array(),
                                    "handled_us": { "type": "integer", "minimum": 0,
                                        "description": "Microseconds the server worked on the request (the agent tells its link speed from it)." } } }))
            } },
            "/api/v1/sync/pull": { "get": {
                "summary": "Changes in the officer's scope after the cursor, in pages; 204 when there are none.",
                "tags": ["sync"],
                "security": [{ "deviceToken": [] }],
                "parameters": [
                    query("protocol", protocol.clone(), "Default: the server's."),
                    query("cursor", json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX }), "Server sequence already applied."),
                    query("limit", json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX }), "Page size (1 to 5,000; others are brought into that range)."),
                    query("store", uuid(), "The store id the cursor belongs to.")
                ],
                "responses": {
                    "200": ok_sync("PullPage", json!({
                        "type": "object", "required": ["protocol", "store_id", "server_hlc", "operations", "next_cursor", "has_more"],
                        "properties": { "store_id": uuid(), "operations": array(), "next_cursor": { "type": "integer", "minimum": 0 },
                                        "has_more": { "type": "boolean" }, "duplicates": array() } }))["200"],
                    "204": { "description": "Nothing new." },
                    "default": { "$ref": "#/components/responses/Error" }
                }
            } },
            "/api/v1/token/rotate": { "post": {
                "summary": "The device's next token. The current token keeps working until the new one is first used; from then on only the new one does. A lost answer costs nothing: the device keeps its working token and rotates again.",
                "tags": ["sync"],
                "security": [{ "deviceToken": [] }],
                "responses": ok_sync("TokenRotation", json!({
                    "type": "object", "required": ["protocol", "token", "server_time_ms"],
                    "properties": { "protocol": { "type": "integer" }, "token": { "type": "string" },
                                    "server_time_ms": { "type": "integer", "minimum": 0 } } }))
            } },
            "/api/v1/bundle/keys": { "post": {
                "summary": "The device registers the Ed25519 public key it signs sneakernet bundles with (again: replaces it) and receives the secret that encrypts its bundles and the server's public key that signs receipts.",
                "tags": ["sync"],
                "security": [{ "deviceToken": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object",
                    "required": ["protocol", "public_key"],
                    "properties": {
                        "protocol": protocol.clone(),
                        "public_key": { "type": "string", "pattern": "^[0-9a-fA-F]{64}$", "description": "64 hexadecimal digits; anything else: 400 `invalid_value`." }
                    } } } } },
                "responses": ok_sync("BundleKeysResponse", json!({
                    "type": "object", "required": ["protocol", "device_secret", "server_public_key"],
                    "properties": { "protocol": { "type": "integer" },
                                    "device_secret": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                                    "server_public_key": { "type": "string", "pattern": "^[0-9a-f]{64}$" } } }))
            } },
            "/api/v1/staff/coverage": { "get": staff_operation(
                "Coverage of a region (persons, working population, %, target, gap, yearly cost, 30-day pace, target date), or with `level` every region of that level inside it.",
                vec![region_query(),
                     query("level", json!({ "type": "string", "enum": ["province", "regency", "district", "village"] }),
                           "List the regions of this level inside the region; it must be below the region's own level (else 400 `bad_request`)."),
                     year_query(),
                     flag("baseline", "Include participants covered outside Lindung (default true).")],
                ok("A region report, or a list of {region_code, region, coverage}",
                   json!({ "oneOf": [ object(), array() ] }))) },
            "/api/v1/staff/reference": {
                "get": staff_operation("Reference values (working population, baseline, target, category denominators) of a year.",
                    vec![year_query()], ok("{year, rows}", json!({
                        "type": "object", "required": ["year", "rows"],
                        "properties": { "year": { "type": "integer" }, "rows": array() } }))),
                "put": {
                    "summary": "Import a reference CSV (docs/reference.md): stored only when every row is valid, replacing each year it holds. A file without the needed columns, or with bad rows, is refused with 400 and the problems as details.",
                    "tags": ["staff"],
                    "security": [{ "staffToken": [] }],
                    "requestBody": { "required": true, "content": { "text/csv": { "schema": { "type": "string" } } } },
                    "responses": ok("{imported: true, result}", json!({
                        "type": "object", "required": ["imported", "result"],
                        "properties": { "imported": { "const": true } } }))
                }
            },
            "/api/v1/staff/duplicates": { "get": staff_operation(
                "The duplicate-person queue: groups with the same NIK (certain) or, with probable=true, similar names born the same day in one district. NIKs masked.",
                vec![region_query(),
                     flag("probable", "Probable instead of certain groups."),
                     count("limit", "At most this many groups (default 50, at most 1,000).")],
                ok("{total, groups: [{kind, records}]}", json!({
                    "type": "object", "required": ["total", "groups"],
                    "properties": { "total": { "type": "integer", "minimum": 0 }, "groups": array() } }))) },
            "/api/v1/staff/duplicates/merge": { "post": {
                "summary": "Merge records of one person: keep one, take chosen field values from the others, withdraw the others. Becomes operations the agents pull. An unknown record: 404 `not_found`.",
                "tags": ["staff"],
                "security": [{ "staffToken": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["keep", "with"],
                    "properties": {
                        "keep": uuid(),
                        "with": { "type": "array", "items": uuid() },
                        "take": { "type": "object", "additionalProperties": uuid(),
                                  "description": "field name → record to take its value from" }
                    } } } } },
                "responses": ok("{merge_id, kept, merged, operations}", object())
            } },
            "/api/v1/staff/merges": { "get": staff_operation("Merges, newest first.",
                vec![count("limit", "Default 50, at most 1,000.")], ok("[merge]", array())) },
            "/api/v1/staff/merges/{id}/undo": { "post": staff_operation(
                "Undo a merge: the merged records become active again and the kept one gets back the values the merge replaced.",
                vec![id_path()], ok("{merge_id, undone, active_again}", object())) },
            "/api/v1/staff/conflicts": { "get": staff_operation(
                "The conflict log: values overwritten by a change made without seeing them, with both values, who and when.",
                vec![region_query(),
                     flag("all", "Resolved ones too."),
                     count("limit", "Default 50, at most 1,000.")],
                ok("[conflict]", array())) },
            "/api/v1/staff/conflicts/{id}/resolve": { "post": {
                "summary": "Resolve a conflict: keep the winner, take the other value, or enter a new one (validated like an officer's edit: a bad value is refused with 400 `invalid_value`). Becomes an operation the agents pull.",
                "tags": ["staff"],
                "security": [{ "staffToken": [] }],
                "parameters": [id_path()],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "oneOf": [
                        { "type": "object", "required": ["how"],
                          "properties": { "how": { "type": "string", "enum": ["keep", "other"] },
                                          "value": { "type": ["string", "null"], "description": "Ignored." } } },
                        { "type": "object", "required": ["how", "value"],
                          "properties": { "how": { "const": "new" }, "value": { "type": "string" } } }
                    ] } } } },
                "responses": ok("{conflict_id, resolved, field, value}", object())
            } },
            "/api/v1/staff/audit": { "get": staff_operation(
                "The audit log, newest first: every staff action and export (who, when, what); NIKs masked. For `staff` accounts and viewers, not supervisors.",
                vec![count("limit", "Default 50, at most 1,000."),
                     query("action", json!({ "type": "string" }), "Only this action.")],
                ok("[entry]", array())) }
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
    fn every_operation_but_health_and_enrolment_needs_a_token() {
        let document = document();
        for (method, path) in OPERATIONS {
            let security = document["paths"][*path][*method]["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} states no security"));
            let public = matches!(*path, "/health" | "/api/v1/enroll");
            assert_eq!(security.is_empty(), public, "{method} {path}: {security:?}");
        }
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
