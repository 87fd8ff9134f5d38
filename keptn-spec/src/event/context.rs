//! The Keptn context (`shkeptncontext`) and event ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// The Keptn context: the UUID carried in the `shkeptncontext` extension that ties all events of
/// one flow (one delivery, one problem, one evaluation) together.
///
/// It parses from any UUID form the `uuid` crate accepts (hyphenated, simple, braced, `urn:uuid:`)
/// and always prints the lowercase hyphenated form.
///
/// Keptn's API also accepts a non-UUID string as the context and derives a deterministic UUID
/// from it, so that a Dynatrace problem's OPEN and RESOLVED notifications, which both
/// carry the problem's `PID`, land in one context: see [`KeptnContext::derive`] and
/// [`KeptnContext::from_ingress`].
///
/// ```
/// use keptn_spec::event::KeptnContext;
///
/// let open = KeptnContext::from_ingress("-2389542023040931083_1576063740000V2");
/// let resolved = KeptnContext::from_ingress("-2389542023040931083_1576063740000V2");
/// assert_eq!(open, resolved);
/// assert_eq!(open.to_string(), "2d323338-3935-4432-b032-333034303933");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeptnContext(Uuid);

impl KeptnContext {
    /// A new random (version 4) context, as Keptn creates for a flow that starts without one.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// Wraps a UUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The context as a UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// Derives a context deterministically from a string that is not a UUID, as Keptn's API
    /// does for `shkeptncontext` values such as a Dynatrace problem `PID`.
    ///
    /// The rule: when the string is shorter than 16 bytes it is right-padded with spaces to a
    /// width of 16 characters (Go's `%-16v`, which counts characters); the first 16 bytes of the
    /// result become the UUID's bytes; then the version nibble is set to 4
    /// (`byte[6] = byte[6] & 0x0f | 0x40`) and the RFC 4122 variant bits
    /// (`byte[8] = byte[8] & 0x3f | 0x80`). The same string always gives the same context.
    ///
    /// This always derives, even from a string that is a UUID; use [`KeptnContext::from_ingress`]
    /// for the full rule of the API.
    pub fn derive(seed: &str) -> Self {
        let mut padded = seed.to_owned();
        if seed.len() < 16 {
            let chars = seed.chars().count();
            padded.extend(std::iter::repeat_n(' ', 16 - chars));
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&padded.as_bytes()[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Self(Uuid::from_bytes(bytes))
    }

    /// The context Keptn's API assigns to an incoming event whose `shkeptncontext` is `input`
    /// as follows: a valid UUID is kept, an empty string gets a new random context, and any other
    /// string gets the deterministic context of [`KeptnContext::derive`].
    pub fn from_ingress(input: &str) -> Self {
        if input.is_empty() {
            Self::new_random()
        } else if let Ok(uuid) = Uuid::parse_str(input) {
            Self(uuid)
        } else {
            Self::derive(input)
        }
    }
}

impl fmt::Display for KeptnContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for KeptnContext {
    type Err = Error;

    /// Parses a UUID; anything else is an error (derive explicitly with [`KeptnContext::derive`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self).map_err(|_| Error::Parse {
            file: None,
            location: None,
            message: format!(
                "`{s}` is not a valid Keptn context: expected a UUID such as \
                 `5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e` (Keptn's API derives one from other \
                 strings; see KeptnContext::derive)"
            ),
        })
    }
}

impl TryFrom<String> for KeptnContext {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<KeptnContext> for String {
    fn from(c: KeptnContext) -> String {
        c.to_string()
    }
}

impl From<Uuid> for KeptnContext {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

/// The `id` of a CloudEvent (and the value of `triggeredid`, which names the `.triggered` event
/// a `.started`/`.finished` event answers).
///
/// Keptn creates version 4 UUIDs ([`EventId::new_random`]), but CloudEvents allows any non-empty
/// string, so any non-empty string is accepted and kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

impl EventId {
    /// A new random (version 4 UUID) id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    /// Wraps `id`.
    ///
    /// # Errors
    /// [`Error::Parse`] when `id` is empty (CloudEvents 1.0 requires a non-empty id).
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if id.is_empty() {
            return Err(Error::Parse {
                file: None,
                location: None,
                message: "an event id must not be empty (CloudEvents 1.0 `id`)".to_owned(),
            });
        }
        Ok(Self(id))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EventId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for EventId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> String {
        id.0
    }
}

impl AsRef<str> for EventId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Dynatrace-style PID longer than 16 bytes maps to a fixed UUID.
    ///
    /// Worked by hand: the first 16 bytes of `-2389542023040931083_1576063740000V2` are
    /// `-238954202304093` = 2d 32 33 38 39 35 34 32 30 32 33 30 34 30 39 33.
    /// byte 6 = 0x34 → 0x34 & 0x0f | 0x40 = 0x44; byte 8 = 0x30 → 0x30 & 0x3f | 0x80 = 0xb0.
    /// Result: 2d323338-3935-4432-b032-333034303933.
    #[test]
    fn long_pid_derives_the_hand_computed_uuid() {
        let ctx = KeptnContext::derive("-2389542023040931083_1576063740000V2");
        assert_eq!(ctx.to_string(), "2d323338-3935-4432-b032-333034303933");
        assert_eq!(ctx.as_uuid().get_version_num(), 4);
        assert_eq!(ctx.as_uuid().get_variant(), uuid::Variant::RFC4122);
    }

    /// A short string is right-padded with spaces before its bytes are taken.
    ///
    /// By hand: `PID42` + 11 spaces = 50 49 44 34 32 20 20 20 20 20 20 20 20 20 20 20;
    /// byte 6 = 0x20 → 0x40; byte 8 = 0x20 → 0xa0. Result: 50494434-3220-4020-a020-202020202020.
    #[test]
    fn short_pid_is_padded_with_spaces() {
        let ctx = KeptnContext::derive("PID42");
        assert_eq!(ctx.to_string(), "50494434-3220-4020-a020-202020202020");
    }

    /// Go's `%-16v` pads by characters, not bytes: `ää` (4 bytes, 2 characters) gets 14 spaces.
    ///
    /// By hand: c3 a4 c3 a4 20 20 20 20 20 20 20 20 20 20 20 20 (first 16 of 18 bytes);
    /// byte 6 → 0x40, byte 8 → 0xa0. Result: c3a4c3a4-2020-4020-a020-202020202020.
    #[test]
    fn padding_counts_characters_like_go() {
        let ctx = KeptnContext::derive("ää");
        assert_eq!(ctx.to_string(), "c3a4c3a4-2020-4020-a020-202020202020");
    }

    /// The API keeps a valid UUID, derives from other strings and invents one for an empty string.
    #[test]
    fn ingress_keeps_uuids_and_derives_the_rest() {
        let uuid = "5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e";
        assert_eq!(KeptnContext::from_ingress(uuid).to_string(), uuid);
        assert_eq!(
            KeptnContext::from_ingress("PID42"),
            KeptnContext::derive("PID42")
        );
        assert_ne!(
            KeptnContext::from_ingress(""),
            KeptnContext::from_ingress("")
        );
    }

    /// Parsing a context rejects non-UUIDs with a message that names the input.
    #[test]
    fn parse_rejects_non_uuid_with_clear_message() {
        let err = "PID42".parse::<KeptnContext>().unwrap_err();
        assert!(
            err.to_string()
                .contains("`PID42` is not a valid Keptn context"),
            "{err}"
        );
    }

    /// Upper-case and braced UUIDs parse and print normalized.
    #[test]
    fn context_display_is_normalized() {
        let ctx: KeptnContext = "{5B4A6C1E-7A3B-4C7E-9F3E-0D6A1B2C3D4E}".parse().unwrap();
        assert_eq!(ctx.to_string(), "5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e");
    }

    /// Empty event ids are rejected; others are kept verbatim.
    #[test]
    fn event_id_must_not_be_empty() {
        assert!(EventId::new("").is_err());
        assert_eq!(EventId::new("abc").unwrap().as_str(), "abc");
        assert_ne!(EventId::new_random(), EventId::new_random());
    }
}
