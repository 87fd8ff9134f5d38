//! `full_tour`'s terminal: one line per Keptn event and lines of its own above progress bars.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use keptn_deploy::JsonLinesSink;
use keptn_notify::Notifier;
use keptn_spec::event::{EventSink, FanOut, KeptnEvent, MemoryEventSink};
use serde_json::Value;

/// Prints one line per Keptn event above the progress bars.
#[derive(Debug, Clone)]
pub struct PrintSink {
    /// Where lines go.
    pub out: MultiProgress,
}

impl EventSink for PrintSink {
    fn emit(&self, event: &KeptnEvent) {
        let d = &event.data;
        let field = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("");
        let mut line = format!(
            "  {} {:<46} {:<10} {:<8}",
            event.time.unwrap_or_else(Utc::now).format("%H:%M:%S%.3f"),
            event.ty.to_string(),
            field("stage"),
            field("service"),
        );
        for key in ["result", "State"] {
            if !field(key).is_empty() {
                line.push(' ');
                line.push_str(field(key));
            }
        }
        if let Some(title) = d.get("ProblemTitle").and_then(Value::as_str) {
            line.push_str(&format!(" \"{title}\""));
        }
        if self.out.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.out.println(line);
        }
    }
}

/// The terminal: lines above progress bars (or plain stderr lines without a terminal).
#[derive(Debug)]
pub struct Ui {
    /// The progress bars.
    pub out: MultiProgress,
}

impl Ui {
    /// Progress bars when `progress` and stderr is a terminal.
    pub fn new(progress: bool) -> Self {
        let target = if progress && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            out: MultiProgress::with_draw_target(target),
        }
    }

    /// Prints a line.
    pub fn say(&self, line: impl AsRef<str>) {
        if self.out.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            let _ = self.out.println(line.as_ref());
        }
    }

    /// Adds a progress bar with `template`.
    pub fn bar(&self, template: &str) -> ProgressBar {
        let bar = self.out.add(ProgressBar::new(0));
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }
}

/// Where the tour's events go besides the control plane: counted in memory, one line each on
/// the terminal, JSON lines (`--events`) and webhooks (`--notify`) on request.
#[derive(Debug)]
pub struct EventOutputs {
    /// Every event, for the count.
    pub memory: MemoryEventSink,
    /// The `--events` file.
    pub jsonl: Option<Arc<JsonLinesSink>>,
    /// The `--notify` webhooks (and Slack/Teams from the environment).
    pub notifier: Option<Notifier>,
}

impl EventOutputs {
    /// Opens the outputs (an existing `events` file is replaced); returns them with the sink
    /// that fans out to all of them.
    ///
    /// # Errors
    /// The events file cannot be replaced or created, or the notifications are misconfigured.
    pub fn open(
        ui: &Ui,
        events: Option<&Path>,
        notify: Option<&Path>,
    ) -> anyhow::Result<(Self, FanOut)> {
        let memory = MemoryEventSink::new();
        let mut fan = FanOut::new().with(memory.clone()).with(PrintSink {
            out: ui.out.clone(),
        });
        let mut jsonl = None;
        if let Some(path) = events {
            if path.exists() {
                std::fs::remove_file(path)
                    .with_context(|| format!("cannot replace {}", path.display()))?;
            }
            let sink = Arc::new(JsonLinesSink::append(path)?);
            fan.push(sink.clone());
            jsonl = Some(sink);
        }
        let notifier =
            keptn_notify::from_env_and_file(notify).context("cannot set up notifications")?;
        if let Some(n) = &notifier {
            fan.push(Arc::new(n.clone()));
        }
        let outputs = Self {
            memory,
            jsonl,
            notifier,
        };
        Ok((outputs, fan))
    }

    /// Delivers what the notifier still holds and says what did not reach the outputs.
    pub async fn finish(&self, ui: &Ui) {
        if let Some(n) = &self.notifier {
            if let Err(e) = n.shutdown(Duration::from_secs(30)).await {
                ui.say(format!(
                    "warning: notifications were not all delivered: {e}"
                ));
            }
            ui.say(format!("notifications: {}", n.stats()));
        }
        if let Some(sink) = &self.jsonl
            && let Some(e) = sink.error()
        {
            ui.say(format!("warning: the events file is incomplete: {e}"));
        }
    }
}
