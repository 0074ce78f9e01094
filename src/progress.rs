/*!
Progress on long interactive work (`scan --from-start` over years of compressed logs, a big
`import`, `sync` of many addresses): drawn on stderr only when stderr is a terminal, so
cron mails, pipes, systemd's journal and `--connect` never see it.
*/

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress display, or nothing at all (not a terminal, or not asked for).
pub struct Progress(Option<ProgressBar>);

/// Update the display every this many lines (the bar redraws at most a few times a second
/// anyway; this keeps the per-line cost to a counter).
const LINES_PER_TICK: u64 = 8192;

impl Progress {
    /// Shows nothing.
    pub fn none() -> Progress {
        Progress(None)
    }

    /// Whether a display would be seen: stderr is a terminal.
    pub fn wanted() -> bool {
        std::io::stderr().is_terminal()
    }

    /// A running count of lines read, with the current source as message.
    pub fn lines(enabled: bool) -> Progress {
        Progress::make(enabled, || {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {human_pos} lines read in {elapsed} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        })
    }

    /// A bar over `steps` named steps (the database, then each deny list).
    pub fn steps(enabled: bool, steps: u64) -> Progress {
        Progress::make(enabled, || {
            let bar = ProgressBar::new(steps);
            bar.set_style(
                ProgressStyle::with_template("[{bar:30}] {pos}/{len} {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        })
    }

    fn make(enabled: bool, build: impl FnOnce() -> ProgressBar) -> Progress {
        if !enabled {
            return Progress(None);
        }
        let bar = build();
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(bar))
    }

    /// Names what is being done now.
    pub fn say(&self, message: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.into());
        }
    }

    /// One more line read; the display is updated every few thousand.
    pub fn line(&self, lines_so_far: u64) {
        if let Some(bar) = &self.0
            && lines_so_far.is_multiple_of(LINES_PER_TICK)
        {
            bar.set_position(lines_so_far);
        }
    }

    /// One step done.
    pub fn step(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    /// Removes the display, leaving the terminal for the command's own report.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
