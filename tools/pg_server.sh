#!/usr/bin/env bash
# tools/pg_server.sh - a private PostgreSQL server for the tests (Debian's `postgresql` package):
# its data, its log and its unix socket in DIR, TCP on 127.0.0.1 only, on a free port.
#   tools/pg_server.sh start DIR   initdb in DIR (which must be missing or empty), start the server,
#                                  create the role and database, print DATABASE_URL on stdout
#                                  (postgres://tallysync:PASSWORD@127.0.0.1:PORT/tallysync)
#   tools/pg_server.sh stop DIR    stop the server (pg_ctl stop -m fast) and remove DIR
# The server refuses to run as root: as root, DIR is handed to the user `nobody` (present on every
# Debian) and the server's commands run as it (runuser). The role logs in with a random password
# (scram-sha-256) over TCP; only the unix socket, in DIR (mode 0700, nobody's), trusts its user.
# The password is on stdout only: callers keep it out of logs. A failed start stops what it began.
set -euo pipefail

usage() {
    echo "usage: tools/pg_server.sh start|stop DIR" >&2
    exit 2
}
[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2

# Debian installs the server's programs under /usr/lib/postgresql/VERSION/bin: the newest one.
bindir=""
for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl ]] || continue
    if [[ -z $bindir ]] || [[ $(printf '%s\n%s\n' "$bindir" "$d" | sort -V | tail -1) == "$d" ]]; then
        bindir=$d
    fi
done
if [[ -z $bindir ]]; then
    echo "pg_server: no PostgreSQL server programs under /usr/lib/postgresql/*/bin" \
        "(tools/setup.sh --test installs Debian's postgresql)" >&2
    exit 1
fi

as_owner() { # run a server command as DIR's owner (nobody when we are root)
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u nobody -- "$@"
    else
        "$@"
    fi
}

stop() {
    if [[ -f $dir/data/postmaster.pid ]]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

if [[ $cmd == stop ]]; then
    stop
    exit 0
fi
[[ $cmd == start ]] || usage

mkdir -p "$dir"
if [[ -n $(ls -A "$dir") ]]; then
    echo "pg_server: $dir is not empty" >&2
    exit 1
fi
chmod 700 "$dir"
if [[ $(id -u) -eq 0 ]]; then
    chown nobody: "$dir"
    if ! runuser -u nobody -- test -x "$dir"; then
        rmdir "$dir"
        echo "pg_server: the user nobody cannot reach $dir (a parent folder is closed to it)" >&2
        exit 1
    fi
fi
trap 'stop' ERR
# interrupted mid-start: clean up, then die of the same signal, so that the caller (test.sh)
# sees an interrupt and not a failure to go on from
trap 'stop; trap - INT; kill -INT $$' INT
trap 'stop; trap - TERM; kill -TERM $$' TERM

port() { # a port nothing listens on now
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
password=$(od -An -tx1 -N18 /dev/urandom | tr -d ' \n')

as_owner "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    false
}
# host lines: password only, loopback only (initdb's --auth-host set them); nothing else listens.
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
# a throwaway server for tests: durability is not wanted, speed is
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 32MB
CONF
started=0
for _ in 1 2 3; do # a port found free may be taken before the server binds it: try another
    p=$(port)
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $p" start >/dev/null 2>&1; then
        started=1
        break
    fi
done
if [[ $started != 1 ]]; then
    echo "pg_server: the server did not start; its log:" >&2
    tail -20 "$dir/server.log" >&2 || true
    false
fi
as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$p" -U postgres -d postgres \
    >/dev/null <<SQL
CREATE ROLE tallysync LOGIN PASSWORD '$password';
CREATE DATABASE tallysync OWNER tallysync;
SQL
echo "postgres://tallysync:$password@127.0.0.1:$p/tallysync"
