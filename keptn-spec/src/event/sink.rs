//! Where events go: the [`EventSink`] trait and in-process sinks.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::context::KeptnContext;
use super::envelope::KeptnEvent;
use super::types::EventType;

/// Receives the Keptn events a component emits: the delivery sequence, the quality gate, the
/// remediation workflow and notifications all emit into an `EventSink`.
///
/// # Contract
///
/// * `emit` is synchronous and **must not block**: no I/O and no waiting inside it. A sink that
///   writes to a file or a network queues the event internally (a channel, a buffer) and does
///   the I/O elsewhere.
/// * `emit` cannot fail from the caller's point of view: a sink that can fail later (a full
///   disk, an unreachable bus) records and reports its failures through its own API.
///   Emitting components never depend on the outcome.
/// * Events arrive in the order of the `emit` calls of one thread; sinks keep that order.
///
/// `EventSink` is implemented for `&T`, [`Arc<T>`] and [`Box<T>`] of any sink (including
/// `dyn EventSink`), so components can take `impl EventSink`, `Arc<dyn EventSink>` or a
/// reference.
///
/// ```
/// use keptn_spec::event::{EventSink, EventType, KeptnContext, KeptnEvent, MemoryEventSink};
///
/// fn announce(sink: &dyn EventSink) {
///     let ev = KeptnEvent::new(EventType::ProblemOpen, "monitor", KeptnContext::new_random(),
///                              &serde_json::json!({"State": "OPEN"}));
///     sink.emit(&ev);
/// }
///
/// let sink = MemoryEventSink::new();
/// announce(&sink);
/// assert_eq!(sink.types(), vec![EventType::ProblemOpen]);
/// ```
///
/// Implementing it: count events without blocking.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use keptn_spec::event::{EventSink, KeptnEvent};
///
/// #[derive(Debug, Default)]
/// struct Counter(AtomicU64);
///
/// impl EventSink for Counter {
///     fn emit(&self, _event: &KeptnEvent) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
///
/// let counter = Counter::default();
/// let sink: &dyn EventSink = &counter;
/// # let _ = sink;
/// assert_eq!(counter.0.load(Ordering::Relaxed), 0);
/// ```
pub trait EventSink: Send + Sync + fmt::Debug {
    /// Takes one event. Must not block (see the trait's contract).
    fn emit(&self, event: &KeptnEvent);
}

impl<T: EventSink + ?Sized> EventSink for &T {
    fn emit(&self, event: &KeptnEvent) {
        (**self).emit(event);
    }
}

impl<T: EventSink + ?Sized> EventSink for Arc<T> {
    fn emit(&self, event: &KeptnEvent) {
        (**self).emit(event);
    }
}

impl<T: EventSink + ?Sized> EventSink for Box<T> {
    fn emit(&self, event: &KeptnEvent) {
        (**self).emit(event);
    }
}

/// An [`EventSink`] that keeps every event in memory, in emission order.
///
/// Clones share the same store, so a test keeps one handle and gives the other to the component
/// under test. The store is guarded by a mutex held only to push or copy, so `emit` does not
/// block beyond that.
///
/// ```
/// use keptn_spec::event::{EventSink, EventType, KeptnContext, KeptnEvent, MemoryEventSink, Phase, Task};
///
/// let sink = MemoryEventSink::new();
/// let handle = sink.clone();
/// let ctx = KeptnContext::new_random();
/// let triggered = KeptnEvent::triggered(
///     &EventType::task(Task::Deployment, Phase::Triggered), "shipyard-controller", ctx,
///     &serde_json::json!({"project": "sockshop", "stage": "dev", "service": "carts"}))?;
/// sink.emit(&triggered);
/// sink.emit(&triggered.finished("helm-service", &serde_json::json!({"result": "pass"}))?);
///
/// assert_eq!(handle.len(), 2);
/// assert_eq!(handle.of_type(&EventType::task(Task::Deployment, Phase::Finished)).len(), 1);
/// assert_eq!(handle.in_context(&ctx).len(), 2);
/// # Ok::<(), keptn_spec::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryEventSink {
    events: Arc<Mutex<Vec<KeptnEvent>>>,
}

impl MemoryEventSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<KeptnEvent>> {
        // A panic while holding the lock cannot leave the Vec half-written (push and clone are
        // the only operations), so a poisoned lock is still safe to use.
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A snapshot of every event so far, in emission order.
    pub fn events(&self) -> Vec<KeptnEvent> {
        self.lock().clone()
    }

    /// The types of every event so far, in emission order (handy for asserting a flow).
    pub fn types(&self) -> Vec<EventType> {
        self.lock().iter().map(|e| e.ty.clone()).collect()
    }

    /// The number of events so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no event was emitted yet.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The last event emitted, if any.
    pub fn last(&self) -> Option<KeptnEvent> {
        self.lock().last().cloned()
    }

    /// The events of type `ty`, in emission order.
    pub fn of_type(&self, ty: &EventType) -> Vec<KeptnEvent> {
        self.filter(|e| e.ty == *ty)
    }

    /// The events of one Keptn context, in emission order.
    pub fn in_context(&self, context: &KeptnContext) -> Vec<KeptnEvent> {
        self.filter(|e| e.shkeptncontext.as_ref() == Some(context))
    }

    /// The events for which `keep` returns true, in emission order.
    pub fn filter(&self, mut keep: impl FnMut(&KeptnEvent) -> bool) -> Vec<KeptnEvent> {
        self.lock().iter().filter(|e| keep(e)).cloned().collect()
    }

    /// Removes and returns every event so far.
    pub fn take(&self) -> Vec<KeptnEvent> {
        std::mem::take(&mut *self.lock())
    }

    /// Removes every event.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

impl EventSink for MemoryEventSink {
    fn emit(&self, event: &KeptnEvent) {
        self.lock().push(event.clone());
    }
}

/// An [`EventSink`] that passes every event to several sinks, in the order they were added
/// (a tee).
///
/// ```
/// use std::sync::Arc;
/// use keptn_spec::event::{EventSink, EventType, FanOut, KeptnContext, KeptnEvent, MemoryEventSink};
///
/// let (log, bridge) = (MemoryEventSink::new(), MemoryEventSink::new());
/// let sink = FanOut::new().with(log.clone()).with(bridge.clone());
/// sink.emit(&KeptnEvent::new(EventType::Problem, "dynatrace", KeptnContext::new_random(),
///                            &serde_json::json!({"State": "RESOLVED"})));
/// assert_eq!((log.len(), bridge.len()), (1, 1));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FanOut {
    sinks: Vec<Arc<dyn EventSink>>,
}

impl FanOut {
    /// A fan-out with no sinks yet (it drops events until one is added).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink.
    #[must_use]
    pub fn with(mut self, sink: impl EventSink + 'static) -> Self {
        self.sinks.push(Arc::new(sink));
        self
    }

    /// Adds a shared sink.
    pub fn push(&mut self, sink: Arc<dyn EventSink>) {
        self.sinks.push(sink);
    }

    /// The number of sinks.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// Whether there are no sinks.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

impl EventSink for FanOut {
    fn emit(&self, event: &KeptnEvent) {
        for sink in &self.sinks {
            sink.emit(event);
        }
    }
}

/// An [`EventSink`] that drops every event (for components run without an event log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscardEventSink;

impl EventSink for DiscardEventSink {
    fn emit(&self, _event: &KeptnEvent) {}
}

/// An [`EventSink`] that sends every event into a [`std::sync::mpsc`] channel: the queue that
/// lets a consumer on another thread do slow work (I/O, a bus) without blocking emitters.
///
/// When the receiver is gone, events are dropped and counted ([`ChannelEventSink::dropped`]).
#[derive(Debug, Clone)]
pub struct ChannelEventSink {
    sender: std::sync::mpsc::Sender<KeptnEvent>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl ChannelEventSink {
    /// A sink and the receiving end of its (unbounded) channel.
    pub fn new() -> (Self, std::sync::mpsc::Receiver<KeptnEvent>) {
        let (sender, receiver) = std::sync::mpsc::channel();
        (
            Self {
                sender,
                dropped: Arc::default(),
            },
            receiver,
        )
    }

    /// How many events were dropped because the receiver was gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl EventSink for ChannelEventSink {
    fn emit(&self, event: &KeptnEvent) {
        if self.sender.send(event.clone()).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::types::{Phase, Task};
    use serde_json::json;

    fn event(ty: EventType, ctx: KeptnContext) -> KeptnEvent {
        KeptnEvent::new(ty, "test", ctx, &json!({}))
    }

    /// Public sink types can be shared across threads.
    #[test]
    fn sinks_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MemoryEventSink>();
        assert_send_sync::<FanOut>();
        assert_send_sync::<ChannelEventSink>();
        assert_send_sync::<Box<dyn EventSink>>();
        assert_send_sync::<KeptnEvent>();
    }

    /// Clones of a memory sink share one store; filters select by type and context.
    #[test]
    fn memory_sink_shares_and_filters() {
        let sink = MemoryEventSink::new();
        let handle = sink.clone();
        let (a, b) = (KeptnContext::new_random(), KeptnContext::new_random());
        let triggered = EventType::task(Task::Test, Phase::Triggered);
        sink.emit(&event(triggered.clone(), a));
        sink.emit(&event(EventType::ProblemOpen, b));
        sink.emit(&event(triggered.clone(), b));
        assert_eq!(handle.len(), 3);
        assert_eq!(handle.of_type(&triggered).len(), 2);
        assert_eq!(handle.in_context(&b).len(), 2);
        assert_eq!(handle.last().unwrap().shkeptncontext, Some(b));
        assert_eq!(
            handle.types(),
            vec![triggered.clone(), EventType::ProblemOpen, triggered]
        );
        assert_eq!(handle.take().len(), 3);
        assert!(sink.is_empty());
    }

    /// Fan-out delivers to every sink, through `Arc`, `Box` and references alike.
    #[test]
    fn fan_out_delivers_to_all() {
        let a = MemoryEventSink::new();
        let b = MemoryEventSink::new();
        let boxed: Box<dyn EventSink> = Box::new(b.clone());
        let mut fan = FanOut::new().with(a.clone()).with(boxed);
        fan.push(Arc::new(DiscardEventSink));
        assert_eq!(fan.len(), 3);
        let by_ref: &dyn EventSink = &fan;
        by_ref.emit(&event(EventType::Problem, KeptnContext::new_random()));
        assert_eq!((a.len(), b.len()), (1, 1));
    }

    /// Events emitted from several threads all arrive.
    #[test]
    fn memory_sink_collects_from_threads() {
        let sink = Arc::new(MemoryEventSink::new());
        std::thread::scope(|s| {
            for _ in 0..4 {
                let sink = Arc::clone(&sink);
                s.spawn(move || {
                    for _ in 0..25 {
                        sink.emit(&event(EventType::Problem, KeptnContext::new_random()));
                    }
                });
            }
        });
        assert_eq!(sink.len(), 100);
    }

    /// The channel sink queues events for a consumer and counts drops once it is gone.
    #[test]
    fn channel_sink_queues_and_counts_drops() {
        let (sink, rx) = ChannelEventSink::new();
        sink.emit(&event(EventType::Problem, KeptnContext::new_random()));
        assert_eq!(rx.recv().unwrap().ty, EventType::Problem);
        drop(rx);
        sink.emit(&event(EventType::Problem, KeptnContext::new_random()));
        assert_eq!(sink.dropped(), 1);
    }
}
