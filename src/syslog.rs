/*!
Notes to syslog: decisions (allowed, blocked), and errors in `--connect`.

tcpd runs `sentry --connect` with stdout and stderr on /dev/null, so an error printed
there is never seen. Sending it to the local syslog socket (facility auth, ident
`sentry`, like sshd's own lines) puts it next to the logins it concerns. Failing to log
is silently accepted: the login must proceed either way.
*/

use std::os::unix::net::UnixDatagram;
use std::sync::OnceLock;

/// Facility auth (4).
const AUTH: u8 = 4 << 3;

/// Sends one warning line to `/dev/log`, if there is a syslog daemon listening.
pub fn warn(message: &str) {
    send(AUTH | 4, message);
}

/// Sends one notice (a decision and its evidence) to `/dev/log`.
pub fn notice(message: &str) {
    send(AUTH | 5, message);
}

fn send(priority: u8, message: &str) {
    // One socket for the process: a big batch of decisions logs many lines.
    static SOCKET: OnceLock<Option<UnixDatagram>> = OnceLock::new();
    let Some(socket) = SOCKET.get_or_init(|| {
        let socket = UnixDatagram::unbound().ok()?;
        socket.set_nonblocking(true).ok()?;
        Some(socket)
    }) else {
        return;
    };
    // Messages can quote attacker text (user names): no control characters into the log.
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = format!("<{priority}>sentry[{}]: {clean}", std::process::id());
    let _ = socket.send_to(line.as_bytes(), "/dev/log");
}
