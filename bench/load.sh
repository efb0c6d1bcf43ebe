#!/bin/bash
# Web server load benchmark (issue 4): wrk against POST /api/prediction of
# `facetracker serve` on 127.0.0.1 (loopback only), with a 640x480 JPEG
# holding one face. Prints a Markdown report: startup, CPU time of one
# request and the compute bound (cores / that time), then for concurrency
# 1, 2, 8 and 32 requests per second, p50/p95/p99 latency, errors, the CPU
# the server got, and its resident memory over the run.
#
# usage: bench/load.sh [BUILD_DIR]        (default: build)
# env:   FT_BENCH_DURATION  seconds per wrk run at c = 1, 2, 8 (default 20)
#        FT_BENCH_LONG      seconds of the c = 32 run (default 60)
#        FT_BENCH_SEQ       sequential requests for the CPU time (default 30)
#        FT_BENCH_THREADS   --threads for serve (default: serve's, one per core)
#        FT_BENCH_CAMERAS   camera watchers running in the server meanwhile (default 0):
#                           each plays a 640x480 25 fps H.264 file at its own rate
#                           (tools/make_test_video.sh, 120 s), detecting on every
#                           FT_BENCH_CAMERA_EVERY-th frame (default 5). Their CPU,
#                           measured while no request runs, is taken off the cores
#                           for the compute bound and for "of CPU got".
# needs: wrk (apt-get install wrk), jpegtran (libjpeg-turbo-progs), curl.
#
# The image: facetracker convert writes demo/sample1.jpg (1920x1280, three
# faces) as a plain JPEG, then jpegtran -crop cuts the 640x480 window at
# (144, 240), which holds the left face only (its box is about 178x238 px
# at (414, 355) in the full photo); the script checks that exactly one face
# is detected in it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build}
bin=$build/facetracker
dur=${FT_BENCH_DURATION:-20}
long=${FT_BENCH_LONG:-60}
n_seq=${FT_BENCH_SEQ:-30}
assets=${FT_ASSETS_DIR:-$root/.cache/face-api-1.7.15}
hz=$(getconf CLK_TCK)
cores=$(nproc)

for t in wrk jpegtran curl; do
    command -v "$t" >/dev/null || { echo "load.sh: needs $t" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "load.sh: no $bin (build first)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/ft_load.XXXXXX)
pid=""
sampler=""
cleanup() {
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

log() { echo "load.sh: $*" >&2; }

# ---- The image ----

img=$tmp/face640.jpg
"$bin" convert "$assets/demo/sample1.jpg" "$tmp/full.jpg"
jpegtran -crop 640x480+144+240 -copy none -outfile "$img" "$tmp/full.jpg"
faces=$("$bin" detect "$img" | grep -o '"box"' | wc -l)
[ "$faces" = 1 ] || { log "expected one face in the 640x480 crop, found $faces"; exit 1; }

# ---- Cameras ----

n_cams=${FT_BENCH_CAMERAS:-0}
cam_args=()
if [ "$n_cams" -gt 0 ]; then
    "$bin" convert "$assets/demo/sample3.jpg" "$tmp/s3.jpg"
    jpegtran -crop 600x560+850+80 -copy none -outfile "$tmp/cam.jpg" "$tmp/s3.jpg"
    "$root/tools/make_test_video.sh" "$tmp/cam.mp4" 60 "$tmp/cam.jpg" "$tmp/s3.jpg" 60
    for ((k = 1; k <= n_cams; k++)); do cam_args+=(--camera "cam$k=$tmp/cam.mp4"); done
    cam_args+=(--detect-every "${FT_BENCH_CAMERA_EVERY:-5}")
fi

# ---- Helpers ----

# Sleeps $1 seconds without a fork (a read that times out on a FIFO no one
# writes): the polling below must not eat the CPU of the start it times.
mkfifo "$tmp/never"
exec {never}<>"$tmp/never"
nap() { read -r -t "$1" -u "$never" _ || true; }

# HTTP status of GET $2 on 127.0.0.1:$1 into $status (0 if nothing
# answers), with bash's /dev/tcp: no fork, so polling does not slow the
# start it measures.
http_status() {
    local fd line
    status=0
    { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&"$fd"
    line=""
    read -r -t 5 line <&"$fd" || true
    exec {fd}>&-
    line=${line#HTTP/1.? }
    status=${line%% *}
}

# Starts the server on a free port (--port 0; the port comes from its log
# line); sets pid, port, t_health, t_ready (ms from exec).
start_server() {
    local db=$tmp/bench.db t0 now line
    rm -f "$db" "$db-wal" "$db-shm" "$tmp/serve.log"
    port=""
    t0=${EPOCHREALTIME/./}
    "$bin" serve --port 0 --db "$db" ${FT_BENCH_THREADS:+--threads $FT_BENCH_THREADS} \
        "${cam_args[@]}" 2>"$tmp/serve.log" &
    pid=$!
    while :; do
        now=${EPOCHREALTIME/./}
        ((now - t0 < 10000000)) || { log "no port after 10 s"; cat "$tmp/serve.log" >&2; exit 1; }
        if [ -z "$port" ]; then
            line=""
            { IFS= read -r line <"$tmp/serve.log"; } 2>/dev/null || true
            if [[ $line =~ http://127\.0\.0\.1:([0-9]+)/ ]]; then
                port=${BASH_REMATCH[1]}
            else
                nap 0.002
                continue
            fi
        fi
        http_status "$port" /healthz
        [ "$status" = 200 ] && break
        nap 0.002
    done
    t_health=$(((${EPOCHREALTIME/./} - t0) / 1000))
    while http_status "$port" /readyz && [ "$status" != 200 ]; do
        now=${EPOCHREALTIME/./}
        ((now - t0 < 30000000)) || { log "not ready after 30 s"; exit 1; }
        nap 0.005
    done
    t_ready=$(((${EPOCHREALTIME/./} - t0) / 1000))
}

stop_server() {
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
}

cpu_ticks() { # utime + stime of the server, in clock ticks
    local f
    read -r -a f <"/proc/$pid/stat"
    # Fields after the "(comm)" one; comm has no spaces here.
    echo $((f[13] + f[14]))
}

machine_ticks() { # busy and total jiffies of the whole machine (/proc/stat)
    local cpu u n s i w q sq st rest
    read -r cpu u n s i w q sq st rest </proc/stat
    echo "$((u + n + s + q + sq + st)) $((u + n + s + i + w + q + sq + st))"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"; }

post_one() {
    curl -s -o /dev/null -w '%{http_code}' -H 'X-Requested-With: curl' -F "fileImg=@$img;type=image/jpeg" \
        "http://127.0.0.1:$port/api/prediction"
}

# ---- Startup ----

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
compiler=$(readelf -p .comment "$bin" 2>/dev/null | grep -o 'GCC: .*' | head -n 1 || true)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

health=()
ready=()
for i in 1 2 3 4 5; do
    start_server
    health+=("$t_health")
    ready+=("$t_ready")
    [ "$i" = 5 ] || stop_server
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
max() { printf '%s\n' "$@" | sort -n | tail -n 1; }

# ---- The cameras' CPU ----

# With cameras, the server's CPU while no request runs is theirs: measured
# over 10 s, in cores, and taken off below.
cam_cores=0
if [ "$n_cams" -gt 0 ]; then
    nap 3
    c0=$(cpu_ticks)
    w0=${EPOCHREALTIME/./}
    nap 10
    w1=${EPOCHREALTIME/./}
    c1=$(cpu_ticks)
    cam_cores=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v w=$((w1 - w0)) 'BEGIN { printf "%.2f", t / hz / (w / 1e6) }')
fi

# ---- CPU time of one request ----

# Warm-up: requests in pairs, so every worker has run the whole pipeline
# (its inference arena at full size) before anything is measured.
for i in 1 2 3 4; do
    post_one >"$tmp/a" &
    s=$(post_one)
    wait $!
    [ "$s" = 200 ] && [ "$(<"$tmp/a")" = 200 ] || { log "warm-up request failed"; exit 1; }
done
rss_warm=$(rss_kb)
c0=$(cpu_ticks)
w0=${EPOCHREALTIME/./}
for ((i = 0; i < n_seq; i++)); do
    s=$(post_one)
    [ "$s" = 200 ] || { log "request answered $s"; exit 1; }
done
w1=${EPOCHREALTIME/./}
c1=$(cpu_ticks)
# The cameras' share of that time is not the requests'.
cpu_req_ms=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$n_seq" -v cc="$cam_cores" -v w=$((w1 - w0)) \
    'BEGIN { printf "%.1f", (t / hz - cc * w / 1e6) * 1000 / n }')
wall_req_ms=$(awk -v w=$((w1 - w0)) -v n="$n_seq" 'BEGIN { printf "%.1f", w / 1000 / n }')
cores_left=$(awk -v c="$cores" -v cc="$cam_cores" 'BEGIN { printf "%.2f", c - cc }')
bound=$(awk -v c="$cores_left" -v ms="$cpu_req_ms" 'BEGIN { printf "%.2f", c * 1000 / ms }')

# ---- wrk runs ----

# Resident memory once a second, into rss.txt (seconds since start, KiB).
(
    t=0
    while [ -r "/proc/$pid/status" ]; do
        echo "$t $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)"
        sleep 1
        t=$((t + 1))
    done
) >"$tmp/rss.txt" &
sampler=$!

# wrk stops with requests still queued in the server (their clients gone);
# the next run starts once they are done, so it gets the whole queue.
drain() {
    local i
    for ((i = 0; i < 600; i++)); do
        curl -s "http://127.0.0.1:$port/healthz" | grep -q '"queue": *0[,}]' && return
        nap 0.1
    done
    log "the queue did not drain in 60 s"
    exit 1
}

rows=()
errors_total=0
for c in 1 2 8 32; do
    drain
    d=$dur
    [ "$c" = 32 ] && d=$long
    th=$((c < 2 ? c : 2))
    rss0=$(rss_kb)
    c0=$(cpu_ticks)
    read -r mb0 mt0 <<<"$(machine_ticks)"
    w0=${EPOCHREALTIME/./}
    out=$(FT_BENCH_IMAGE=$img timeout $((d + 60)) wrk -t "$th" -c "$c" -d "${d}s" --timeout 30s \
        -s "$here/prediction.lua" "http://127.0.0.1:$port/api/prediction")
    w1=${EPOCHREALTIME/./}
    c1=$(cpu_ticks)
    read -r mb1 mt1 <<<"$(machine_ticks)"
    line=$(grep '^FTBENCH ' <<<"$out") || { echo "$out" >&2; log "wrk gave no result"; exit 1; }
    declare -A r=()
    for kv in ${line#FTBENCH }; do r[${kv%%=*}]=${kv#*=}; done
    errs=$((r[non2xx] + r[connect] + r[read] + r[write] + r[timeout]))
    errors_total=$((errors_total + errs))
    # Cores the server used, and its CPU time per answered request.
    used=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v w=$((w1 - w0)) 'BEGIN { printf "%.2f", t / hz / (w / 1e6) }')
    cpr=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="${r[requests]}" 'BEGIN { printf "%.1f", n ? t * 1000 / hz / n : 0 }')
    pct=$(awk -v x="${r[rps]}" -v b="$bound" 'BEGIN { printf "%.0f", 100 * x / b }')
    # Others' share of the machine during the run, in cores: what the
    # server could not have had.
    others=$(awk -v b=$((mb1 - mb0)) -v t=$((mt1 - mt0)) -v c="$cores" -v u="$used" \
        'BEGIN { o = t ? c * b / t - u : 0; printf "%.2f", (o < 0 ? 0 : o) }')
    # Throughput over what the CPU the server got allows at the c = 1 cost.
    eff=$(awk -v x="${r[rps]}" -v u="$used" -v ms="$cpu_req_ms" -v cc="$cam_cores" \
        'BEGIN { u -= cc; printf "%.0f", (u > 0 ? 100 * x * ms / 1000 / u : 0) }')
    rows+=("| $c | $d s | ${r[requests]} | $(printf '%.2f' "${r[rps]}") | $pct % | ${r[p50_ms]} | ${r[p95_ms]} | ${r[p99_ms]} | $errs | $used | $others | $eff % | $cpr | $((rss0 / 1024)) → $(($(rss_kb) / 1024)) |")
    unset r
done
rss_end=$(rss_kb)
hwm=$(hwm_kb)
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""
rss_max=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$tmp/rss.txt")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
stop_server

# ---- Report ----

growth=$(awk -v a="$rss_warm" -v b="$rss_end" 'BEGIN { printf "%+.1f", 100 * (b - a) / a }')
cat <<EOF
- Date: $(date -u +%Y-%m-%d), $(uname -m), $cores cores ($cpu_model), ${compiler:-unknown compiler}.
- Load average (1/5/15 min) before: $load_before; after: $load_after.
- Image: 640x480 JPEG, $(stat -c %s "$img") bytes, one face. Server: \`facetracker serve\`, ${FT_BENCH_THREADS:-$cores} inference workers, SSD detector.
- Startup, exec to first answer (5 starts, median / max): /healthz $(median "${health[@]}") / $(max "${health[@]}") ms; /readyz (models loaded) $(median "${ready[@]}") / $(max "${ready[@]}") ms.
- CPU time of one request: $cpu_req_ms ms (server CPU over $n_seq sequential requests; $wall_req_ms ms wall each).
- Camera watchers in the server: $n_cams${cam_args[*]:+ (${cam_args[*]##*--detect-every } = detect every N-th frame)}, using $cam_cores cores with no request running.
- Compute bound: $cores_left cores left to requests / $cpu_req_ms ms = **$bound requests/s**.

| concurrency | duration | requests | req/s | of bound | p50 ms | p95 ms | p99 ms | errors | server cores | others' cores | of CPU got | CPU ms/req | RSS MiB, start → end |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")

"of bound": req/s over the compute bound. "server cores": the server's CPU time over the run's wall time; "others' cores": the rest of the machine's busy time (other processes, wrk), in cores. "of CPU got": req/s over (server cores / CPU time of one request), i.e. how much of the CPU the server did get became answers. Errors are wrk's connect/read/write/timeout errors plus 4xx/5xx answers. Resident memory: $((rss_warm / 1024)) MiB after warm-up (every model loaded, four pairs of concurrent requests answered), max $((rss_max / 1024)) MiB during the runs, $((rss_end / 1024)) MiB at the end ($growth % since warm-up), peak (VmHWM) $((hwm / 1024)) MiB.
EOF
[ "$errors_total" = 0 ] || exit 1
