//! `full_tour --kube` from the outside, where no cluster is needed: invalid `--kube-url` /
//! `--kube-url-for` values are input errors (exit 2, saying what is wrong), and a KUBECONFIG
//! that leads nowhere is a clear exit 1 before anything is deployed. The run against a real
//! kube-apiserver is `scripts/full-tour-kube-smoke.sh` (test-all.sh starts the server).

use std::path::PathBuf;
use std::process::{Command, Output};

fn full_tour_binary() -> PathBuf {
    let cargo = env!("CARGO");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-p", "keptn-examples", "--example", "full_tour"])
        .status()
        .expect("cannot run cargo to build the full_tour example");
    assert!(status.success(), "building full_tour failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let exe = target.join("debug").join("examples").join("full_tour");
    assert!(exe.exists(), "{} missing after the build", exe.display());
    exe
}

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
