/*!
Reading ahead: a second thread reads a log, turns each line into text, splits its syslog
header and finds the service whose parser reads it, a batch at a time, while the caller
parses the messages of the batch before. That part is two fifths of the work per line and
needs nothing the message parsers keep, so on two cores `sentry parse` takes a little over
half the time it took on one (0.074 s against 0.132 s for 200,000 lines).

The header's clock (the year of BSD stamps) lives on the reading thread: it depends only
on `now` and the lines before, so the result is the same as splitting in line order.
*/

use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::sync::mpsc;

use super::Service;
use super::header::{self, Clock, LogLine};
use super::parse::service_of_header;
use super::source;

/// Lines per batch, and text per batch: small enough to keep both threads busy from the
/// start and the memory in flight at a few hundred KiB.
const BATCH_LINES: usize = 1024;
const BATCH_TEXT: usize = 128 * 1024;
/// Batches read ahead of the one being parsed.
const IN_FLIGHT: usize = 2;

/// Lines read and split, in order.
#[derive(Debug, Default)]
pub struct Batch {
    /// Every line's text, one after another, then any header part that is not a slice of
    /// its line (an own log's fixed program name).
    text: String,
    lines: Vec<SplitLine>,
    /// Lines read into this batch, the skipped ones included.
    read: u64,
}

#[derive(Debug)]
struct SplitLine {
    /// The line's number in the log (lines too long to read count, but are not here).
    number: u64,
    text: Range<usize>,
    header: Option<HeaderAt>,
}

/// A [`LogLine`] whose text parts are ranges of the batch's text, and its service.
#[derive(Debug)]
struct HeaderAt {
    service: Option<Service>,
    time: Option<i64>,
    pid: Option<u32>,
    host: Range<usize>,
    program: Range<usize>,
    message: Range<usize>,
}

/// One line of a batch: its number, its text, its header (None: not a log line) and the
/// service whose parser reads it ([`service_of_header`]).
pub struct Line<'a> {
    pub number: u64,
    pub text: &'a str,
    pub header: Option<LogLine<'a>>,
    pub service: Option<Service>,
}

impl Batch {
    /// How many lines of the log this batch stands for (overlong ones are not in it).
    pub fn lines_read(&self) -> u64 {
        self.read
    }

    /// The batch's lines, in the log's order.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.lines.iter().map(|line| Line {
            number: line.number,
            text: &self.text[line.text.clone()],
            header: line.header.as_ref().map(|h| LogLine {
                time: h.time,
                host: &self.text[h.host.clone()],
                program: &self.text[h.program.clone()],
                pid: h.pid,
                message: &self.text[h.message.clone()],
            }),
            service: line.header.as_ref().and_then(|h| h.service),
        })
    }

    fn push(&mut self, number: u64, text: &str, clock: &mut Clock) {
        let start = self.text.len();
        self.text.push_str(text);
        let header = header::split(text, clock).map(|h| HeaderAt {
            service: service_of_header(&h),
            time: h.time,
            pid: h.pid,
            host: self.place(text, start, h.host),
            program: self.place(text, start, h.program),
            message: self.place(text, start, h.message),
        });
        self.lines.push(SplitLine {
            number,
            text: start..start + text.len(),
            header,
        });
    }

    /// Where `part` of `line` (copied to the batch at `start`) is in the batch's text: its
    /// slice of the line, or a copy added at the end when it is not one.
    fn place(&mut self, line: &str, start: usize, part: &str) -> Range<usize> {
        let offset = (part.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
        if offset <= line.len() && part.len() <= line.len() - offset {
            return start + offset..start + offset + part.len();
        }
        let at = self.text.len();
        self.text.push_str(part);
        at..at + part.len()
    }

    fn is_full(&self) -> bool {
        self.lines.len() >= BATCH_LINES || self.text.len() >= BATCH_TEXT
    }
}

/// Reads `reader` to its end on a second thread and hands the batches to `each`, in order,
/// on this one; `each` returns false to stop reading. `now` dates BSD stamps as
/// [`Clock::new`] does. Lines longer than [`source::MAX_LINE`] are skipped (their numbers
/// are not reused); invalid UTF-8 is replaced. A batch goes on when full and whenever the
/// reader has no more input at hand, so lines from a pipe are not held back.
///
/// When `each` stops early, this returns without waiting for the reading thread: it may be
/// waiting for input that never comes (`tail -f log | sentry parse | head`), and ends at
/// its next batch or with the process.
pub fn read_ahead(
    reader: Box<dyn Read + Send>,
    now: i64,
    each: &mut dyn FnMut(&Batch) -> bool,
) -> std::io::Result<()> {
    let (to_parser, batches) = mpsc::sync_channel::<std::io::Result<Batch>>(IN_FLIGHT);
    let reading = std::thread::Builder::new()
        .name("read-ahead".into())
        .spawn(move || {
            let mut reader = BufReader::with_capacity(64 * 1024, reader);
            let sent = read_batches(&mut reader, now, &mut |batch| {
                to_parser.send(Ok(batch)).is_ok()
            });
            if let Err(e) = sent {
                let _ = to_parser.send(Err(e));
            }
        })?;
    for batch in batches.iter() {
        if !each(&batch?) {
            return Ok(());
        }
    }
    // The channel closed: the reader has sent all it had, or it panicked (the lines after the
    // last batch would then be missing without a word).
    reading
        .join()
        .map_err(|_| std::io::Error::other("the reading thread failed (a bug: please report it)"))
}

/// The reading thread's loop: lines into batches, each batch to `send` (false: stop).
fn read_batches(
    reader: &mut dyn BufRead,
    now: i64,
    send: &mut dyn FnMut(Batch) -> bool,
) -> std::io::Result<()> {
    let mut clock = Clock::new(now);
    let mut batch = Batch::default();
    let mut number = 0u64;
    source::each_line_bounded(reader, source::MAX_LINE, &mut |line| {
        let Some(line) = line else {
            // The reader's buffer is used up: the next line may be a while.
            return batch.read == 0 || send(std::mem::take(&mut batch));
        };
        number += 1;
        batch.read += 1;
        if source::overlong(line, source::MAX_LINE) {
            return true;
        }
        let bytes = line.strip_suffix(b"\n").unwrap_or(line);
        batch.push(number, &source::line_text(bytes), &mut clock);
        !batch.is_full() || send(std::mem::take(&mut batch))
    })?;
    if batch.read > 0 {
        send(batch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(h: &LogLine, service: Option<Service>) -> String {
        let (time, host, program, pid, message) = (h.time, h.host, h.program, h.pid, h.message);
        format!("{time:?}|{host}|{program}|{pid:?}|{message}|{service:?}")
    }

    fn read_all(input: &[u8], now: i64) -> Vec<(u64, String, Option<String>)> {
        let mut seen = Vec::new();
        read_ahead(
            Box::new(std::io::Cursor::new(input.to_vec())),
            now,
            &mut |batch| {
                for line in batch.lines() {
                    let header = line.header.map(|h| describe(&h, line.service));
                    seen.push((line.number, line.text.to_owned(), header));
                }
                true
            },
        )
        .expect("read");
        seen
    }

    #[test]
    fn splits_as_the_header_does_line_by_line() {
        let now = 1_764_000_000;
        let input = "Nov 24 10:00:00 web1 sshd[1]: Invalid user a from 203.0.113.9 port 2\n\
                     not a log line\n\
                     Sat Mar  2 09:14:03 2024 [pid 2101] [bob] FAIL LOGIN: Client \"192.0.2.8\"\n\
                     2024-03-02 09:14:03 auth-worker(9): Info: x\n\
                     last line without a newline";
        let seen = read_all(input.as_bytes(), now);
        let mut clock = Clock::new(now);
        let expected: Vec<_> = (input.split('\n').enumerate())
            .map(|(i, text)| {
                let header =
                    header::split(text, &mut clock).map(|h| describe(&h, service_of_header(&h)));
                (i as u64 + 1, text.to_owned(), header)
            })
            .collect();
        assert_eq!(seen, expected);
        // The own logs' program names are not slices of their lines, and still read.
        assert!(seen[2].2.as_deref().is_some_and(|h| h.contains("|vsftpd|")));
        assert!(
            seen[0]
                .2
                .as_deref()
                .is_some_and(|h| h.ends_with("|Some(Sshd)"))
        );
    }

    #[test]
    fn many_batches_keep_their_order_and_numbers() {
        let lines = 3 * BATCH_LINES + 7;
        let input: String = (0..lines)
            .map(|i| format!("Nov 24 10:00:00 web1 sshd[{i}]: m\n"))
            .collect();
        let seen = read_all(input.as_bytes(), 1_764_000_000);
        assert_eq!(seen.len(), lines);
        for (i, (number, _, header)) in seen.iter().enumerate() {
            assert_eq!(*number, i as u64 + 1);
            assert!(
                header
                    .as_deref()
                    .is_some_and(|h| h.contains(&format!("Some({i})")))
            );
        }
    }

    #[test]
    fn overlong_and_invalid_lines() {
        let mut input = b"Nov 24 10:00:00 web1 sshd[1]: caf\xff\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', source::MAX_LINE + 1));
        input.extend_from_slice(b"\nNov 24 10:00:00 web1 sshd[3]: after\n");
        let seen = read_all(&input, 1_764_000_000);
        assert_eq!(seen.len(), 2, "the overlong line is skipped");
        let mut read = 0;
        let overlong = std::iter::repeat_n(b'y', source::MAX_LINE + 1).collect::<Vec<u8>>();
        read_ahead(Box::new(std::io::Cursor::new(overlong)), 0, &mut |batch| {
            read += batch.lines_read();
            assert_eq!(batch.lines().count(), 0);
            true
        })
        .expect("read");
        assert_eq!(read, 1, "a last line that is too long is still counted");
        assert!(seen[0].1.ends_with("caf\u{fffd}"));
        assert_eq!(seen[1].0, 3, "and keeps its number");
    }

    #[test]
    fn stopping_early_stops_the_reader() {
        let input: String = (0..5 * BATCH_LINES)
            .map(|i| format!("line {i}\n"))
            .collect();
        assert!(input.len() < 64 * 1024, "all in the reader's first buffer");
        let mut batches = 0;
        read_ahead(
            Box::new(std::io::Cursor::new(input.into_bytes())),
            0,
            &mut |_| {
                batches += 1;
                false
            },
        )
        .expect("read");
        assert_eq!(batches, 1);
    }

    /// A pipe: two lines, then nothing until the writer goes away.
    struct Pipe {
        first: Option<&'static [u8]>,
        writer_gone: mpsc::Receiver<()>,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if let Some(first) = self.first.take() {
                buf[..first.len()].copy_from_slice(first);
                return Ok(first.len());
            }
            let _ = self.writer_gone.recv();
            Ok(0)
        }
    }

    #[test]
    fn lines_at_hand_go_on_before_more_input_comes() {
        let (writer, writer_gone) = mpsc::channel::<()>();
        let pipe = Pipe {
            first: Some(b"Nov 24 10:00:00 web1 sshd[1]: a\nNov 24 10:00:00 web1 sshd[2]: b\n"),
            writer_gone,
        };
        let mut got = Vec::new();
        // The reader now waits for input that does not come: stopping must not wait for it.
        read_ahead(Box::new(pipe), 0, &mut |batch| {
            got.extend(batch.lines().map(|l| l.text.to_owned()));
            false
        })
        .expect("read");
        assert_eq!(got.len(), 2);
        drop(writer);
    }

    #[test]
    fn a_reader_that_panics_is_an_error_not_an_end() {
        struct Panicking;
        impl Read for Panicking {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                panic!("a reader's bug");
            }
        }
        let err = read_ahead(Box::new(Panicking), 0, &mut |_| true).expect_err("an error");
        assert!(err.to_string().contains("reading thread failed"), "{err}");
    }

    #[test]
    fn a_read_error_reaches_the_caller() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk gone"))
            }
        }
        let err = read_ahead(Box::new(Failing), 0, &mut |_| true).expect_err("an error");
        assert_eq!(err.to_string(), "disk gone");
    }
}
