#!/usr/bin/env bash
# Regenerates tests/golden/faceapi/sampleN.json from face-api itself (the
# reference), never from facetracker's own outputs. For each demo photo:
#   1. face-api (tools/faceapi-oracle, tfjs cpu backend) on the JPEG as
#      face-api decodes it (jpeg-js): the end-to-end reference;
#   2. facetracker's decoder writes the pixels it sees to a PPM
#      (`facetracker convert`), and face-api runs on exactly those pixels:
#      the same-pixels reference for raw SSD outputs, landmarks and
#      descriptors.
# tools/golden_trim.js keeps the fields the tests read.
#
# usage: tools/gen_goldens.sh [BUILD_DIR]     (needs `npm ci` in tools/faceapi-oracle)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
oracle=tools/faceapi-oracle
[ -d $oracle/node_modules ] || (cd $oracle && npm ci --ignore-scripts --silent)
out=tests/golden/faceapi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p $out
for i in 1 2 3 4 5 6; do
  jpg=.cache/face-api-1.7.15/demo/sample$i.jpg
  "${FT_BIN:-$build/facetracker}" convert "$jpg" "$tmp/sample$i.ppm"
  node $oracle/oracle.js "$jpg" --repeat 1 --compact --no-check --out "$tmp/jpg.json" 2>/dev/null
  node $oracle/oracle.js "$tmp/sample$i.ppm" --repeat 1 --compact --raw-top 100 \
       --out "$tmp/ppm.json" 2>/dev/null
  node tools/golden_trim.js "$tmp/jpg.json" "$tmp/ppm.json" "sample$i.jpg" > "$out/sample$i.json"
  echo "golden: $out/sample$i.json"
done
