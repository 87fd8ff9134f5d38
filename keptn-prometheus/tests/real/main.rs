//! keptn-prometheus against the real Prometheus and Alertmanager that `scripts/prometheus.sh up`
//! starts (tests skip with a message when its variables are not set), plus small local servers
//! for what a real server cannot show on demand (a proxy demanding credentials, a server that
//! never answers).

mod alerts;
mod mixed;
mod retry;
mod sli;
mod support;
