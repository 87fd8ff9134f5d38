//! Cross-crate scenario tests for keptn-rs; the tests live in `tests/tests/`.
