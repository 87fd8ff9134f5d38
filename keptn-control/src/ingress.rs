//! [`EventIngress`]: an [`EventSink`] that sends what it is given into a control plane, so a
//! synchronous event source (a monitor, a problem poller, an alert receiver) feeds the
//! control plane the way Keptn's `POST /v1/event` does.

use keptn_spec::event::{EventSink, KeptnEvent};
use tokio::sync::mpsc;

use crate::plane::ControlPlane;

/// Sends every emitted event into a [`ControlPlane`] with [`ControlPlane::send`] (in emission
/// order, from a background task). A `sh.keptn.event.problem.open` emitted here starts the
/// shipyard's `remediation` sequence; the problem's closing event finishes it.
///
/// The background task keeps the control plane alive until every clone of the ingress is
/// dropped.
#[derive(Debug, Clone)]
pub struct EventIngress {
    tx: mpsc::UnboundedSender<KeptnEvent>,
}

impl EventIngress {
    /// An ingress into `plane`.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns its forwarding task).
    pub fn new(plane: &ControlPlane) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<KeptnEvent>();
        let plane = plane.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if let Err(e) = plane.send(event).await {
                    tracing::warn!("event ingress: {e}");
                    break;
                }
            }
        });
        Self { tx }
    }
}

impl EventSink for EventIngress {
    fn emit(&self, event: &KeptnEvent) {
        if self.tx.send(event.clone()).is_err() {
            tracing::warn!(id = %event.id, "event ingress closed: event dropped");
        }
    }
}
