//! [`NotifierBuilder`]: targets, limits, retries and the address policy of a [`Notifier`].

use super::*;

/// Builds a [`Notifier`].
///
/// ```no_run
/// use std::time::Duration;
/// use keptn_notify::{Notifier, Target};
/// use secrecy::SecretString;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let notifier = Notifier::builder()
///     .target(Target::slack(SecretString::from(std::env::var("SLACK_WEBHOOK_URL")?))?)
///     .timeout(Duration::from_secs(5))
///     .max_attempts(3)
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct NotifierBuilder {
    targets: Vec<Target>,
    queue_capacity: usize,
    policy: Policy,
    report_link: Option<Template>,
    client: Option<reqwest::Client>,
    addresses: AddressPolicy,
    /// How the default client resolves names (tests answer themselves).
    pub(crate) lookup: Option<Lookup>,
}

impl fmt::Debug for NotifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifierBuilder")
            .field("targets", &self.targets)
            .field("queue_capacity", &self.queue_capacity)
            .field("policy", &self.policy)
            .field("report_link", &self.report_link)
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    pub(super) timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) retry: RetryPolicy,
}

impl Default for NotifierBuilder {
    fn default() -> Self {
        NotifierBuilder {
            targets: Vec::new(),
            queue_capacity: 1024,
            policy: Policy {
                timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(5),
                retry: RetryPolicy::default(),
            },
            report_link: None,
            client: None,
            addresses: AddressPolicy::default(),
            lookup: None,
        }
    }
}

impl NotifierBuilder {
    /// Adds a target.
    pub fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    /// Adds several targets.
    pub fn targets(mut self, targets: impl IntoIterator<Item = Target>) -> Self {
        self.targets.extend(targets);
        self
    }

    /// Events each target's queue holds before new ones are dropped (default 1024, at least 1).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Time allowed for one attempt, from connecting to reading the answer (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.policy.timeout = timeout;
        self
    }

    /// Time allowed to connect (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.policy.connect_timeout = timeout;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]: 4 attempts, as Keptn's event
    /// sender). Notifications are delivered at least once, so every request counts as
    /// repeatable: connection errors, timeouts, 408, 429 and 5xx are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.policy.retry = retry;
        self
    }

    /// Attempts per request, the first included (at least 1); shorthand for changing
    /// [`RetryPolicy::max_attempts`] of [`retry`](Self::retry).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.policy.retry.max_attempts = attempts.max(1);
        self
    }

    /// A link to a report added to every chat message, a template over the event such as
    /// `https://bridge.example.com/project/{{.data.project}}/sequence/{{.shkeptncontext}}`.
    pub fn report_link(mut self, link: Template) -> Self {
        self.report_link = Some(link);
        self
    }

    /// The HTTP client to use (proxies, custom TLS); per-attempt timeouts still apply.
    ///
    /// **Weaker address guarantee**: this client resolves host names itself, so the notifier
    /// checks a target's addresses by its own lookup just before each request
    /// (check-then-connect) and cannot see a different answer to the client's lookup (DNS
    /// rebinding). The notifier's own client connects to exactly the addresses it checked.
    /// See the [crate documentation](crate#where-notifications-may-go).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Lets requests go to loopback, link-local and cluster-internal hosts, which are refused
    /// by default (see the [crate documentation](crate#where-notifications-may-go)): for
    /// tests, local tours and receivers on the same machine.
    pub fn allow_internal_addresses(mut self) -> Self {
        self.addresses.allow_internal = true;
        self
    }

    /// Refuses requests to hosts or addresses matching `rule` as well (checked on the host as
    /// written and on every address it resolves to). Deny rules win over allow rules and over
    /// [`allow_internal_addresses`](Self::allow_internal_addresses).
    pub fn deny(mut self, rule: AddressRule) -> Self {
        self.addresses.deny.push(rule);
        self
    }

    /// Lets requests to hosts or addresses matching `rule` through the fixed deny list (a
    /// receiver on `127.0.0.1/32`, an intranet name under `*.svc`), without allowing every
    /// internal address. A host name rule also allows the addresses that name resolves to.
    pub fn allow(mut self, rule: AddressRule) -> Self {
        self.addresses.allow.push(rule);
        self
    }

    /// Starts one worker task per target on the current Tokio runtime.
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a Tokio runtime; [`Error::HttpClient`] when the default
    /// HTTP client cannot be built.
    pub fn build(self) -> Result<Notifier> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let addresses = Arc::new(self.addresses);
        let proxies = Arc::new(guard::proxy_urls());
        // the notifier's own client resolves through the guard: it connects to exactly the
        // addresses that were checked; another client is checked by a lookup before each request
        let (client, prelookup) = match self.client {
            Some(c) => (c, true),
            None => {
                let mut builder =
                    reqwest::Client::builder().connect_timeout(self.policy.connect_timeout);
                if !addresses.is_open() {
                    builder = builder.dns_resolver(Arc::new(GuardedResolver {
                        policy: Arc::clone(&addresses),
                        lookup: self.lookup.unwrap_or_else(guard::system_lookup),
                    }));
                }
                (
                    builder.build().map_err(Error::HttpClient)?,
                    !proxies.is_empty(),
                )
            }
        };
        let report_link = self.report_link.map(Arc::new);
        let mut lanes = Vec::new();
        let mut workers = Vec::new();
        for target in self.targets {
            let (tx, rx) = mpsc::channel(self.queue_capacity);
            let target = Arc::new(target);
            let shared = Arc::new(LaneShared::default());
            let worker = Worker {
                target: Arc::clone(&target),
                shared: Arc::clone(&shared),
                client: client.clone(),
                policy: self.policy,
                report_link: report_link.clone(),
                addresses: Arc::clone(&addresses),
                prelookup,
                proxies: Arc::clone(&proxies),
            };
            workers.push(runtime.spawn(worker.run(rx)));
            lanes.push(Lane { target, tx, shared });
        }
        Ok(Notifier {
            inner: Arc::new(Inner {
                lanes,
                correlator: Mutex::new(Correlator::default()),
                closed: AtomicBool::new(false),
                workers: Mutex::new(workers),
            }),
        })
    }
}
