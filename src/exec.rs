/*!
The one place that runs external programs (journalctl today; firewall tools later).

sentry runs as root from tcpd, whose environment the connecting client can influence
in places. So programs are looked up only in a fixed list of system directories (never
through the caller's `PATH`), run with an argument vector (never a shell), with a clean
environment, stdin closed, and killed if they outlive a deadline.
*/

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Where system programs live, in the order the bash original searched.
pub const SAFE_PATH: [&str; 6] = [
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
];

/// The absolute path of `name` in [`SAFE_PATH`], or `name` itself when it is absolute.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    SAFE_PATH
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// Runs `program args...`, hands its stdout to `consume` as it arrives, and kills it if it
/// has not finished after `timeout`. Returns its exit status and what it wrote on stderr.
pub fn run_streaming(
    program: &Path,
    args: &[String],
    timeout: Duration,
    consume: &mut dyn FnMut(&mut dyn Read) -> std::io::Result<()>,
) -> Result<(ExitStatus, String)> {
    spawn_and_watch(program, args, None, timeout, consume)
}

/// The one spawn: clean environment, safe PATH, stdin fed from `input` (or closed),
/// stdout streamed to `consume`, stderr collected (bounded), a watchdog at `timeout`.
fn spawn_and_watch(
    program: &Path,
    args: &[String],
    input: Option<Vec<u8>>,
    timeout: Duration,
    consume: &mut dyn FnMut(&mut dyn Read) -> std::io::Result<()>,
) -> Result<(ExitStatus, String)> {
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", SAFE_PATH.join(":"))
        .env("LC_ALL", "C")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("run", program, &e))?;
    // Fed from a thread: a program may fill its stdout before it has read all its input.
    let feeder = match (child.stdin.take(), input) {
        (Some(mut stdin), Some(bytes)) => Some(std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&bytes);
        })),
        _ => None,
    };
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::Runtime("no stdout pipe".into()))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| Error::Runtime("no stderr pipe".into()))?;
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.by_ref().take(64 * 1024).read_to_string(&mut text);
        text
    });
    // The watchdog owns the child: it waits for it, or kills it at the deadline (which
    // closes the pipe and ends the read below).
    let (done, status) = mpsc::channel::<std::io::Result<ExitStatus>>();
    let watchdog = std::thread::spawn(move || watch(&mut child, timeout, done));
    let read = consume(&mut stdout);
    drop(stdout);
    let status = status
        .recv()
        .map_err(|_| Error::Runtime(format!("{} vanished", program.display())))?
        .map_err(|e| Error::io("wait for", program, &e))?;
    let _ = watchdog.join();
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    let errors = errors.join().unwrap_or_default();
    read.map_err(|e| Error::io("read the output of", program, &e))?;
    Ok((status, errors))
}

fn watch(child: &mut Child, timeout: Duration, done: mpsc::Sender<std::io::Result<ExitStatus>>) {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let _ = done.send(Ok(status));
                return;
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = done.send(child.wait());
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                let _ = done.send(Err(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_only_in_system_directories() {
        assert!(find_program("sh").is_some_and(|p| p.is_absolute()));
        assert_eq!(find_program("no-such-program-here"), None);
        assert_eq!(find_program("/no/such/absolute/path"), None);
    }

    #[test]
    fn output_is_streamed_and_slow_programs_are_killed() {
        let sh = find_program("sh").expect("sh");
        let mut seen = String::new();
        let (status, _) = run_streaming(
            &sh,
            &["-c".into(), "echo hello; echo oops >&2".into()],
            Duration::from_secs(5),
            &mut |r| r.read_to_string(&mut seen).map(|_| ()),
        )
        .expect("run");
        assert!(status.success());
        assert_eq!(seen, "hello\n");

        let started = Instant::now();
        let (status, _) = run_streaming(
            &sh,
            &["-c".into(), "echo partial; exec sleep 30".into()],
            Duration::from_millis(200),
            &mut |r| std::io::copy(r, &mut std::io::sink()).map(|_| ()),
        )
        .expect("run");
        assert!(!status.success(), "killed");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

/// What a finished program printed.
#[derive(Debug)]
pub struct Captured {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Captured {
    /// The program's own complaint, for error messages.
    pub fn complaint(&self) -> String {
        let text = self.stderr.trim();
        if text.is_empty() {
            format!("exited with {}", self.status)
        } else {
            text.lines().take(3).collect::<Vec<_>>().join("; ")
        }
    }
}

/// Runs `program args...` with `input` on its stdin, collects its output, and kills it at
/// the deadline.
pub fn run(
    program: &Path,
    args: &[String],
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Captured> {
    let mut stdout = Vec::new();
    let (status, stderr) = spawn_and_watch(program, args, input, timeout, &mut |out| {
        out.take(64 * 1024 * 1024)
            .read_to_end(&mut stdout)
            .map(|_| ())
    })?;
    Ok(Captured {
        status,
        stdout,
        stderr,
    })
}
