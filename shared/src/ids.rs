//! Identifiers of records, operations, devices and officers.
//!
//! Each is a UUID newtype so a record id can never be passed where a device id
//! is expected. `shared` never generates them (that needs a clock and
//! randomness): the agent and the server create UUIDv7 values, whose time
//! prefix keeps new rows close together in indexes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                $name(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map($name)
            }
        }
    };
}

uuid_id!(
    /// Identifies one registration (one person as registered by one officer) on every replica.
    RecordId
);
uuid_id!(
    /// Identifies one enrolled agent installation (one laptop's store).
    DeviceId
);
uuid_id!(
    /// Identifies a field officer, assigned by the server at enrolment.
    OfficerId
);
uuid_id!(
    /// Identifies one server store: random, made when its database is created.
    /// A different store id tells an agent the server was reset or restored.
    StoreId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_plain_uuids() {
        let text = "0192f0a1-b2c3-7d4e-8f50-6a7b8c9d0e1f";
        let id: RecordId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(format!("{id:?}"), format!("RecordId({text})"));
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
        assert!("not-a-uuid".parse::<DeviceId>().is_err());
    }
}
