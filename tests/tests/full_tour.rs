//! Runs the `full_tour` example (shortened: 3 s performance tests) as a user would, and checks
//! the outcome from its `--summary` and `--events` files: 0.11.2's staging evaluation fails on
//! response_time_p95 (≥ 600 ms), production serves 0.11.1 then 0.11.3, the promotion problem is
//! remediated by turning EnablePromotion off, and no service process outlives the tour.
//!
//! Everything is real and local (processes, proxies, HTTP, the flag store); nothing is faked.
//! The example is built first with the same cargo and profile as this test.

mod common;

use std::process::Command;

use common::{children_of, full_tour_binary};
use keptn_spec::event::KeptnEvent;
use serde_json::Value;

fn stage<'a>(summary: &'a Value, service: &str, version: &str, stage: &str) -> &'a Value {
    let artifact = summary["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["service"] == service && a["version"] == version)
        .unwrap_or_else(|| panic!("{service} {version} missing in the summary"));
    &artifact["stages"][stage]
}

/// The seed's story, end to end, from the outside.
#[test]
fn full_tour_plays_the_seed_story() {
    let exe = full_tour_binary();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let summary = dir.path().join("summary.json");
    // The embedded defaults: variables that point the tour at real backends (test-all.sh starts
    // a real Unleash for keptn-remediate's tests) are removed.
    let tour = Command::new(&exe)
        .env_remove("UNLEASH_URL")
        .env_remove("UNLEASH_TOKEN")
        .env_remove("UNLEASH_CLIENT_TOKEN")
        .env_remove("DT_TENANT")
        .env_remove("DT_API_TOKEN")
        .args(["--test-duration", "3", "--no-progress", "--events"])
        .arg(&events)
        .arg("--summary")
        .arg(&summary)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot run full_tour");
    let tour_pid = tour.id();
    let out = tour.wait_with_output().expect("cannot run full_tour");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "full_tour exited with {}:\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("tour completed as the seed says"),
        "{stderr}"
    );

    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["ok"], true);

    // 0.11.1 reaches production.
    assert_eq!(
        stage(&s, "carts", "0.11.1", "production")["servingAfter"],
        "0.11.1"
    );
    assert_eq!(
        stage(&s, "carts", "0.11.1", "staging")["evaluation"]["result"],
        "pass"
    );

    // 0.11.2 fails the gate on response_time_p95, is rolled back, production keeps 0.11.1.
    let slow = stage(&s, "carts", "0.11.2", "staging");
    assert_eq!(slow["evaluation"]["result"], "fail");
    let p95 = slow["evaluation"]["response_time_p95"].as_f64().unwrap();
    assert!(p95 >= 600.0, "0.11.2's p95 is {p95} ms");
    assert_eq!(slow["rolledBack"], true);
    assert_eq!(slow["servingAfter"], "0.11.1");
    assert_eq!(
        stage(&s, "carts", "0.11.2", "production")["servingAfter"],
        "0.11.1"
    );
    assert_eq!(
        stage(&s, "carts", "0.11.2", "production")["result"],
        "not run"
    );

    // 0.11.3 is promoted.
    assert_eq!(
        stage(&s, "carts", "0.11.3", "staging")["evaluation"]["result"],
        "pass"
    );
    assert_eq!(
        stage(&s, "carts", "0.11.3", "production")["servingAfter"],
        "0.11.3"
    );

    // The promotion problem is remediated by turning EnablePromotion off.
    let problems = s["problems"].as_array().unwrap();
    let p = problems
        .iter()
        .find(|p| p["title"] == "Failure rate increase")
        .expect("no Failure rate increase problem");
    assert_eq!(p["outcome"], "resolved");
    assert!(p["resolvedAt"].is_string());
    let action = &p["actions"][0];
    assert_eq!(action["status"], "succeeded");
    assert_eq!(action["changes"][0]["after"], "off");
    assert!(
        action["changes"][0]["target"]
            .as_str()
            .unwrap()
            .ends_with("EnablePromotion")
    );

    // The events tell the same story.
    let lines = std::fs::read_to_string(&events).unwrap();
    let events: Vec<KeptnEvent> = lines
        .lines()
        .map(|l| KeptnEvent::from_json_str(l).unwrap())
        .collect();
    let types: Vec<String> = events.iter().map(|e| e.ty.to_string()).collect();
    let failed_evaluation = events.iter().any(|e| {
        e.ty.to_string() == "sh.keptn.event.evaluation.finished"
            && e.data["stage"] == "staging"
            && e.data["result"] == "fail"
    });
    assert!(
        failed_evaluation,
        "no failed staging evaluation among {types:?}"
    );
    assert!(
        types
            .iter()
            .any(|t| t == "sh.keptn.event.rollback.finished")
    );
    let open = events
        .iter()
        .find(|e| e.ty.to_string() == "sh.keptn.event.problem.open")
        .expect("no problem.open event");
    assert_eq!(open.data["ProblemTitle"], "Failure rate increase");
    let closed = events
        .iter()
        .find(|e| e.ty.to_string() == "sh.keptn.events.problem" && e.data["State"] == "CLOSED")
        .expect("no problem CLOSED event");
    assert_eq!(open.shkeptncontext, closed.shkeptncontext);
    assert!(
        events
            .iter()
            .any(|e| e.ty.to_string() == "sh.keptn.event.action.finished"
                && e.shkeptncontext == open.shkeptncontext),
        "no action.finished in the problem's context: {types:?}"
    );

    // No service process outlives the tour.
    let leaked = children_of(tour_pid);
    assert!(leaked.is_empty(), "leaked processes: {leaked:?}");
}

/// Whether `pid` is a live process (a zombie waiting to be reaped counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name in parentheses: `pid (comm) S ...`.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// A carts service whose supervisor dies by SIGKILL (no Ctrl-C handler, no `kill_on_drop`)
/// notices through `KEPTN_SUPERVISOR_PID` that it was orphaned, and stops by itself.
#[test]
fn carts_stops_when_its_supervisor_is_killed() {
    let exe = full_tour_binary();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A shell plays the supervisor: it starts carts with its own pid in the variable, prints
    // carts' pid and waits.
    let mut shell = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "KEPTN_SUPERVISOR_PID=$$ '{}' carts-service --port {port} --version 0.11.1 & echo $!; wait",
            exe.display()
        ))
        .env_remove("UNLEASH_URL")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(shell.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let carts: u32 = line.trim().parse().unwrap();
    // Up and serving first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "carts never listened on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(alive(carts));

    shell.kill().unwrap(); // SIGKILL
    let _ = shell.wait();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive(carts) {
        if std::time::Instant::now() > deadline {
            let _ = Command::new("kill").arg(carts.to_string()).status();
            panic!("carts {carts} outlived its killed supervisor by 5 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
