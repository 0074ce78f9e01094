#!/usr/bin/env bash
# The server's private world, run by ssh.sh as
#   ip netns exec SERVER unshare --mount --propagation private \
#       bash server-init.sh TMP OWNER_PID SERVER CLIENT 9</proc/self/ns/mnt
# (fd 9: the mount namespace ssh.sh runs in, where the namespaces' names live).
# Everything mounted here exists only in this mount namespace: this machine's /etc, /dev,
# /run and /var are never changed. Then it holds the namespaces open (ssh.sh enters them
# with nsenter -t THIS_PID) until the owner exits. ssh.sh cleans up itself (and kills this
# process); if it was killed without that chance (kill -9), this stops every process left
# in the server's network namespace, deletes both namespaces and the temporary directory.
set -euo pipefail
T=$1
OWNER=$2
SERVER_NS=$3
CLIENT_NS=$4

# /dev: a private tmpfs with the few nodes the daemons use, so that rsyslogd can own
# /dev/log whether or not this machine has one.
mkdir -p "$T/dev"
mount -t tmpfs -o mode=0755,size=1m sentry-e2e-dev "$T/dev"
for node in null zero full random urandom tty; do
    if [ -e "/dev/$node" ]; then
        touch "$T/dev/$node"
        mount --bind "/dev/$node" "$T/dev/$node"
    fi
done
ln -s /proc/self/fd "$T/dev/fd"
ln -s /proc/self/fd/0 "$T/dev/stdin"
ln -s /proc/self/fd/1 "$T/dev/stdout"
ln -s /proc/self/fd/2 "$T/dev/stderr"
mkdir "$T/dev/pts" "$T/dev/shm"
mount --rbind /dev/pts "$T/dev/pts"
ln -s pts/ptmx "$T/dev/ptmx"
mount --move "$T/dev" /dev

# /run: sshd's privilege separation directory. /var: a private tmpfs too, so that a
# sentry that looked for its default root (/var/db/sentry) could not write this machine's.
mount -t tmpfs -o mode=0755,size=4m sentry-e2e-run /run
mkdir -m 0755 /run/sshd
mount -t tmpfs -o mode=0755,size=4m sentry-e2e-var /var
mkdir -m 1777 /var/tmp

# /etc: private copies of the files this test changes.
for f in hosts.allow hosts.deny passwd shadow group; do
    mount --bind "$T/etc/$f" "/etc/$f"
done
# PAM: a private /etc/pam.d and pam-auth-update's profiles and state (scenario E writes
# common-* with pam-auth-update from the package's profile).
mount --bind "$T/pam.d" /etc/pam.d
mount --bind "$T/pam-configs" /usr/share/pam-configs
mkdir -p /var/lib/pam /var/cache/debconf
mount --bind "$T/debconf" /var/cache/debconf

echo $$ >"$T/holder.pid.tmp"
mv "$T/holder.pid.tmp" "$T/holder.pid"

# Hold the namespaces until the owner is gone; from here on, best effort.
set +e
while kill -0 "$OWNER" 2>/dev/null; do
    sleep 0.5
done
me=$(readlink /proc/self/ns/net)
[ -n "$me" ] || exit 1
for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$pid" = $$ ] && continue
    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] && kill -9 "$pid" 2>/dev/null
done
# /run here is private: the names live in ssh.sh's mount namespace (fd 9).
outside() { nsenter --mount="/proc/$$/fd/9" -- "$@"; }
for pid in $(outside ip netns pids "$CLIENT_NS" 2>/dev/null); do
    kill -9 "$pid" 2>/dev/null
done
outside ip netns del "$CLIENT_NS" 2>/dev/null
outside ip netns del "$SERVER_NS" 2>/dev/null
[ -n "${E2E_KEEP:-}" ] || rm -rf "$T"
exit 0
