//! The environment settings (`NOTIFY_DENY`, `NOTIFY_ALLOW`, `NOTIFY_ALLOW_INTERNAL_ADDRESSES`,
//! `HTTP_PROXY`) as `from_env_and_file` reads them. Setting variables in a running test process
//! needs `unsafe` (edition 2024) and races other tests, so each case re-runs this test binary
//! as a child process with the variables set and only [`child_case`] selected; the child
//! asserts, the parent checks it passed (and what reached a receiver it owns).

// shared with delivery.rs, which uses the rest of it
#[allow(dead_code)]
mod support;

use std::process::Command;
use std::time::Duration;

use support::Receiver;

/// The variable that makes [`child_case`] run, naming the case.
const CASE: &str = "KEPTN_NOTIFY_ENV_CASE";

/// Variables the parent's environment must not leak into a child.
const CLEARED: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "NOTIFY_DENY",
    "NOTIFY_ALLOW",
    "NOTIFY_ALLOW_INTERNAL_ADDRESSES",
    "SLACK_WEBHOOK_URL",
    "TEAMS_WEBHOOK_URL",
    "TEAMS_WEBHOOK_FORMAT",
    "KEPTN_REPORT_URL",
    "KUBERNETES_SERVICE_HOST",
];

/// Runs [`child_case`] in a child process with `case` and `env`; panics with its output when
/// it did not pass.
fn run_child(case: &str, env: &[(&str, String)]) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["child_case", "--exact", "--nocapture", "--test-threads=1"]);
    for v in CLEARED {
        cmd.env_remove(v);
    }
    cmd.env(CASE, case);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child case {case} failed:\n{stdout}\n{stderr}"
    );
}

/// The child's side: does nothing unless [`CASE`] is set (by [`run_child`]).
#[tokio::test]
async fn child_case() {
    let Ok(case) = std::env::var(CASE) else {
        return;
    };
    let notifier = match keptn_notify::from_env_and_file(None) {
        Ok(n) => n,
        Err(e) => {
            assert_eq!(case, "invalid", "{e}");
            assert!(e.to_string().contains("NOTIFY_DENY"), "{e}");
            return;
        }
    };
    let notifier = notifier.expect("SLACK_WEBHOOK_URL is set");
    notifier.emit_value(serde_json::json!({
        "specversion": "1.0", "id": "1", "source": "test", "shkeptncontext": "c",
        "type": "sh.keptn.event.evaluation.finished",
        "data": { "project": "sockshop", "stage": "staging", "service": "carts", "result": "pass" }
    }));
    notifier.flush(Duration::from_secs(20)).await.unwrap();
    let stats = notifier.stats();
    let error = stats.target("slack").unwrap().last_error.clone();
    match case.as_str() {
        "delivered" => assert_eq!(stats.delivered(), 1, "{error:?}"),
        "denied" => assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("matches the deny rule `127.0.0.0/8`")),
            "{error:?}"
        ),
        "proxy-refused" => {
            assert_eq!(stats.delivered(), 0);
            assert!(
                error.as_deref().is_some_and(
                    |e| e.contains("the proxy of HTTP_PROXY: 127.0.0.1 is a loopback address")
                ),
                "{error:?}"
            );
        }
        other => panic!("unknown case {other}: {error:?}"),
    }
}

#[tokio::test]
async fn notify_allow_from_the_environment_lets_one_loopback_receiver_through() {
    let rx = Receiver::start().await;
    let url = rx.url("/services/T0/B0/ALLOWED");
    tokio::task::spawn_blocking(move || {
        run_child(
            "delivered",
            &[
                ("SLACK_WEBHOOK_URL", url),
                ("NOTIFY_ALLOW", "127.0.0.1/32".to_owned()),
            ],
        );
    })
    .await
    .unwrap();
    assert_eq!(rx.recorded().len(), 1);
}

#[tokio::test]
async fn notify_deny_from_the_environment_wins_over_allowing_internal_addresses() {
    let rx = Receiver::start().await;
    let url = rx.url("/services/T0/B0/DENIED");
    tokio::task::spawn_blocking(move || {
        run_child(
            "denied",
            &[
                ("SLACK_WEBHOOK_URL", url),
                ("NOTIFY_ALLOW_INTERNAL_ADDRESSES", "true".to_owned()),
                ("NOTIFY_DENY", "127.0.0.0/8".to_owned()),
            ],
        );
    })
    .await
    .unwrap();
    assert!(rx.recorded().is_empty());
}

#[test]
fn an_invalid_notify_deny_is_an_error_naming_the_variable() {
    run_child(
        "invalid",
        &[
            (
                "SLACK_WEBHOOK_URL",
                "https://hooks.example.com/x".to_owned(),
            ),
            ("NOTIFY_DENY", "10.0.0.0/99".to_owned()),
        ],
    );
}

/// A proxy on a loopback address is refused like a loopback target: nothing reaches it.
#[tokio::test]
async fn a_proxy_on_a_refused_address_is_refused() {
    let proxy = Receiver::start().await;
    let proxy_url = proxy.url("");
    tokio::task::spawn_blocking(move || {
        run_child(
            "proxy-refused",
            &[
                (
                    "SLACK_WEBHOOK_URL",
                    "http://hooks.example.com/services/T0/B0/SECRET".to_owned(),
                ),
                ("HTTP_PROXY", proxy_url),
            ],
        );
    })
    .await
    .unwrap();
    assert!(proxy.recorded().is_empty(), "the refused proxy was used");
}

/// The same proxy with an allow rule for it is used: the request reaches it.
#[tokio::test]
async fn a_proxy_with_an_allow_rule_is_used() {
    let proxy = Receiver::start().await;
    let proxy_url = proxy.url("");
    tokio::task::spawn_blocking(move || {
        run_child(
            "delivered",
            &[
                (
                    "SLACK_WEBHOOK_URL",
                    "http://hooks.example.com/services/T0/B0/SECRET".to_owned(),
                ),
                ("HTTP_PROXY", proxy_url),
                ("NOTIFY_ALLOW", "127.0.0.1/32".to_owned()),
            ],
        );
    })
    .await
    .unwrap();
    let seen = proxy.recorded();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].path.ends_with("/services/T0/B0/SECRET"),
        "{}",
        seen[0].path
    );
}
