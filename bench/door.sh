#!/usr/bin/env bash
# The door benchmarks (issue "At the door"), side by side in one run, as
# Markdown for docs/BENCHMARKS.md:
#   - `watch`'s pipeline on a 640x480 25 fps H.264 file, as fast as possible,
#     one thread: SSD on every frame, every 2nd and 3rd frame, tiny, YuNet
#     (bench_door speed, interleaved rounds, medians);
#   - latency from the first frame showing a face to the grant, on a live
#     25 fps clock (bench_door latency);
#   - optionally (DOOR_ACCURACY=1, needs ../shared/data) the k-of-n study on
#     passages made from the recognition sets (bench_door accuracy).
# The videos are made from the npm demo photos with tools/make_test_video.sh:
# "Rachel" (sample3, the middle face) for 10 s, then a stranger (sample2,
# right) for 10 s; Rachel is enrolled from sample1 (see tests/unit/test_door.c).
#   bench/door.sh [BUILD_DIR]     (configured with -DFT_BUILD_BENCH=ON)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/facetracker
bench=$build/bench/bench_door
assets=${FT_ASSETS_DIR:-.cache/face-api-1.7.15}
runs=${RUNS:-3}
tmp=$(mktemp -d /tmp/ft_door_bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
[ -x "$bench" ] || { echo "door.sh: no $bench (configure with -DFT_BUILD_BENCH=ON)" >&2; exit 2; }

crop() { ffmpeg -nostdin -loglevel error -y -i "$1" -vf "crop=$2" "$3"; }
crop "$assets/demo/sample1.jpg" 420:450:1390:100 "$tmp/rachel1.jpg"
crop "$assets/demo/sample3.jpg" 600:560:850:80 "$tmp/rachel3.jpg"
crop "$assets/demo/sample2.jpg" 600:560:1250:50 "$tmp/stranger2.jpg"
tools/make_test_video.sh "$tmp/door.mp4" 10 "$tmp/rachel3.jpg" "$tmp/stranger2.jpg" 10
# For the latency: 1 s with no face (a blank wall), then Rachel.
ffmpeg -nostdin -loglevel error -y -f lavfi -i color=c=gray:s=640x480:r=25 -frames:v 1 "$tmp/wall.png"
tools/make_test_video.sh "$tmp/arrive.mp4" 1 "$tmp/wall.png" "$tmp/rachel3.jpg" 3
"$bin" enroll --db "$tmp/g.db" Rachel "$tmp/rachel1.jpg" >/dev/null
# The default network (faceres) at its shipped threshold 0.37: Rachel's two
# photos are 0.28 apart in it (tests/e2e/cli.mjs), other people here >= 0.44.

echo "## Door run of $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- facetracker $("$bin" --version | cut -d' ' -f2-); video: 640x480, 25 fps, H.264, 500 frames (Rachel 10 s, a stranger 10 s)"
echo
echo "### watch's pipeline, as fast as possible, 1 thread (decode + door)"
echo
"$bench" speed "$tmp/door.mp4" "$tmp/g.db" --runs "$runs"
echo
echo "### Latency on a live 25 fps clock (the door takes the newest frame)"
echo
"$bench" latency "$tmp/arrive.mp4" "$tmp/g.db" 1.0
if [ "${DOOR_ACCURACY:-0}" = 1 ]; then
  echo
  echo "### k of n on passages made from ../shared/data/recognition_*"
  echo
  s=../shared/data
  "$bench" accuracy "$tmp/acc" $s/recognition_lfw $s/recognition_yale $s/recognition_bbt \
    $s/recognition_ageitgey $s/recognition_compreface
fi
echo
echo "(load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
