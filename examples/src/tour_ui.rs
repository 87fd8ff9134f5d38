//! `full_tour`'s terminal: one line per Keptn event and lines of its own above progress bars.

use std::io::IsTerminal;

use chrono::Utc;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use keptn_spec::event::{EventSink, KeptnEvent};
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
