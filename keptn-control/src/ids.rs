//! Deterministic event ids: an answer to an event gets the same id every time it is produced,
//! so a task run again after a restart writes no second copy into the event log.

use keptn_spec::event::EventId;

/// The id of the event that plays `role` for `parent` (such as the `.started` answer of one
/// executor to a `.triggered` event): a version-8 UUID built from a 128-bit FNV-1a hash of both,
/// the same in every process and on every platform.
pub(crate) fn derive(parent: &EventId, role: &str) -> EventId {
    let mut bytes = [0u8; 16];
    let low = fnv1a(0xcbf2_9ce4_8422_2325, parent.as_str(), role);
    let high = fnv1a(0x8422_2325_cbf2_9ce4, role, parent.as_str());
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8 (custom)
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let id = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    // Infallible: the id is never empty.
    EventId::new(id).unwrap_or_else(|_| EventId::new_random())
}

fn fnv1a(seed: u64, first: &str, second: &str) -> u64 {
    let mut h = seed;
    for b in first.bytes().chain([0u8]).chain(second.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same parent and role always give the same UUID; another role gives another.
    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let parent = EventId::new("9f0e5a4c-1b2d-4e3f-8a7b-6c5d4e3f2a1b").unwrap();
        let a = derive(&parent, "started:helm-service");
        assert_eq!(a, derive(&parent, "started:helm-service"));
        assert_ne!(a, derive(&parent, "finished:helm-service"));
        assert_eq!(a.as_str().len(), 36);
        assert_eq!(&a.as_str()[14..15], "8");
    }
}
