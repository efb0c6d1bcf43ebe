#!/usr/bin/env bash
# Runs the benchmarks side by side in one go and prints Markdown for
# docs/BENCHMARKS.md: the machine, our pipeline (bench_face), face-api with
# its wasm backend on the same photos (tools/faceapi-oracle), the engine
# kernels (bench_nn) and 1:N search (bench_gallery).
#   bench/run.sh [BUILD_DIR]      (configure with -DFT_BUILD_BENCH=ON; `make bench` does)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
assets=.cache/face-api-1.7.15
tmp=$(mktemp -d)
fa_runs=$(( ${RUNS:-9} + 1 )) # face-api: run 1 is cold, the median is over the rest
trap 'rm -rf "$tmp"' EXIT

echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- compiler: $(cc --version | head -1); facetracker $("$build/facetracker" --version | cut -d' ' -f2-)"
echo
echo "### facetracker pipeline (bench_face; medians)"
echo
"$build/bench/bench_face" --runs "${RUNS:-9}" --ppm-out "$tmp" "$assets" | tee "$tmp/face.md"
echo
echo "### face-api 1.7.15, tfjs wasm backend (SIMD, 1 thread), same photos, same run"
echo
[ -d tools/faceapi-oracle/node_modules ] || (cd tools/faceapi-oracle && npm ci --ignore-scripts --silent)
echo "| photo | ssd ms | tiny 416 ms | tiny 320 ms |"
echo "|---|---|---|---|"
for p in vga sample1 square; do
  node tools/faceapi-oracle/oracle.js "$tmp/$p.ppm" --backend wasm --repeat "$fa_runs" --no-check \
    --compact --out "$tmp/$p.416.json" 2>/dev/null
  node tools/faceapi-oracle/oracle.js "$tmp/$p.ppm" --backend wasm --repeat "$fa_runs" --no-check \
    --tiny-input-size 320 --compact --out "$tmp/$p.320.json" 2>/dev/null
  node -e '
    const a = require(process.argv[1]), b = require(process.argv[2]);
    const w = a.timings_ms.warm_median, w2 = b.timings_ms.warm_median;
    console.log(`| ${process.argv[3]} | ${w.ssd.toFixed(1)} | ${w.tiny.toFixed(1)} | ${w2.tiny.toFixed(1)} |`);
  ' "$tmp/$p.416.json" "$tmp/$p.320.json" "$p"
  node -e 'console.log(require(process.argv[1]).timings_ms.warm_median.ssd)' "$tmp/$p.416.json" \
    > "$tmp/$p.faceapi_ssd"
done
echo
echo "SSD, 1 thread, face-api wasm / facetracker (preprocess + network + NMS, wall; detect CPU):"
echo
echo "| photo | face-api ms | facetracker wall ms | CPU ms | ratio (wall) | ratio (CPU) |"
echo "|---|---|---|---|---|---|"
for p in vga sample1 square; do
  case $p in
    vga) rowpat='^\| ssd 512 \| 640x480 \| 1 \|' ;;
    sample1) rowpat='^\| ssd 512 \| 1920x1280 \(sample1\) \| 1 \|' ;;
    *) rowpat='^\| ssd 512 \| 480x480 \(square\) \| 1 \|' ;;
  esac
  grep -E "$rowpat" "$tmp/face.md" | awk -F'|' -v fa="$(cat "$tmp/$p.faceapi_ssd")" -v p="$p" '{
    wall = $7 + $8 + $9; cpu = $11;
    printf "| %s | %.1f | %.2f | %.2f | %.2fx | %.2fx |\n", p, fa, wall, cpu, fa / wall, fa / cpu }'
done
echo
echo "(face-api's stage times include its pre- and post-processing, as facetracker's network+preprocess+NMS columns do; warm median of runs 2-$fa_runs.)"
echo
if [ -x "$build/bench/bench_gallery" ]; then
  echo "### 1:N search and enrolment (bench_gallery)"
  echo
  "$build/bench/bench_gallery"
fi
