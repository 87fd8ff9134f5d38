//! `full_tour --kube` from the outside, where no cluster is needed: invalid `--kube-url` /
//! `--kube-url-for` values are input errors (exit 2, saying what is wrong), and a KUBECONFIG
//! that leads nowhere is a clear exit 1 before anything is deployed. The run against a real
//! kube-apiserver is `scripts/full-tour-kube-smoke.sh` (test-all.sh starts the server).
//!
//! Also Ctrl-C with the embedded defaults (the interrupt path `--kube` shares): the running
//! delivery is aborted and every service process stops.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{children_of, full_tour_binary};

fn run(exe: &PathBuf, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    Command::new(exe)
        .env_remove("UNLEASH_URL")
        .env_remove("UNLEASH_TOKEN")
        .env_remove("UNLEASH_CLIENT_TOKEN")
        .env_remove("DT_TENANT")
        .env_remove("DT_API_TOKEN")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env("KUBECONFIG", kubeconfig)
        .arg("--no-progress")
        .args(args)
        .output()
        .expect("cannot run full_tour")
}

/// Bad templates and overrides exit 2 with the reason; a KUBECONFIG without a cluster exits 1
/// and says so, without deploying anything.
#[test]
fn kube_input_errors_and_missing_cluster() {
    let exe = full_tour_binary();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-kubeconfig");
    for (args, needle) in [
        (
            vec!["--kube", "--kube-url", "http://{svc}.{namespace}"],
            "unknown placeholder `{svc}`",
        ),
        (
            vec!["--kube", "--kube-url", "carts.sockshop-dev:80"],
            "must start with http:// or https://",
        ),
        (
            vec!["--kube", "--kube-url-for", "carts=http://127.0.0.1:8080"],
            "expected NAME.NAMESPACE=URL",
        ),
    ] {
        let out = run(&exe, &missing, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }

    let summary = dir.path().join("summary.json");
    let out = run(
        &exe,
        &missing,
        &["--kube", "--summary", summary.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the cluster of the current KUBECONFIG context"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("new-artifact"),
        "it started delivering: {stderr}"
    );
    assert!(!summary.exists(), "no outcome to summarize");
}

/// Ctrl-C in the middle of a delivery (embedded defaults): the running delivery is aborted, the
/// tour exits 130 within seconds and every service process it started is gone.
#[test]
fn interrupt_stops_the_delivery_and_every_process() {
    let exe = full_tour_binary();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let mut child = Command::new(&exe)
        .env_remove("UNLEASH_URL")
        .env_remove("UNLEASH_TOKEN")
        .env_remove("UNLEASH_CLIENT_TOKEN")
        .env_remove("DT_TENANT")
        .env_remove("DT_API_TOKEN")
        .args(["--no-progress", "--test-duration", "60", "--events"])
        .arg(&events)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot start full_tour");
    let pid = child.id();
    // wait until carts' staging performance test runs (a long one: --test-duration 60)
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        if text.lines().any(|l| {
            l.contains("\"type\":\"sh.keptn.event.test.started\"")
                && l.contains("\"stage\":\"staging\"")
                && l.contains("\"service\":\"carts\"")
        }) {
            break;
        }
        if started.elapsed() > std::time::Duration::from_secs(90)
            || child.try_wait().unwrap().is_some()
        {
            let _ = child.kill();
            panic!("the staging test of carts never started");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!children_of(pid).is_empty(), "no service processes to stop");
    let interrupted = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        interrupted.elapsed() < std::time::Duration::from_secs(30),
        "the tour took {:?} to stop",
        interrupted.elapsed()
    );
    assert!(
        stderr.contains("every started process was stopped"),
        "{stderr}"
    );
    let left = children_of(pid);
    assert!(left.is_empty(), "processes outlived the tour: {left:?}");
    let text = std::fs::read_to_string(&events).unwrap();
    assert!(
        text.lines().any(|l| l.contains("aborted")),
        "no aborted task or sequence in the events"
    );
}
