#!/usr/bin/env bash
# The main job: detect faces on the npm package's demo photos (annotated
# copies in out/), then start the web app and print its URL.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
mkdir -p out
for f in .cache/face-api-1.7.15/demo/sample*.jpg; do
  "$build/facetracker" detect --draw "out/$(basename "${f%.jpg}")-faces.jpg" "$f"
done
echo "annotated photos written to out/"
port=${PORT:-8080}
echo "starting the web app: open http://127.0.0.1:$port/ (Ctrl-C stops it; gallery in ./facetracker.db)"
exec "$build/facetracker" serve --port "$port"
