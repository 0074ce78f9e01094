/*!
Progress on long interactive work (`scan --from-start` over years of compressed logs, a big
`import`, `sync` of many addresses): drawn on stderr only when stderr is a terminal, so
cron mails, pipes, systemd's journal and `--connect` never see it.

One status line, redrawn in place (`\r`, then the terminal's "erase line") at most five
times a second and whenever its message changes; the line is kept under 80 columns so that
it never wraps, which would leave a trail of half-erased lines.
*/

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// A progress display, or nothing at all (not a terminal, or not asked for).
pub struct Progress(Option<RefCell<Status>>);

/// Update the display every this many lines (the line redraws at most a few times a second
/// anyway; this keeps the per-line cost to a counter).
const LINES_PER_TICK: u64 = 8192;

/// The shortest time between two redraws that only move a count.
const REDRAW_EVERY: Duration = Duration::from_millis(200);

/// What fits on an 80-column terminal after the count and the time.
const MESSAGE_CHARS: usize = 44;

struct Status {
    kind: Kind,
    started: Instant,
    drawn: Option<Instant>,
    position: u64,
    message: String,
}

enum Kind {
    /// A running count of lines read.
    Lines,
    /// A bar over this many steps.
    Steps(u64),
}

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
        Progress::make(enabled, Kind::Lines)
    }

    /// A bar over `steps` named steps (the database, then each deny list).
    pub fn steps(enabled: bool, steps: u64) -> Progress {
        Progress::make(enabled, Kind::Steps(steps))
    }

    fn make(enabled: bool, kind: Kind) -> Progress {
        if !enabled {
            return Progress(None);
        }
        Progress(Some(RefCell::new(Status {
            kind,
            started: Instant::now(),
            drawn: None,
            position: 0,
            message: String::new(),
        })))
    }

    /// Names what is being done now.
    pub fn say(&self, message: impl Into<String>) {
        self.update(|status| {
            status.message = message.into();
            true
        });
    }

    /// One more line read; the display is updated every few thousand.
    pub fn line(&self, lines_so_far: u64) {
        if lines_so_far.is_multiple_of(LINES_PER_TICK) {
            self.update(|status| {
                status.position = lines_so_far;
                false
            });
        }
    }

    /// One step done.
    pub fn step(&self) {
        self.update(|status| {
            status.position += 1;
            true
        });
    }

    /// Removes the display, leaving the terminal for the command's own report.
    pub fn finish(&self) {
        if let Some(status) = &self.0
            && status.borrow_mut().drawn.take().is_some()
        {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }

    /// Applies a change and redraws: at once when `change` says it matters, otherwise
    /// once the last redraw is old enough.
    fn update(&self, change: impl FnOnce(&mut Status) -> bool) {
        let Some(status) = &self.0 else { return };
        let mut status = status.borrow_mut();
        let now = Instant::now();
        let urgent = change(&mut status);
        if !urgent && status.drawn.is_some_and(|at| now - at < REDRAW_EVERY) {
            return;
        }
        status.drawn = Some(now);
        let line = status.render(now - status.started);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }
}

impl Status {
    /// `1,234,567 lines read in 12s  /var/log/auth.log` or `[=====>    ] 2/4 3s  nftables`.
    fn render(&self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs();
        let counted = match self.kind {
            Kind::Lines => format!("{} lines read in {secs}s", grouped(self.position)),
            Kind::Steps(total) => {
                const WIDTH: u64 = 20;
                let done = (self.position.min(total) * WIDTH)
                    .checked_div(total)
                    .unwrap_or(WIDTH);
                let mut bar = "=".repeat(done as usize);
                if done < WIDTH {
                    bar.push('>');
                    bar.push_str(&" ".repeat((WIDTH - done - 1) as usize));
                }
                format!("[{bar}] {}/{total} {secs}s", self.position)
            }
        };
        format!("{counted}  {}", tail(&self.message, MESSAGE_CHARS))
    }
}

/// `1234567` → `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The last `max` characters of `text`, led by `…` when cut: a path's file name is its most
/// telling part. Control characters become `?` so that a file name cannot move the cursor.
fn tail(text: &str, max: usize) -> String {
    let chars: Vec<char> = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if chars.len() <= max {
        return chars.into_iter().collect();
    }
    let mut out = String::from("…");
    out.extend(&chars[chars.len() - (max - 1)..]);
    out
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(kind: Kind, position: u64, message: &str) -> Status {
        Status {
            kind,
            started: Instant::now(),
            drawn: None,
            position,
            message: message.into(),
        }
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn a_line_count_names_its_source() {
        let shown = status(Kind::Lines, 16384, "/var/log/auth.log").render(Duration::from_secs(3));
        assert_eq!(shown, "16,384 lines read in 3s  /var/log/auth.log");
    }

    #[test]
    fn a_bar_fills_with_its_steps_and_never_overflows() {
        let half = status(Kind::Steps(4), 2, "nftables").render(Duration::from_secs(1));
        assert_eq!(half, "[==========>         ] 2/4 1s  nftables");
        let full = status(Kind::Steps(4), 4, "").render(Duration::ZERO);
        assert_eq!(full, "[====================] 4/4 0s  ");
        let over = status(Kind::Steps(2), 5, "").render(Duration::ZERO);
        assert!(over.starts_with("[====================] 5/2"), "{over}");
        let empty = status(Kind::Steps(0), 0, "").render(Duration::ZERO);
        assert!(empty.starts_with("[====================] 0/0"), "{empty}");
    }

    #[test]
    fn long_messages_keep_their_end_and_fit_the_terminal() {
        let path = format!("/var/log/{}/auth.log.4.gz", "archive".repeat(20));
        let shown = status(Kind::Lines, 123_456_789, &path).render(Duration::from_secs(59_999));
        assert!(shown.ends_with("auth.log.4.gz"), "{shown}");
        assert!(shown.chars().count() < 80, "{shown}");
        assert_eq!(tail("a\x1b[2Jb\n", 10), "a?[2Jb?");
    }
}
