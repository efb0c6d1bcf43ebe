#!/bin/sh
# A throwaway PostgreSQL 15 cluster for the gallery's backend tests.
#
#   pg_cluster.sh start DIR PORT   initdb in DIR (created, owned by the server's
#                                  user), start the server on 127.0.0.1:PORT
#                                  (trust auth on loopback, socket in DIR),
#                                  create the database facetracker_test and
#                                  print its URL
#   pg_cluster.sh stop DIR PORT    stop the server and remove DIR
#   pg_cluster.sh halt DIR PORT    stop the server, keep DIR (a database outage)
#   pg_cluster.sh resume DIR PORT  start the halted server again, same data
#
# The server refuses to run as root: as root the cluster belongs to the
# system user "ftpg" (created if missing, no login shell, no home); as any
# other user it runs as that user. Needs Debian's postgresql-15 (setup.sh
# --test). fsync is off: the data is thrown away.
set -eu

BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}
dir=${2:-}
port=${3:-}
if [ -z "$cmd" ] || [ -z "$dir" ] || [ -z "$port" ]; then
    echo "usage: $0 start|stop|halt|resume DIR PORT" >&2
    exit 2
fi
if [ ! -x "$BIN/initdb" ]; then
    echo "$0: $BIN/initdb not found: apt-get install postgresql (tools/setup.sh --test)" >&2
    exit 1
fi

as_server() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u ftpg -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    as_server "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
}

case "$cmd" in
halt)
    as_server "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
resume)
    pg_start
    ;;
start)
    if [ "$(id -u)" = 0 ] && ! id ftpg >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ftpg
    fi
    # A server left running in DIR by an interrupted run goes first.
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_server "$BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown ftpg "$dir"
        # The server must reach DIR: every parent must be searchable by ftpg.
        if ! runuser -u ftpg -- test -x "$dir"; then
            echo "$0: $dir is not reachable by user ftpg (a parent folder is private)" >&2
            exit 1
        fi
    fi
    as_server "$BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    pg_start
    as_server "$BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres facetracker_test
    echo "postgresql://postgres@127.0.0.1:$port/facetracker_test"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_server "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop|halt|resume DIR PORT" >&2
    exit 2
    ;;
esac
