//! What the control plane holds after many deliveries (the soak's regression test): nothing
//! per finished sequence stays in flight, subscriptions do not pile up, and an API page of the
//! event log reads only that page from the store, however long the log is (reading the whole
//! log per request made the soak's resident memory grow with every delivery).
#![cfg(feature = "http")]

mod http_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use http_common::{Api, config, serve};
use keptn_control::store::{Change, EventFilter, EventPage, EventQuery, SequenceQuery};
use keptn_control::{
    ControlPlane, EventBus, InProcessBus, ResourceScope, SequenceRecord, SqliteStore, Store,
};
use keptn_slo::PreviousEvaluation;
use keptn_spec::ProjectName;
use keptn_spec::event::{EventId, KeptnEvent, Task};
use serde_json::Value;

/// A store that counts how many events its readers get in one call.
#[derive(Debug)]
struct CountingStore {
    inner: SqliteStore,
    /// The most events one `events` call returned.
    most_listed: AtomicUsize,
    /// The most events one `events_page` call returned.
    most_paged: AtomicUsize,
}

impl CountingStore {
    fn reset(&self) {
        self.most_listed.store(0, Ordering::SeqCst);
        self.most_paged.store(0, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn put_project(&self, p: &ProjectName, s: &str) -> keptn_control::Result<()> {
        self.inner.put_project(p, s).await
    }
    async fn projects(&self) -> keptn_control::Result<Vec<ProjectName>> {
        self.inner.projects().await
    }
    async fn delete_project(&self, p: &ProjectName) -> keptn_control::Result<()> {
        self.inner.delete_project(p).await
    }
    async fn put_resource(&self, s: &ResourceScope, u: &str, c: &str) -> keptn_control::Result<()> {
        self.inner.put_resource(s, u, c).await
    }
    async fn resource(&self, s: &ResourceScope, u: &str) -> keptn_control::Result<Option<String>> {
        self.inner.resource(s, u).await
    }
    async fn resource_uris(&self, s: &ResourceScope) -> keptn_control::Result<Vec<String>> {
        self.inner.resource_uris(s).await
    }
    async fn commit(&self, change: &Change) -> keptn_control::Result<()> {
        self.inner.commit(change).await
    }
    async fn has_event(&self, id: &EventId) -> keptn_control::Result<bool> {
        self.inner.has_event(id).await
    }
    async fn event(&self, id: &EventId) -> keptn_control::Result<Option<KeptnEvent>> {
        self.inner.event(id).await
    }
    async fn events(&self, q: &EventQuery) -> keptn_control::Result<Vec<KeptnEvent>> {
        let events = self.inner.events(q).await?;
        self.most_listed.fetch_max(events.len(), Ordering::SeqCst);
        Ok(events)
    }
    async fn events_page(
        &self,
        q: &EventQuery,
        keep: EventFilter<'_>,
        skip: usize,
        take: usize,
    ) -> keptn_control::Result<EventPage> {
        let page = self.inner.events_page(q, keep, skip, take).await?;
        self.most_paged
            .fetch_max(page.events.len(), Ordering::SeqCst);
        Ok(page)
    }
    async fn sequence(&self, id: &EventId) -> keptn_control::Result<Option<SequenceRecord>> {
        self.inner.sequence(id).await
    }
    async fn sequences(&self, q: &SequenceQuery) -> keptn_control::Result<Vec<SequenceRecord>> {
        self.inner.sequences(q).await
    }
    async fn record_evaluation(
        &self,
        s: &ResourceScope,
        e: &PreviousEvaluation,
    ) -> keptn_control::Result<()> {
        self.inner.record_evaluation(s, e).await
    }
    async fn evaluations(
        &self,
        s: &ResourceScope,
    ) -> keptn_control::Result<Vec<PreviousEvaluation>> {
        self.inner.evaluations(s).await
    }
}

/// The soak in small: deliveries whose deployment nobody starts (each times out and ends), then
/// the state the control plane kept, and what one page of the event log costs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_deliveries_leave_nothing_in_flight_and_pages_stay_small() {
    const DELIVERIES: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CountingStore {
        inner: SqliteStore::open(dir.path().join("state.db")).unwrap(),
        most_listed: AtomicUsize::new(0),
        most_paged: AtomicUsize::new(0),
    });
    let bus = Arc::new(InProcessBus::new());
    let project: ProjectName = "soak".parse().unwrap();
    let plane = ControlPlane::builder()
        .store(store.clone())
        .bus(bus.clone() as Arc<dyn EventBus>)
        .project(
            project.clone(),
            "stages:\n- {name: dev, deployment_strategy: direct}\n",
        )
        .task_start_timeout(Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let subscribers = bus.subscribers();
    let stage = "dev".parse().unwrap();
    let mut contexts = Vec::new();
    for i in 0..DELIVERIES {
        let service = format!("svc{}", i % 20).parse().unwrap();
        let ctx = plane
            .trigger_delivery(
                &project,
                &stage,
                "delivery",
                &service,
                &format!("carts:{i}"),
            )
            .await
            .unwrap();
        contexts.push(ctx);
    }
    for ctx in contexts {
        plane.wait(ctx, Duration::from_secs(60)).await.unwrap();
    }

    // nothing of a finished delivery is still in flight
    assert_eq!(bus.subscribers(), subscribers, "subscriptions piled up");
    assert!(plane.open_approvals().is_empty());
    assert!(
        plane
            .open_triggered(&Task::Deployment)
            .await
            .unwrap()
            .is_empty()
    );
    let unfinished = store.sequences(&SequenceQuery::unfinished()).await.unwrap();
    assert!(
        unfinished.is_empty(),
        "{} sequences unfinished",
        unfinished.len()
    );
    let all = store.events(&EventQuery::all()).await.unwrap();
    assert!(all.len() >= 3 * DELIVERIES, "{} events logged", all.len());

    // one page of the log reads one page, and it is the newest page
    let api = Api::new(&serve(plane.clone(), config()).await);
    store.reset();
    let (status, body) = api
        .call("GET", "/api/mongodb-datastore/event?pageSize=20", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalCount"], all.len(), "{body}");
    assert_eq!(body["nextPageKey"], "20", "{body}");
    let ids: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let newest: Vec<&str> = all.iter().rev().take(20).map(|e| e.id.as_str()).collect();
    assert_eq!(ids, newest);
    let (status, body) = api
        .call(
            "GET",
            "/api/mongodb-datastore/event?pageSize=5&nextPageKey=20&service=svc3",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let svc3 = all.iter().filter(|e| e.data["service"] == "svc3").count();
    assert_eq!(body["totalCount"], svc3, "{body}");
    assert!(body["events"].as_array().unwrap().len() <= 5, "{body}");
    let ty = "sh.keptn.event.dev.delivery.finished";
    let (status, body) = api
        .call(
            "GET",
            &format!("/api/mongodb-datastore/event/type/{ty}?filter=data.service:svc1&limit=2"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"].as_array().unwrap().len(), 2, "{body}");
    assert!(
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e: &Value| e["data"]["service"] == "svc1" && e["type"] == ty),
        "{body}"
    );
    assert_eq!(
        store.most_listed.load(Ordering::SeqCst),
        0,
        "an event page read the whole log"
    );
    assert!(store.most_paged.load(Ordering::SeqCst) <= 20);
}
