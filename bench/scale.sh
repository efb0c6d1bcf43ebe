#!/bin/sh
# The gallery at scale (issue 13, item 6), all of it in one run:
#
#   bench/scale.sh BUILD_DIR [OUT_DIR]
#
# 1. 1:N search over 10k, 100k and 1M random descriptors: the float scan and
#    the int8 index side by side on the same matrix, every answer compared
#    (bench_scale search), with resident memory.
# 2. The evaluation sets' real descriptors (facetracker describe over
#    /work/shared/data/recognition_*, or $FT_DATA; the largest face of each
#    photo) among 1M distractors: same answers from both searches
#    (bench_scale real). Skipped without the data.
# 3. A throwaway PostgreSQL 15 cluster (tests/tools/pg_cluster.sh), filled
#    by COPY with 100k people x 1 sample, then a fresh one with x 3: a server's cold
#    start (open + matrix with its index; the full people list apart),
#    enrolments and events per second over 1, 2 and 4 connections (and with
#    durable commits), NOTIFY-to-applied (a listener reloading its matrix),
#    and a real `facetracker serve`: exec to /readyz and to a first answer.
#
# PARTS="search real pg serve" (the default) picks parts. Needs BUILD_DIR configured with -DFT_BUILD_BENCH=ON and built
# (bench_scale, facetracker). CPU-heavy parts run under nice. Prints
# everything; OUT_DIR (default out/scale) keeps the log and descriptors.
set -eu

build=${1:?usage: bench/scale.sh BUILD_DIR [OUT_DIR]}
out=${2:-out/scale}
data=${FT_DATA:-/work/shared/data}
port=${PORT:-25437}
bench="$build/bench/bench_scale"
ft="$build/facetracker"
mkdir -p "$out"
log="$out/scale.log"
: >"$log"
say() { echo "$@" | tee -a "$log"; }
run() { nice -n 10 "$@" 2>&1 | tee -a "$log"; }

say "# bench/scale.sh $(date -u +%Y-%m-%dT%H:%MZ); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
say "# commit $(git rev-parse --short HEAD 2>/dev/null || echo '?') (working tree may differ)"

parts=" ${PARTS:-search real pg serve} "
case "$parts" in *" search "*)
    say "## 1:N search, random galleries"
    run "$bench" search 10000 100000 1000000
esac

case "$parts" in *" real "*) ;; *) data=/nonexistent ;; esac
if [ -d "$data/recognition_lfw" ] && [ -x "$ft" ]; then
    say "## real descriptors of the evaluation sets among 1M distractors"
    desc="$out/real_descriptors.txt"
    : >"$desc"
    : >"$out/describe.err"
    for set in "$data"/recognition_*; do
        [ -f "$set/identities.csv" ] || continue
        # identity,image lines (CRLF in some sets); images relative to the set.
        tail -n +2 "$set/identities.csv" | tr -d '\r' | cut -d, -f2 | sed "s|^|$set/|" >"$out/images.txt"
        # One process per set (models load once); photos it cannot read are skipped.
        tr '\n' '\0' <"$out/images.txt" | xargs -0 nice -n 10 "$ft" describe >"$out/describe.jsonl" 2>>"$out/describe.err" || true
        python3 - "$set" "$out/describe.jsonl" >>"$desc" <<'EOF'
import json, os, sys
set_dir, path = sys.argv[1], sys.argv[2]
ident = {}
for line in open(os.path.join(set_dir, "identities.csv")).read().splitlines()[1:]:
    who, img = line.split(",", 1)
    ident[os.path.join(set_dir, img)] = who
for line in open(path):
    j = json.loads(line)
    faces = j.get("faces") or []
    if not faces or j["image"] not in ident:
        continue
    f = max(faces, key=lambda f: f["box"][2] * f["box"][3])  # the largest face
    label = os.path.basename(set_dir) + "/" + ident[j["image"]]
    print(label, " ".join("%.9g" % v for v in f["descriptor"]))
EOF
    done
    say "real descriptors: $(wc -l <"$desc") photos with a face found, of $(cat "$data"/recognition_*/identities.csv | grep -vc '^identity,')"
    run "$bench" real "$desc" 1000000
else
    say "## real descriptors: skipped ($data/recognition_* or $ft missing)"
fi

case "$parts" in *" pg "* | *" serve "*) ;; *) exit 0 ;; esac
say "## PostgreSQL"
dir=/tmp/ft_pg_scale_$port
sh tests/tools/pg_cluster.sh start "$dir" "$port" >/dev/null
url="postgresql://postgres@127.0.0.1:$port/facetracker_test"
trap 'sh tests/tools/pg_cluster.sh stop "$dir" "$port" >/dev/null 2>&1 || true' EXIT INT TERM
say "cluster: $(psql "$url" -Atc 'SHOW server_version') on 127.0.0.1:$port, fsync $(psql "$url" -Atc 'SHOW fsync'), synchronous_commit $(psql "$url" -Atc 'SHOW synchronous_commit') (tests/tools/pg_cluster.sh)"
case "$parts" in *" pg "*)
run "$bench" pg-notify "$url" 9 # an empty gallery: the latency without a reload's cost
run "$bench" pg-fill "$url" 100000 1
run "$bench" pg-load "$url" 5
run "$bench" pg-notify "$url" 9
# A fresh cluster with 100k people x 3 samples.
sh tests/tools/pg_cluster.sh start "$dir" "$port" >/dev/null
run "$bench" pg-fill "$url" 100000 3
run "$bench" pg-load "$url" 5
run "$bench" pg-notify "$url" 9
for c in 1 2 4; do
    run "$bench" pg-write "$url" 5 "$c"
done
# The same writes with every commit durable (fsync and synchronous_commit
# on, as a production server runs), and this disk's flush rate.
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u ftpg -- "$@"; else "$@"; fi; }
as_server /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/data" -m fast -w restart -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=200" >/dev/null
say "durable: fsync $(psql "$url" -Atc 'SHOW fsync'), synchronous_commit $(psql "$url" -Atc 'SHOW synchronous_commit')"
as_server /usr/lib/postgresql/15/bin/pg_test_fsync -s 1 -f "$dir/fsync_test" 2>&1 | grep -E "^ +(fdatasync|open_datasync) " | head -2 | tee -a "$log"
for c in 1 2 4 8; do # the processes mostly wait for the disk
    run "$bench" pg-write "$url" 5 "$c"
done
esac

# A real server: exec to /readyz (models loaded) and to the answer of a
# first identify (which waits for the templates), three starts each, on an
# empty gallery, 100k people x 1 sample in the server's own space, then x 3
# (the first sample copied twice).
serve_start() { # prints one line
    rm -f "$out/spool.db"*
    t0=$(date +%s%N)
    # The gallery is filled in resnet128's space (below); faceres is the
    # default network since issue 12, so the server is told.
    "$ft" serve --db "$url" --spool "$out/spool.db" --port "$sport" --descriptor resnet128 \
        --models "${FT_MODELS_DIR:-.cache/face-api-1.7.15/model}" >"$out/serve.log" 2>&1 &
    spid=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$sport/readyz"; do sleep 0.01; done
    t1=$(date +%s%N)
    curl -sf -H 'X-Requested-With: scale.sh' -o "$out/identify.json" \
        -F photo=@.cache/face-api-1.7.15/demo/sample1.jpg "http://127.0.0.1:$sport/api/v1/identify" ||
        echo "identify failed" | tee -a "$log"
    t2=$(date +%s%N)
    say "serve ($1): /readyz $(( (t1 - t0) / 1000000 )) ms, first identify answered $(( (t2 - t0) / 1000000 )) ms after exec; load average $(cut -d' ' -f1 /proc/loadavg)"
    kill "$spid"
    wait "$spid" 2>/dev/null || true
}
want_serve=no
case "$parts" in *" serve "*) want_serve=yes ;; esac
if [ "$want_serve" = yes ] && [ -f .cache/face-api-1.7.15/demo/sample1.jpg ] && [ -x "$ft" ]; then
    sport=${SERVE_PORT:-18731}
    space="face_recognition_model@face-api-1.7.15/similarity" # resnet128, similarity alignment
    sh tests/tools/pg_cluster.sh start "$dir" "$port" >/dev/null
    "$bench" pg-fill "$url" 1 1 "$space" >/dev/null # the schema; one person
    psql "$url" -qc "DELETE FROM samples"
    for i in 1 2 3; do serve_start "empty gallery"; done
    "$bench" pg-fill "$url" 100000 1 "$space" | tail -1 | tee -a "$log"
    for i in 1 2 3; do serve_start "100k people x 1"; done
    psql "$url" -qc "INSERT INTO samples (person_id, descriptor, model, alignment, dim, detector_score, face_w, face_h, created_at) SELECT person_id, descriptor, model, alignment, dim, detector_score, face_w, face_h, created_at FROM samples CROSS JOIN generate_series(1, 2)"
    psql "$url" -qc "UPDATE gallery_version SET generation = generation + 1"
    for i in 1 2 3; do serve_start "100k people x 3"; done
fi
say "# done $(date -u +%Y-%m-%dT%H:%MZ); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
