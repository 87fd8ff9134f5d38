//! A CI gate on keptn-slo: `gate SLO_YAML SLI_JSON HISTORY_DIR` evaluates the build's SLIs
//! against the SLO and the previous builds, prints the table (with why), exits 1 unless it passed.
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use keptn_slo::{FileHistory, FileSliProvider, QualityGate, SliQuery, Slo, Verdict, render};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [slo, sli, history] = args.as_slice() else {
        return Err("usage: gate SLO_YAML SLI_JSON HISTORY_DIR".into());
    };
    let slo = Slo::from_yaml_str(&std::fs::read_to_string(slo)?)?;
    let provider = Arc::new(FileSliProvider::new(sli));
    let gate = QualityGate::new(provider, Arc::new(FileHistory::new(history)));
    let (project, stage, service) = ("sockshop".parse()?, "staging".parse()?, "carts".parse()?);
    let query = SliQuery::ending_at(
        project,
        stage,
        service,
        SystemTime::now(),
        Duration::from_secs(600),
    );
    let id = format!("ci-{}", query.end.timestamp_millis());
    let evaluation = gate
        .evaluate(Some(&slo), &query, &(&query).into(), id)
        .await?;
    print!("{}", render::table(&evaluation, &slo));
    match evaluation.failed_on() {
        Some(on) => println!("{} (failed on the {on})", evaluation.verdict()),
        None => println!("{}", evaluation.verdict()),
    }
    Ok(if evaluation.verdict() == Verdict::Fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
