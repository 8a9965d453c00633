//! The one progress reporter. Bars draw on a terminal only; with --json or
//! when stderr is not a terminal they are hidden and status lines go to
//! stderr once each, so logs stay readable.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;

pub struct Progress {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    visible: bool,
    last_status: Option<String>,
}

impl Progress {
    pub fn new(json: bool) -> Self {
        let visible = !json && crate::output::stderr_is_tty();
        let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        Progress { multi: MultiProgress::with_draw_target(target), bars: HashMap::new(), visible, last_status: None }
    }

    /// A byte-counting bar keyed by `key` (created on first use).
    pub fn bytes(&mut self, key: &str, label: &str, total: u64, done: u64) {
        let bar = self.bars.entry(key.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:24} [{bar:30.cyan/blue}] {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.set_message(label.to_string());
            bar
        });
        bar.set_length(total);
        bar.set_position(done);
        if total > 0 && done >= total && !bar.is_finished() {
            bar.finish();
        }
    }

    /// A counting bar keyed by `key` (created on first use), with a detail
    /// after the count that may change between calls (a rate, a model name).
    pub fn items(&mut self, key: &str, label: &str, total: u64, done: u64, detail: &str) {
        let bar = self.bars.entry(key.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("{prefix:24} [{bar:30.cyan/blue}] {pos}/{len} {msg} ETA {eta}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar
        });
        bar.set_length(total);
        bar.set_position(done.min(total));
        bar.set_message(detail.to_string());
        if total > 0 && done >= total && !bar.is_finished() {
            bar.finish();
        }
    }

    /// A status line; repeated statuses are printed once.
    pub fn status(&mut self, text: &str) {
        if self.last_status.as_deref() == Some(text) {
            return;
        }
        self.last_status = Some(text.to_string());
        if self.visible {
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    pub fn finish(&self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}
