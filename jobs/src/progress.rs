//! Progress of long maintenance steps (rollup, compaction): a bar (indicatif) when stderr is a
//! terminal, plain log lines otherwise (at most one per tenth of the work, and the end).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::info;

/// One step's progress.
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    total: u64,
    done: u64,
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// Start a step of `total` units.
    pub fn new(label: &'static str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .expect("valid template")
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label);
            bar
        });
        Progress { label, total, done: 0, bar, started: Instant::now() }
    }

    /// One more unit done; `what` names it.
    pub fn inc(&mut self, what: &str) {
        self.done += 1;
        match &self.bar {
            Some(bar) => {
                bar.set_message(what.to_string());
                bar.inc(1);
            }
            None => {
                let tenth = |n: u64| n * 10 / self.total.max(1);
                if tenth(self.done) != tenth(self.done - 1) && self.done < self.total {
                    info!(step = self.label, done = self.done, total = self.total, last = what, "progress");
                }
            }
        }
    }

    /// The step is over.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        info!(step = self.label, done = self.done, seconds = self.started.elapsed().as_secs_f64(), "done");
    }
}
