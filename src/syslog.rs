/*!
A last-resort note to syslog, for errors in `--connect`.

tcpd runs `sentry --connect` with stdout and stderr on /dev/null, so an error printed
there is never seen. Sending it to the local syslog socket (facility auth, like sshd)
puts it next to the login it concerns. Failing to log is silently accepted: the login
must proceed either way.
*/

use std::os::unix::net::UnixDatagram;

/// Sends one warning line to `/dev/log`, if there is a syslog daemon listening.
pub fn warn(message: &str) {
    const AUTH_WARNING: u8 = (4 << 3) | 4;
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = format!("<{AUTH_WARNING}>sentry[{}]: {clean}", std::process::id());
    let _ = socket.set_nonblocking(true);
    let _ = socket.send_to(line.as_bytes(), "/dev/log");
}
