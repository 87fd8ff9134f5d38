//! The event bus every event of the control plane travels on.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use keptn_spec::event::{EventType, KeptnEvent};
use tokio::sync::mpsc;

use crate::Result;

/// Which events a [`Subscription`] receives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Topic {
    /// Every event (the controller's view).
    All,
    /// Events of exactly this type, such as `sh.keptn.event.deployment.triggered` (what an
    /// executor of one task listens to).
    Type(EventType),
}

impl Topic {
    /// Whether `event` belongs to this topic.
    pub fn matches(&self, event: &KeptnEvent) -> bool {
        match self {
            Topic::All => true,
            Topic::Type(ty) => *ty == event.ty,
        }
    }
}

/// The receiving end of a subscription: events in the order the bus delivered them.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<KeptnEvent>,
}

impl Subscription {
    /// A subscription fed by `rx` (for bus implementations that forward from elsewhere).
    pub fn new(rx: mpsc::UnboundedReceiver<KeptnEvent>) -> Self {
        Self { rx }
    }

    /// The next event; `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<KeptnEvent> {
        self.rx.recv().await
    }
}

/// Carries Keptn events between the controller, executors and anyone else (Keptn used NATS).
///
/// Delivery is at most once per subscriber and in publish order; durability is the
/// [`Store`](crate::Store)'s job, not the bus's: the controller writes an event to the store
/// before it publishes it and re-publishes open tasks after a restart.
#[async_trait]
pub trait EventBus: Send + Sync + fmt::Debug {
    /// Sends `event` to every subscriber whose topic matches.
    ///
    /// # Errors
    /// [`Error::BusClosed`](crate::Error::BusClosed) when the bus no longer delivers.
    async fn publish(&self, event: &KeptnEvent) -> Result<()>;

    /// Starts receiving the events of `topic` published from now on.
    ///
    /// # Errors
    /// [`Error::BusClosed`](crate::Error::BusClosed) when the bus no longer delivers.
    async fn subscribe(&self, topic: Topic) -> Result<Subscription>;
}

/// The in-process bus: subscribers are channels inside this process.
#[derive(Default)]
pub struct InProcessBus {
    subscribers: Mutex<Vec<(Topic, mpsc::UnboundedSender<KeptnEvent>)>>,
}

impl InProcessBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many subscriptions are open.
    pub fn subscribers(&self) -> usize {
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        subs.retain(|(_, tx)| !tx.is_closed());
        subs.len()
    }
}

impl fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessBus")
            .field("subscribers", &self.subscribers())
            .finish()
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, event: &KeptnEvent) -> Result<()> {
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        subs.retain(|(topic, tx)| !topic.matches(event) || tx.send(event.clone()).is_ok());
        Ok(())
    }

    async fn subscribe(&self, topic: Topic) -> Result<Subscription> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((topic, tx));
        Ok(Subscription::new(rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keptn_spec::event::{KeptnContext, Phase, Task};
    use serde_json::json;

    /// A subscriber to one type sees only that type; a subscriber to all sees everything.
    #[tokio::test]
    async fn topics_filter_events() {
        let bus = InProcessBus::new();
        let deploy = EventType::task(Task::Deployment, Phase::Triggered);
        let mut one = bus.subscribe(Topic::Type(deploy.clone())).await.unwrap();
        let mut all = bus.subscribe(Topic::All).await.unwrap();
        let ctx = KeptnContext::new_random();
        let test = EventType::task(Task::Test, Phase::Triggered);
        let a = KeptnEvent::triggered(&test, "t", ctx, &json!({})).unwrap();
        let b = KeptnEvent::triggered(&deploy, "t", ctx, &json!({})).unwrap();
        bus.publish(&a).await.unwrap();
        bus.publish(&b).await.unwrap();
        assert_eq!(one.next().await.unwrap().id, b.id);
        assert_eq!(all.next().await.unwrap().id, a.id);
        assert_eq!(all.next().await.unwrap().id, b.id);
        drop(one);
        assert_eq!(bus.subscribers(), 1);
    }
}
