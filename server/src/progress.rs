//! Progress of a running plan: a bar on a terminal, one plain line per action otherwise (cron
//! mail, pipes), nothing in JSON mode (the final document says it all).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use partitioning::pg::executor::{ActionResult, Outcome, ProgressEvent};

pub enum Reporter {
    Bar(ProgressBar),
    Lines,
    Quiet,
}

impl Reporter {
    /// A bar when stdout is a terminal and the output is text.
    pub fn new(total: usize, json: bool) -> Reporter {
        if json {
            return Reporter::Quiet;
        }
        if !std::io::stdout().is_terminal() {
            return Reporter::Lines;
        }
        let bar = ProgressBar::new(total as u64);
        let style = ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Reporter::Bar(bar)
    }

    pub fn event(&self, event: ProgressEvent<'_>) {
        match (self, event) {
            (Reporter::Bar(bar), ProgressEvent::Started { action, .. }) => {
                bar.set_message(format!(
                    "{} {}",
                    action.kind.verb(),
                    action.kind.partition_name()
                ));
            }
            (Reporter::Bar(bar), ProgressEvent::Finished { result, .. }) => {
                bar.inc(1);
                // Only what needs a look is kept above the bar; the summary lists the rest.
                if !matches!(result.outcome, Outcome::Done | Outcome::AlreadyDone) {
                    bar.println(line(result));
                }
            }
            (Reporter::Lines, ProgressEvent::Finished { result, .. }) => {
                println!("{}", line(result))
            }
            _ => {}
        }
    }

    pub fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// `ok       create           sessions_2025_11_30  (12 ms)`.
pub fn line(r: &ActionResult) -> String {
    let (word, detail) = match &r.outcome {
        Outcome::Done => ("ok", String::new()),
        Outcome::AlreadyDone => ("done", " (already done)".to_string()),
        Outcome::Skipped(why) => ("skipped", format!(": {why}")),
        Outcome::Busy(why) => ("busy", format!(": {why}")),
        Outcome::Failed(why) => ("FAILED", format!(": {why}")),
    };
    format!(
        "{word:<8} {:<16} {:<28} {:>6} ms{detail}",
        r.action, r.partition, r.elapsed_ms
    )
}
