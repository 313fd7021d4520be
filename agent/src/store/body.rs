//! How an operation's changes are stored in `operations.body`.
//!
//! Since schema version 4 the body is a JSON object from field name to value,
//! in the operation's order: `{"nik":"1311…","full_name":"Siti Aminah",…}`.
//! Each entry is exactly the `value` of the change's wire form
//! (`{"field":"nik","value":"1311…"}`, see `lindung_shared::protocol`), so
//! decoding gives back the very `Change`s, in the same order, that the sync
//! client will send; it only drops the `{"field": …, "value": …}` wrapping
//! repeated 17 times in a new registration (878 bytes become 572). Bodies
//! written before version 4 are the wire form's JSON array and still read.

use std::borrow::Cow;
use std::fmt;

use lindung_shared::registration::Change;
use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor,
    value::MapAccessDeserializer,
};
use serde::{Deserialize, Serialize};

/// Why a body could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The JSON is malformed or does not hold changes.
    #[error("operation body: {0}")]
    Json(#[from] serde_json::Error),
    /// A change did not serialise in the wire form this encoding relies on.
    #[error("operation body: change {0} has an unexpected wire form")]
    UnexpectedWireForm(&'static str),
}

/// The stored body of these changes (the compact form).
pub fn encode(changes: &[Change]) -> Result<String, BodyError> {
    let mut out = Vec::with_capacity(64 * changes.len() + 2);
    let mut scratch = Vec::with_capacity(256);
    out.push(b'{');
    for (index, change) in changes.iter().enumerate() {
        scratch.clear();
        change.serialize(&mut serde_json::Serializer::new(&mut scratch))?;
        // `{"field":"<tag>","value":<value>}`, as pinned by the wire-form test.
        let name = change.field().as_str();
        let entry = scratch
            .strip_prefix(b"{\"field\":\"")
            .and_then(|rest| rest.strip_prefix(name.as_bytes()))
            .and_then(|rest| rest.strip_prefix(b"\",\"value\":"))
            .and_then(|rest| rest.strip_suffix(b"}"))
            .ok_or(BodyError::UnexpectedWireForm(name))?;
        if index > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(entry);
    }
    out.push(b'}');
    // Built only from serde_json output and ASCII field names.
    String::from_utf8(out).map_err(|_| BodyError::UnexpectedWireForm("(utf-8)"))
}

/// The changes of a stored body: the compact form, or the wire form's array
/// (bodies written before schema version 4).
pub fn decode(body: &str) -> Result<Vec<Change>, BodyError> {
    if body.trim_start().starts_with('[') {
        return Ok(serde_json::from_str(body)?);
    }
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let changes = deserializer.deserialize_map(ChangesVisitor)?;
    deserializer.end()?;
    Ok(changes)
}

/// Reads the compact object, entry by entry, in order.
struct ChangesVisitor;

impl<'de> Visitor<'de> for ChangesVisitor {
    type Value = Vec<Change>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object from field name to value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Change>, A::Error> {
        let mut changes = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(name) = map.next_key::<FieldName<'de>>()? {
            changes.push(map.next_value_seed(ChangeSeed { name: &name.0 })?);
        }
        Ok(changes)
    }
}

/// A field name, borrowed from the body when it can be.
struct FieldName<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for FieldName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = FieldName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(FieldName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FieldName(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Deserialises one entry's value as the change of the named field, through
/// `Change`'s own (adjacently tagged) deserialiser: it is shown the entry as
/// `{"field": name, "value": <the entry's value>}`.
struct ChangeSeed<'n> {
    name: &'n str,
}

impl<'de> DeserializeSeed<'de> for ChangeSeed<'_> {
    type Value = Change;

    fn deserialize<D: Deserializer<'de>>(self, value: D) -> Result<Change, D::Error> {
        Change::deserialize(MapAccessDeserializer::new(WireForm {
            name: self.name,
            value: Some(value),
            step: 0,
        }))
    }
}

/// The two entries `field` and `value` of a change's wire form.
struct WireForm<'n, D> {
    name: &'n str,
    value: Option<D>,
    step: u8,
}

impl<'de, D: Deserializer<'de>> MapAccess<'de> for WireForm<'_, D> {
    type Error = D::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, D::Error> {
        let key = match self.step {
            0 => "field",
            1 => "value",
            _ => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, D::Error> {
        self.step += 1;
        match self.step {
            1 => seed.deserialize(self.name.into_deserializer()),
            _ => match self.value.take() {
                Some(value) => seed.deserialize(value),
                None => Err(de::Error::custom("a change's value was read twice")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use lindung_shared::ids::{DeviceId, OfficerId, RecordId};
    use lindung_shared::nik::{Nik, Sex};
    use lindung_shared::registration::{
        Category, Consent, ConsentMethod, Origin, Payer, PayerKind, Programmes, Registration,
        Status,
    };
    use time::macros::{date, datetime};
    use uuid::Uuid;

    use super::*;

    fn registration() -> Registration {
        let at = datetime!(2026-11-22 08:30:00.123456789 UTC);
        Registration {
            id: RecordId(Uuid::from_u128(7)),
            origin: Origin {
                officer_id: OfficerId(Uuid::from_u128(1)),
                device_id: DeviceId(Uuid::from_u128(2)),
                registered_at: at,
            },
            nik: "1311014101900001".parse::<Nik>().unwrap(),
            full_name: "Siti \"Ani\" Aminah \u{2019}\\ é".into(),
            birth_date: date!(1990 - 01 - 01),
            sex: Sex::Female,
            phone: Some(lindung_shared::phone::normalize_phone("0812 3456 7890").unwrap()),
            village_code: "1311012001".into(),
            rt: Some(3),
            rw: None,
            address: Some("Jorong Lubuk Gadang, {dekat} masjid: [x]".into()),
            category: Category::Fisherman,
            programmes: Programmes { jht: true },
            monthly_income: 1_500_000,
            payer: Payer {
                kind: PayerKind::Csr,
                name: Some("PT Semen Padang".into()),
            },
            consent: Consent {
                method: ConsentMethod::SignedForm,
                reference: Some("F-7".into()),
                recorded_at: at,
            },
            status: Status::Withdrawn {
                reason: "moved away".into(),
            },
            confirmed_warnings: vec!["possible_duplicate".into()],
        }
    }

    #[test]
    fn every_field_round_trips_in_order() {
        let changes = registration().to_changes();
        let body = encode(&changes).unwrap();
        assert!(body.starts_with("{\"origin\":{"), "{body}");
        assert_eq!(decode(&body).unwrap(), changes);
        let mut reversed = changes.clone();
        reversed.reverse();
        assert_eq!(decode(&encode(&reversed).unwrap()).unwrap(), reversed);
    }

    #[test]
    fn it_is_shorter_than_the_wire_form_and_reads_the_wire_form_too() {
        let changes = registration().to_changes();
        let wire = serde_json::to_string(&changes).unwrap();
        let body = encode(&changes).unwrap();
        assert!(
            body.len() + 250 < wire.len(),
            "{} vs {}",
            body.len(),
            wire.len()
        );
        assert_eq!(decode(&wire).unwrap(), changes);
    }

    #[test]
    fn a_malformed_body_is_an_error() {
        for body in [
            "",
            "{",
            "{\"nik\":12}",
            "{\"no_such_field\":1}",
            "{\"rt\":3} x",
            "[{\"field\":\"nik\"}]",
        ] {
            assert!(decode(body).is_err(), "{body:?}");
        }
        assert_eq!(decode("{}").unwrap(), Vec::<Change>::new());
    }
}
