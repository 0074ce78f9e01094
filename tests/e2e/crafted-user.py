#!/usr/bin/python3
"""An SSH client that sends user names OpenSSH's own client refuses to send (control bytes),
for scenario D of tests/e2e/ssh.sh: it forges sshd log lines that end with an address the
client chose.

    crafted-user.py SOURCE SERVER MODE [TAIL]

How sshd (OpenSSH 9.2) writes what this client sends: each byte that is not printable is
escaped as \\001; a message of the unprivileged pre-authentication child is escaped again by
the monitor, which re-logs it with ` [preauth]` appended, so there each such byte takes 5
characters (\\\\001). Syslog gets at most 500 characters of a message. The user name is
\\001 bytes, a few `A`s, then TAIL, sized so that the message is cut right after TAIL: sshd's
own `ADDR port N [preauth]` falls beyond character 500, and the line ends with TAIL.

MODE is the message to forge, and how the connection ends:
  closed        one `none` authentication request, then the TCP connection is dropped:
                `Connection closed by invalid user USER ADDR port N [preauth]`
  disconnected  one `none` request, then SSH_MSG_DISCONNECT:
                `Disconnected from invalid user USER ADDR port N [preauth]`
  maxtries      wrong passwords until sshd gives up (MaxAuthTries): `error: maximum
                authentication attempts exceeded for invalid user USER from ADDR port N ssh2
                [preauth]` (sshd keeps only 100 bytes of USER there)
  connect       no user name at all: wait for sshd's banner, then close
Exit status 0 when sshd answered (the authentication request, or with its banner), else 1.
"""
import socket
import sys

import paramiko

SYSLOG_MAX = 500  # syslog(pri, "%.500s", message)
ESCAPED = 5  # characters per control byte in a [preauth] message
# MODE: (what sshd writes before the user name, how many bytes of the user name it keeps)
MESSAGES = {
    "closed": ("Connection closed by invalid user ", 187),  # "%.200s", "invalid user USER"
    "disconnected": ("Disconnected from invalid user ", 187),
    "maxtries": ("error: maximum authentication attempts exceeded for invalid user ", 100),
}


def crafted_user(mode, tail):
    prefix, keeps = MESSAGES[mode]
    room = SYSLOG_MAX - len(prefix) - len(tail)
    user = "\x01" * (room // ESCAPED) + "A" * (room % ESCAPED) + tail
    if len(user) > keeps:
        sys.exit("crafted-user.py: %r too long for %s (sshd keeps %d bytes)" % (tail, mode, keeps))
    return user


def main():
    source, server, mode = sys.argv[1:4]
    tail = sys.argv[4] if len(sys.argv) > 4 else ""
    sock = socket.create_connection((server, 22), timeout=10, source_address=(source, 0))
    if mode == "connect":
        sock.settimeout(3)  # tcpd's refusal: accepted, then silence
        try:
            answered = sock.recv(4) == b"SSH-"
        except socket.timeout:
            answered = False
        sock.close()
        return 0 if answered else 1
    user = crafted_user(mode, tail)
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=10)
    answered = False
    if mode == "maxtries":
        for i in range(20):
            try:
                transport.auth_password(user, "wrong-%d" % i)
            except paramiko.AuthenticationException:
                answered = True
            except (paramiko.SSHException, EOFError, OSError):
                break  # sshd disconnected: too many authentication failures
    else:
        try:
            transport.auth_none(user)
        except paramiko.AuthenticationException:  # the expected answer: `none` is refused
            answered = True
        if mode == "disconnected":
            message = paramiko.Message()
            message.add_byte(paramiko.common.cMSG_DISCONNECT)
            message.add_int(11)  # SSH2_DISCONNECT_BY_APPLICATION
            message.add_string("bye")
            message.add_string("")
            transport._send_user_message(message)
    # Drop the connection without paramiko's own goodbye (sshd must see it closed).
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by sshd
    transport.close()
    return 0 if answered else 1


if __name__ == "__main__":
    sys.exit(main())
