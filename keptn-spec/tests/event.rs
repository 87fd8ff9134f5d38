//! Keptn events read and written from outside the crate: samples of each documented event shape
//! (`samples`) and property tests of the envelope, the types and the payloads (`proptests`).

/// Builds a `#[non_exhaustive]` payload struct the way a user of the crate must: its `default()`
/// with the named fields set. `build!(T { a, b: expr })` is `T { a, b: expr, ..T::default() }`.
macro_rules! build {
    ($ty:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        let mut value = $ty::default();
        $( value.$field = build!(@value $field $(, $value)?); )*
        value
    }};
    (@value $field:ident, $value:expr) => {
        $value
    };
    (@value $field:ident) => {
        $field
    };
}

#[path = "event/proptests.rs"]
mod proptests;
#[path = "event/samples.rs"]
mod samples;
