//! The sync request decoder: any bytes as the body of
//! `POST /api/v1/sync/push`, plain or zstd, must give a request or a
//! client error (4xx), never a panic or a server error.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use lindung_server::api::{ApiError, decode_push_body};

fn headers(encoding: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(value) = encoding.and_then(|e| HeaderValue::from_str(e).ok()) {
        headers.insert(header::CONTENT_ENCODING, value);
    }
    headers
}

fn check(headers: &HeaderMap, body: &[u8]) {
    match decode_push_body(headers, body) {
        Ok(request) => {
            let again = serde_json_round_trip(&request);
            assert_eq!(again, request);
        }
        Err(ApiError(wire)) => {
            let status = ApiError(wire.clone()).into_response().status();
            assert!(status.is_client_error(), "{status} for {wire:?}");
            assert!(!wire.message.is_empty());
            assert!(wire.message_id.is_some_and(|m| !m.is_empty()));
        }
    }
}

/// What the agent would send for this request, decoded again.
fn serde_json_round_trip(
    request: &lindung_shared::protocol::PushRequest,
) -> lindung_shared::protocol::PushRequest {
    let body = serde_json::to_vec(request).expect("a request serialises");
    decode_push_body(&HeaderMap::new(), &body).expect("what was written parses")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        // Plain JSON.
        0 => check(&headers(None), body),
        // The same JSON compressed, as the agent sends it.
        1 => {
            let compressed = zstd::bulk::compress(body, 3).expect("compressible");
            check(&headers(Some("zstd")), &compressed);
        }
        // The bytes as a (damaged) zstd frame.
        2 => check(&headers(Some("zstd")), body),
        // A Content-Encoding taken from the first bytes.
        _ => {
            let split = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
            let encoding = String::from_utf8_lossy(&body[..split]);
            check(
                &headers(Some(&encoding)),
                body.get(split + 1..).unwrap_or_default(),
            );
        }
    }
});
