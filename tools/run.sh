#!/usr/bin/env bash
# The main job: detect faces on the npm package's demo photos and write
# annotated copies to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
mkdir -p out
for f in .cache/face-api-1.7.15/demo/sample*.jpg; do
  "$build/facetracker" detect --draw "out/$(basename "${f%.jpg}")-faces.jpg" "$f"
done
echo "annotated photos written to out/"
