//! The sync protocol between agents and the server, as plain serialisable types.
//!
//! Only the agent's sync client and the server's sync API know how these
//! travel (HTTP, compression); this module defines what travels.
//!
//! **Wire stability.** Every request and response carries `protocol`. A field
//! may be added only with `#[serde(default)]` so older peers keep parsing; a
//! field may not be renamed, retyped or removed without raising
//! [`PROTOCOL_VERSION`]. The server accepts versions from
//! [`OLDEST_SUPPORTED_PROTOCOL`] to [`PROTOCOL_VERSION`] and answers anything
//! else with [`ErrorCode::UnsupportedProtocol`], which tells the officer to
//! update the agent. `tests::wire_form_is_pinned` fails when the JSON form of
//! an operation changes by accident.
//!
//! **Exchange.** Push: the agent sends its outbox in order, in batches; the
//! server answers one [`Receipt`] per operation and the highest sequence
//! number below which it holds everything (`acknowledged_seq`), so an agent
//! that lost a response simply sends again from there. Pull: the agent asks
//! for every change in its scope after a server cursor, page by page.

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::ids::{DeviceId, OfficerId, RecordId, StoreId};
use crate::lang::{Lang, Message, Problem};
use crate::merge::Operation;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The oldest version this build still accepts.
pub const OLDEST_SUPPORTED_PROTOCOL: u16 = 1;
/// Most operations in one push batch.
pub const MAX_PUSH_OPERATIONS: usize = 5_000;
/// Most operations in one pull page.
pub const MAX_PULL_LIMIT: u32 = 5_000;

/// Whether a peer speaking `version` can be served.
pub fn is_supported(version: u16) -> bool {
    (OLDEST_SUPPORTED_PROTOCOL..=PROTOCOL_VERSION).contains(&version)
}

/// A batch of operations from one device's outbox, in sequence order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// Protocol version of the sender.
    pub protocol: u16,
    /// The sending device (also known from its token; must match).
    pub device_id: DeviceId,
    /// The server store the agent last talked to; `None` before the first
    /// sync. A different store id in the response means the server was reset
    /// or restored, and the agent re-sends what the server lacks.
    #[serde(default)]
    pub known_store_id: Option<StoreId>,
    /// The device's own clock when sending, in Unix milliseconds (lets the
    /// server tell an officer that the laptop clock is wrong).
    pub device_time_ms: u64,
    /// The server sequence up to which the device has applied pulled
    /// changes from `known_store_id`: every operation in the batch was made
    /// having seen those. Lets the server tell a conflict (a change made
    /// without seeing the value it overwrites) from a later edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulled_upto: Option<u64>,
    /// The last sequence number of the batch this device sent just before
    /// this one, still unanswered (an agent on a fast link keeps two batches
    /// in flight). The server applies this batch only once it has applied
    /// that one, so an edit never arrives before the registration it edits;
    /// if that batch does not come, this one is refused as `unavailable`,
    /// to be sent again. `None`: apply it as it comes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<u64>,
    /// The operations, ascending by `seq`.
    pub operations: Vec<Operation>,
}

/// The server's answer to a push.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// Protocol version of the server.
    pub protocol: u16,
    /// The server store's random identity.
    pub store_id: StoreId,
    /// The server clock, Unix milliseconds.
    pub server_time_ms: u64,
    /// The server's clock; the agent observes it so its next edits order after it.
    pub server_hlc: Hlc,
    /// The server holds every operation of this device with `seq <= acknowledged_seq`.
    pub acknowledged_seq: u64,
    /// One receipt per operation sent, in the order sent.
    pub receipts: Vec<Receipt>,
    /// How long the server worked on the request, in microseconds, from the
    /// whole body received to the answer made. The agent subtracts it from
    /// the round trip to tell how fast its link is (and so how hard to
    /// compress). Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_us: Option<u64>,
}

/// What became of one pushed operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The operation's sequence number on the sending device.
    pub seq: u64,
    /// Accepted, duplicate or rejected.
    pub outcome: Outcome,
}

/// The fate of one operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored and merged now.
    Accepted {
        /// Set when the server bounded a timestamp that ran ahead of its
        /// clock: the operation's timestamp everywhere from now on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bounded_hlc: Option<Hlc>,
    },
    /// The server already had this operation (a retry); nothing changed.
    Duplicate {
        /// Set when the server holds the operation with another timestamp
        /// than the one sent: it bounded it when it first accepted it, and
        /// that answer was lost. The agent takes it as for `accepted`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bounded_hlc: Option<Hlc>,
    },
    /// Refused for good; the agent keeps it, shows the reason and moves on.
    Rejected {
        /// Why.
        error: WireError,
    },
}

/// A request for the changes in the device's scope after a cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// Protocol version of the sender.
    pub protocol: u16,
    /// The server store the cursor belongs to; a cursor from another store is reset.
    #[serde(default)]
    pub known_store_id: Option<StoreId>,
    /// The server sequence after which to send changes (0 = from the beginning).
    pub cursor: u64,
    /// Most operations wanted in this page (the server caps it at [`MAX_PULL_LIMIT`]).
    pub limit: u32,
}

/// One page of changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullPage {
    /// Protocol version of the server.
    pub protocol: u16,
    /// The server store's random identity.
    pub store_id: StoreId,
    /// The server's clock.
    pub server_hlc: Hlc,
    /// The operations, in server order.
    pub operations: Vec<Operation>,
    /// The cursor to ask from next.
    pub next_cursor: u64,
    /// Whether more pages follow right away.
    pub has_more: bool,
    /// Records in the device's scope whose duplicate-person group changed in
    /// this page's range of the server sequence: the same NIK registered more
    /// than once. Both records are kept; staff decide later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicateNotice>,
}

/// A record that shares its NIK with other records on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateNotice {
    /// The record in the device's scope.
    pub record_id: RecordId,
    /// The other records with the same NIK, now; empty when the group
    /// dissolved (a NIK was corrected).
    pub others: Vec<DuplicateHolder>,
}

/// Another registration of the same person, as the officer may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateHolder {
    /// The other record.
    pub record_id: RecordId,
    /// Its village code.
    pub village_code: String,
    /// The officer whose device sent it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer_name: Option<String>,
}

/// A device asks to join the server with a one-time enrolment code from staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// Protocol version of the sender.
    pub protocol: u16,
    /// The code staff gave the officer (`XXXX-XXXX-XXXX`; case and dashes do not matter).
    pub code: String,
    /// The device's own id, created when the agent was initialised.
    pub device_id: DeviceId,
    /// A name for the device that staff see in `device list` (the officer's name, the host name).
    #[serde(default)]
    pub device_name: String,
}

/// What an enrolled device needs to sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// Protocol version of the server.
    pub protocol: u16,
    /// The server store's random identity.
    pub store_id: StoreId,
    /// The bearer token for every later request. Shown once; the server keeps only its hash.
    pub token: String,
    /// The officer this device now belongs to.
    pub officer: OfficerInfo,
    /// The server clock, Unix milliseconds.
    pub server_time_ms: u64,
}

/// The answer to `POST /api/v1/token/rotate`: the device's next token. The
/// current token keeps working until this one is first used; from then on
/// only this one does (so an answer lost on the way costs nothing: the
/// device still holds a working token and rotates again later).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRotation {
    /// Protocol version of the server.
    pub protocol: u16,
    /// The new bearer token. Shown once; the server keeps only its hash.
    pub token: String,
    /// The server clock, Unix milliseconds.
    pub server_time_ms: u64,
}

/// `POST /api/v1/bundle/keys`: a device registers the public half of the
/// key it signs sneakernet bundles with (see `bundle`). Made at enrolment, or
/// at the next sync by a laptop enrolled before bundles existed; sending it
/// again replaces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleKeysRequest {
    /// Protocol version of the sender.
    pub protocol: u16,
    /// The device's Ed25519 public key, 64 hexadecimal digits.
    pub public_key: String,
}

/// What a device needs to seal bundles for the server and check its receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleKeysResponse {
    /// Protocol version of the server.
    pub protocol: u16,
    /// The secret that encrypts this device's bundles both ways, 64
    /// hexadecimal digits. Only this device and the server know it.
    pub device_secret: String,
    /// The server's Ed25519 public key that signs receipts, 64 hexadecimal digits.
    pub server_public_key: String,
}

/// An officer as the agent knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerInfo {
    /// The officer's id on the server.
    pub id: OfficerId,
    /// The officer's name.
    pub name: String,
    /// Codes of the regions (province, regency, district or village) the officer may register in.
    pub regions: Vec<String>,
}

/// Stable machine-readable error codes of the API. Agents match on these, never on text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed (bad JSON, wrong types).
    BadRequest,
    /// The request body or its decompressed form is too large.
    PayloadTooLarge,
    /// The peer speaks a protocol version this server does not.
    UnsupportedProtocol,
    /// No valid credentials.
    Unauthorized,
    /// The device was revoked by staff.
    DeviceRevoked,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// The village is outside the officer's assigned regions.
    OutOfScope,
    /// The operation's shape is wrong (no changes, a field twice, sequence 0).
    InvalidOperation,
    /// A field value is invalid (the message names the field).
    InvalidValue,
    /// An operation id was reused with different content (a store restored from an old backup).
    SequenceReused,
    /// Not found.
    NotFound,
    /// The decision was already taken (a conflict resolved, a merge undone).
    AlreadyDone,
    /// Too many requests; retry later.
    RateLimited,
    /// The server is starting, stopping or overloaded; retry later.
    Unavailable,
    /// A server fault; retry later.
    Internal,
    /// A code this build does not know (sent by a newer peer).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::OutOfScope => "out_of_scope",
            ErrorCode::InvalidOperation => "invalid_operation",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::SequenceReused => "sequence_reused",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AlreadyDone => "already_done",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// The HTTP status that carries this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidOperation | ErrorCode::InvalidValue => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::DeviceRevoked | ErrorCode::Forbidden | ErrorCode::OutOfScope => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::SequenceReused | ErrorCode::AlreadyDone => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedProtocol => 426,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal | ErrorCode::Unknown => 500,
            ErrorCode::Unavailable => 503,
        }
    }

    /// Whether retrying the same request can never succeed. The agent's sync
    /// loop retries transient errors with backoff and never retries these.
    pub fn is_permanent(self) -> bool {
        !matches!(
            self,
            ErrorCode::RateLimited
                | ErrorCode::Unavailable
                | ErrorCode::Internal
                | ErrorCode::Unknown
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it travels: a stable code and messages for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, in English.
    pub message: String,
    /// The same in Bahasa Indonesia, for the officer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem found, when there are several (for example each invalid field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Message>,
}

impl WireError {
    /// An error with an English and an Indonesian message.
    pub fn new(
        code: ErrorCode,
        message_en: impl Into<String>,
        message_id: impl Into<String>,
    ) -> Self {
        WireError {
            code,
            message: message_en.into(),
            message_id: Some(message_id.into()),
            field: None,
            details: Vec::new(),
        }
    }

    /// An error built from a typed problem, keeping its messages.
    pub fn from_problem(code: ErrorCode, problem: &impl Problem) -> Self {
        WireError::new(code, problem.message(Lang::En), problem.message(Lang::Id))
    }

    /// The message in the given language (English when no Indonesian text was sent).
    pub fn text(&self, lang: Lang) -> &str {
        match (lang, &self.message_id) {
            (Lang::Id, Some(text)) => text,
            _ => &self.message,
        }
    }
}

/// The body of every non-2xx API response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: WireError,
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use uuid::Uuid;

    use super::*;
    use crate::registration::{Change, Status};

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
        let json = serde_json::to_string(value).expect("serialises");
        let back: T = serde_json::from_str(&json).expect("parses what it wrote");
        assert_eq!(&back, value, "{json}");
    }

    fn operation() -> Operation {
        Operation {
            device_id: DeviceId(Uuid::from_u128(1)),
            seq: 7,
            record_id: RecordId(Uuid::from_u128(2)),
            hlc: Hlc::new(1_763_797_620_123, 2).expect("small"),
            changes: vec![
                Change::FullName("Siti Aminah".into()),
                Change::Rt(Some(3)),
                Change::Status(Status::Withdrawn {
                    reason: "pindah".into(),
                }),
            ],
        }
    }

    #[test]
    fn wire_form_is_pinned() {
        let json = serde_json::to_string(&operation()).expect("serialises");
        assert_eq!(
            json,
            concat!(
                r#"{"device_id":"00000000-0000-0000-0000-000000000001","seq":7,"#,
                r#""record_id":"00000000-0000-0000-0000-000000000002","hlc":"1763797620123-2","#,
                r#""changes":[{"field":"full_name","value":"Siti Aminah"},{"field":"rt","value":3},"#,
                r#"{"field":"status","value":{"state":"withdrawn","reason":"pindah"}}]}"#
            )
        );
    }

    #[test]
    fn a_duplicate_receipt_names_the_stored_timestamp_only_when_it_differs() {
        // The wire form of a plain duplicate is unchanged, so agents and
        // servers of either age read each other (an older agent ignores the
        // extra field of an internally tagged unit variant).
        let plain = Outcome::Duplicate { bounded_hlc: None };
        assert_eq!(
            serde_json::to_string(&plain).expect("serialises"),
            r#"{"status":"duplicate"}"#
        );
        assert_eq!(
            serde_json::from_str::<Outcome>(r#"{"status":"duplicate"}"#).expect("parses"),
            plain
        );
        let bounded = Outcome::Duplicate {
            bounded_hlc: Hlc::new(1_763_797_920_500, 0),
        };
        assert_eq!(
            serde_json::to_string(&bounded).expect("serialises"),
            r#"{"status":"duplicate","bounded_hlc":"1763797920500-0"}"#
        );
    }

    #[test]
    fn every_message_round_trips() {
        let store_id = StoreId(Uuid::from_u128(9));
        round_trip(&PushRequest {
            protocol: PROTOCOL_VERSION,
            device_id: DeviceId(Uuid::from_u128(1)),
            known_store_id: Some(store_id),
            device_time_ms: 1_763_797_620_000,
            pulled_upto: Some(7),
            after_seq: Some(4),
            operations: vec![operation()],
        });
        round_trip(&PushResponse {
            protocol: PROTOCOL_VERSION,
            store_id,
            server_time_ms: 1_763_797_620_500,
            server_hlc: Hlc::new(1_763_797_620_500, 0).expect("small"),
            acknowledged_seq: 7,
            handled_us: Some(12_345),
            receipts: vec![
                Receipt {
                    seq: 5,
                    outcome: Outcome::Duplicate { bounded_hlc: None },
                },
                Receipt {
                    seq: 4,
                    outcome: Outcome::Duplicate {
                        bounded_hlc: Hlc::new(1_763_797_920_500, 0),
                    },
                },
                Receipt {
                    seq: 6,
                    outcome: Outcome::Accepted {
                        bounded_hlc: Hlc::new(1_763_797_920_500, 2),
                    },
                },
                Receipt {
                    seq: 7,
                    outcome: Outcome::Rejected {
                        error: WireError::new(
                            ErrorCode::OutOfScope,
                            "village 1311012001 is outside your regions",
                            "Desa 1311012001 di luar wilayah tugas Anda",
                        ),
                    },
                },
            ],
        });
        round_trip(&PullRequest {
            protocol: 1,
            known_store_id: None,
            cursor: 0,
            limit: 1000,
        });
        round_trip(&PullPage {
            protocol: 1,
            store_id,
            server_hlc: Hlc::ZERO,
            operations: vec![operation()],
            next_cursor: 42,
            has_more: true,
            duplicates: vec![DuplicateNotice {
                record_id: RecordId(Uuid::from_u128(2)),
                others: vec![DuplicateHolder {
                    record_id: RecordId(Uuid::from_u128(3)),
                    village_code: "1311012001".into(),
                    officer_name: Some("Rina".into()),
                }],
            }],
        });
        round_trip(&EnrollRequest {
            protocol: 1,
            code: "ABCD-EFGH-JKLM".into(),
            device_id: DeviceId(Uuid::from_u128(1)),
            device_name: "laptop".into(),
        });
        round_trip(&EnrollResponse {
            protocol: 1,
            store_id,
            token: "t".into(),
            officer: OfficerInfo {
                id: OfficerId(Uuid::from_u128(4)),
                name: "Rina".into(),
                regions: vec!["1311".into()],
            },
            server_time_ms: 1,
        });
        round_trip(&ErrorBody {
            error: WireError::new(ErrorCode::DeviceRevoked, "revoked", "dicabut"),
        });
    }

    #[test]
    fn an_older_peer_ignores_what_it_does_not_know() {
        // A newer server may add fields and error codes; this build must still parse them.
        let body = r#"{"error":{"code":"quota_exceeded","message":"later","hint":"x"}}"#;
        let parsed: ErrorBody = serde_json::from_str(body).expect("unknown fields and codes parse");
        assert_eq!(parsed.error.code, ErrorCode::Unknown);
        assert!(
            !parsed.error.code.is_permanent(),
            "an unknown error is retried, not dropped"
        );
        assert_eq!(parsed.error.text(Lang::Id), "later");
    }

    #[test]
    fn codes_have_statuses_and_retry_classes() {
        assert_eq!(ErrorCode::DeviceRevoked.http_status(), 403);
        assert!(ErrorCode::DeviceRevoked.is_permanent());
        assert!(ErrorCode::InvalidValue.is_permanent());
        assert!(!ErrorCode::Unavailable.is_permanent());
        assert_eq!(
            serde_json::to_string(&ErrorCode::SequenceReused)
                .ok()
                .as_deref(),
            Some("\"sequence_reused\"")
        );
        assert!(is_supported(PROTOCOL_VERSION));
        assert!(!is_supported(PROTOCOL_VERSION + 1));
        assert!(!is_supported(0));
    }

    /// Whatever bytes arrive, parsing a message never panics, and whatever
    /// parses says the same thing when written back.
    mod arbitrary_input {
        use proptest::prelude::*;
        use serde_json::Value;

        use super::*;

        /// Parses `bytes` as `T`; when that works, writing it back and
        /// parsing again gives the same value.
        fn parses_stably<T>(bytes: &[u8]) -> Result<(), TestCaseError>
        where
            T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
        {
            if let Ok(value) = serde_json::from_slice::<T>(bytes) {
                let again =
                    serde_json::to_vec(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let back: T = serde_json::from_slice(&again).map_err(|e| {
                    TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&again)))
                })?;
                prop_assert_eq!(back, value);
            }
            Ok(())
        }

        fn every_message(bytes: &[u8]) -> Result<(), TestCaseError> {
            parses_stably::<PushRequest>(bytes)?;
            parses_stably::<PushResponse>(bytes)?;
            parses_stably::<PullRequest>(bytes)?;
            parses_stably::<PullPage>(bytes)?;
            parses_stably::<EnrollRequest>(bytes)?;
            parses_stably::<EnrollResponse>(bytes)?;
            parses_stably::<ErrorBody>(bytes)?;
            parses_stably::<Operation>(bytes)?;
            Ok(())
        }

        /// A JSON value of the kinds that trip parsers: huge and negative
        /// numbers, fractions, odd strings (including timestamp- and
        /// NIK-shaped ones), nulls, and small nested values.
        fn odd_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                any::<String>().prop_map(Value::String),
                "[0-9]{0,21}-[0-9]{0,6}".prop_map(Value::String),
                "[0-9]{14,18}".prop_map(Value::String),
                "[a-z_]{1,20}".prop_map(Value::String),
            ];
            leaf.prop_recursive(2, 8, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// How many nodes a value has (itself included).
        fn node_count(value: &Value) -> usize {
            1 + match value {
                Value::Array(items) => items.iter().map(node_count).sum(),
                Value::Object(map) => map.values().map(node_count).sum(),
                _ => 0,
            }
        }

        /// Replaces the `index`-th node (depth first) with `new`.
        fn replace_node(value: &mut Value, index: &mut usize, new: &Value) -> bool {
            if *index == 0 {
                *value = new.clone();
                return true;
            }
            *index -= 1;
            match value {
                Value::Array(items) => items.iter_mut().any(|v| replace_node(v, index, new)),
                Value::Object(map) => map.values_mut().any(|v| replace_node(v, index, new)),
                _ => false,
            }
        }

        /// A real push with every kind of change, as the agent sends it.
        fn sample_push() -> Value {
            let mut operation = operation();
            operation.changes.extend([
                Change::Nik("1311014506900001".parse().unwrap()),
                Change::BirthDate(time::macros::date!(1990 - 06 - 05)),
                Change::VillageCode("1311012001".into()),
            ]);
            serde_json::to_value(PushRequest {
                protocol: PROTOCOL_VERSION,
                device_id: DeviceId(Uuid::from_u128(1)),
                known_store_id: Some(StoreId(Uuid::from_u128(9))),
                device_time_ms: 1_763_797_620_000,
                pulled_upto: Some(7),
                after_seq: None,
                operations: vec![operation],
            })
            .unwrap()
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
                every_message(&bytes)?;
            }

            #[test]
            fn arbitrary_json_never_panics(value in odd_json()) {
                every_message(&serde_json::to_vec(&value).unwrap())?;
            }

            #[test]
            fn a_push_with_one_odd_value_never_panics(
                at in any::<prop::sample::Index>(),
                new in odd_json(),
            ) {
                let mut push = sample_push();
                let mut index = at.index(node_count(&push));
                prop_assert!(replace_node(&mut push, &mut index, &new));
                let bytes = serde_json::to_vec(&push).unwrap();
                parses_stably::<PushRequest>(&bytes)?;
                parses_stably::<Operation>(&serde_json::to_vec(&push["operations"][0]).unwrap())?;
            }

            #[test]
            fn a_push_cut_or_spliced_never_panics(
                cut in any::<prop::sample::Index>(),
                splice in prop::collection::vec(any::<u8>(), 0..8),
            ) {
                let mut bytes = serde_json::to_vec(&sample_push()).unwrap();
                let at = cut.index(bytes.len());
                bytes.splice(at..(at + splice.len()).min(bytes.len()), splice);
                parses_stably::<PushRequest>(&bytes)?;
            }
        }
    }
}
