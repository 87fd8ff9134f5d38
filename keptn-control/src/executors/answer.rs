//! The outcome-only answers every built-in executor gives when it cannot do its task.

use keptn_spec::event::{EventData, Payload, Status, Verdict};

/// A payload with only the outcome.
pub(crate) fn common(status: Status, result: Verdict, message: impl Into<String>) -> Payload {
    let mut data = EventData::default();
    data.status = Some(status);
    data.result = Some(result);
    data.message = Some(message.into());
    Payload::Common(data)
}

/// An `errored`/`fail` payload with a message.
pub(crate) fn errored(message: impl Into<String>) -> Payload {
    common(Status::Errored, Verdict::Fail, message)
}
