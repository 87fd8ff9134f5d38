//! Several SLI providers in one gate: each indicator comes from the provider chosen for it.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use async_trait::async_trait;
use keptn_spec::SliValue;

use crate::provider::{ProviderError, SliProvider, SliQuery};

/// The name [`MultiProvider`] reports as its own.
pub const MULTI_PROVIDER_NAME: &str = "multi";

/// An [`SliProvider`] that splits one fetch among several providers and merges the answers.
///
/// Each indicator goes to the first provider it was assigned to with
/// [`with_provider`](Self::with_provider) (for example the names of that provider's
/// `sli.yaml`), else to the [`default`](Self::with_default) provider; an indicator with
/// neither is a failed value. All providers are asked concurrently, once each, with only their
/// own indicators. A provider that fails as a whole turns only its own indicators into failed
/// values (`<provider>: <message>`); the fetch fails only when every provider asked failed.
/// Values come back in the order of the query's indicators.
///
/// Keptn could not do this: one `sliProvider` per project, stage and service.
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use keptn_slo::{MultiProvider, ProviderError, SliProvider, SliQuery};
/// use keptn_spec::SliValue;
///
/// #[derive(Debug)]
/// struct Fixed(&'static str, f64);
/// #[async_trait]
/// impl SliProvider for Fixed {
///     fn name(&self) -> &str { self.0 }
///     async fn fetch_slis(&self, q: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
///         Ok(q.indicators.iter().map(|s| SliValue::ok(s.clone(), self.1)).collect())
///     }
/// }
///
/// let gate_provider = MultiProvider::new()
///     .with_provider(Arc::new(Fixed("dynatrace", 7.0)), ["conversion_rate"])
///     .with_default(Arc::new(Fixed("prometheus", 1.0)));
/// let end = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
/// let query = SliQuery::new("sockshop".parse()?, "staging".parse()?, "carts".parse()?,
///     end - chrono::Duration::minutes(5), end,
///     vec!["response_time_p95".to_owned(), "conversion_rate".to_owned()]);
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// let values = rt.block_on(gate_provider.fetch_slis(&query))?;
/// assert_eq!(values, [SliValue::ok("response_time_p95", 1.0), SliValue::ok("conversion_rate", 7.0)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MultiProvider {
    assigned: Vec<(Arc<dyn SliProvider>, BTreeSet<String>)>,
    default: Option<Arc<dyn SliProvider>>,
}

impl MultiProvider {
    /// A composite without providers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `provider` for `indicators`.
    #[must_use]
    pub fn with_provider<I, S>(mut self, provider: Arc<dyn SliProvider>, indicators: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.assigned
            .push((provider, indicators.into_iter().map(Into::into).collect()));
        self
    }

    /// Sets the provider of every indicator not assigned to another one.
    #[must_use]
    pub fn with_default(mut self, provider: Arc<dyn SliProvider>) -> Self {
        self.default = Some(provider);
        self
    }

    /// The provider that fetches `sli`, if any.
    pub fn provider_for(&self, sli: &str) -> Option<&Arc<dyn SliProvider>> {
        self.assigned
            .iter()
            .find(|(_, names)| names.contains(sli))
            .map(|(p, _)| p)
            .or(self.default.as_ref())
    }
}

/// Polls every future to completion concurrently on the current task.
async fn join_all<F: Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match Pin::new(future).poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[async_trait]
impl SliProvider for MultiProvider {
    fn name(&self) -> &str {
        MULTI_PROVIDER_NAME
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        // group the indicators by provider (by identity), keeping first-seen order
        let mut groups: Vec<(Arc<dyn SliProvider>, Vec<String>)> = Vec::new();
        let mut unassigned = Vec::new();
        for sli in &query.indicators {
            match self.provider_for(sli) {
                Some(p) => match groups.iter_mut().find(|(q, _)| Arc::ptr_eq(q, p)) {
                    Some((_, list)) => list.push(sli.clone()),
                    None => groups.push((Arc::clone(p), vec![sli.clone()])),
                },
                None => unassigned.push(sli.clone()),
            }
        }
        let sub_queries: Vec<SliQuery> = groups
            .iter()
            .map(|(_, names)| {
                let mut q = query.clone();
                q.indicators.clone_from(names);
                q
            })
            .collect();
        let answers = join_all(
            groups
                .iter()
                .zip(&sub_queries)
                .map(|((p, _), q)| p.fetch_slis(q))
                .collect(),
        )
        .await;

        let mut values: Vec<SliValue> = Vec::new();
        let mut errors = Vec::new();
        for ((provider, names), answer) in groups.iter().zip(answers) {
            match answer {
                Ok(mut got) => {
                    for sli in names {
                        match got.iter().position(|v| &v.metric == sli) {
                            Some(i) => values.push(got.swap_remove(i)),
                            None => values.push(SliValue::failed(
                                sli.clone(),
                                format!("{}: no value for this SLI in the answer", provider.name()),
                            )),
                        }
                    }
                }
                Err(e) => {
                    for sli in names {
                        values.push(SliValue::failed(
                            sli.clone(),
                            format!("{}: {}", e.provider, e.message),
                        ));
                    }
                    errors.push(e);
                }
            }
        }
        if !groups.is_empty() && errors.len() == groups.len() {
            let transient = errors.iter().all(|e| e.transient);
            let message: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(ProviderError::new(
                MULTI_PROVIDER_NAME,
                message.join("; "),
                transient,
            ));
        }
        for sli in unassigned {
            values.push(SliValue::failed(
                sli,
                "no SLI provider is configured for this SLI",
            ));
        }
        let order = |m: &str| query.indicators.iter().position(|s| s == m);
        values.sort_by_key(|v| order(&v.metric));
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Debug)]
    struct Fake {
        name: &'static str,
        fail: bool,
        calls: AtomicUsize,
    }

    impl Fake {
        fn new(name: &'static str, fail: bool) -> Arc<Self> {
            Arc::new(Self {
                name,
                fail,
                calls: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait]
    impl SliProvider for Fake {
        fn name(&self) -> &str {
            self.name
        }
        async fn fetch_slis(&self, q: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            if self.fail {
                return Err(ProviderError::new(self.name, "unreachable", true));
            }
            Ok(q.indicators
                .iter()
                .rev()
                .map(|s| SliValue::ok(s.clone(), s.len() as f64))
                .collect())
        }
    }

    fn query(names: &[&str]) -> SliQuery {
        let end = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        SliQuery::new(
            "p".parse().unwrap(),
            "s".parse().unwrap(),
            "svc".parse().unwrap(),
            end - chrono::Duration::minutes(1),
            end,
            names.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    /// Each provider is asked once with its own indicators, concurrently (two 100 ms providers
    /// finish together under paused time), and values come back in query order.
    #[tokio::test(start_paused = true)]
    async fn splits_merges_and_keeps_order() {
        let a = Fake::new("a", false);
        let b = Fake::new("b", false);
        let m = MultiProvider::new()
            .with_provider(a.clone(), ["x", "yy"])
            .with_default(b.clone());
        let started = tokio::time::Instant::now();
        let v = m
            .fetch_slis(&query(&["zzz", "x", "wwww", "yy"]))
            .await
            .unwrap();
        assert_eq!(started.elapsed(), std::time::Duration::from_millis(100));
        let names: Vec<(&str, f64)> = v.iter().map(|v| (v.metric.as_str(), v.value)).collect();
        assert_eq!(
            names,
            [("zzz", 3.0), ("x", 1.0), ("wwww", 4.0), ("yy", 2.0)]
        );
        assert_eq!(a.calls.load(Ordering::SeqCst), 1);
        assert_eq!(b.calls.load(Ordering::SeqCst), 1);
    }

    /// A failing provider fails only its own indicators; without any provider an indicator
    /// fails; when every provider fails the fetch fails.
    #[tokio::test(start_paused = true)]
    async fn failures_stay_with_their_provider() {
        let m = MultiProvider::new()
            .with_provider(Fake::new("down", true), ["x"])
            .with_provider(Fake::new("up", false), ["y"]);
        let v = m.fetch_slis(&query(&["x", "y", "z"])).await.unwrap();
        assert!(!v[0].success);
        assert_eq!(v[0].message.as_deref(), Some("down: unreachable"));
        assert_eq!(v[1], SliValue::ok("y", 1.0));
        assert_eq!(
            v[2].message.as_deref(),
            Some("no SLI provider is configured for this SLI")
        );
        let err = m.fetch_slis(&query(&["x"])).await.unwrap_err();
        assert!(err.transient);
        assert!(err.message.contains("down"), "{err}");
    }
}
