#!/usr/bin/env bash
# Remakes the numbers in docs/ACCURACY.md: evaluate-detection and
# evaluate-recognition on ../shared/data, and face-api's own recognition
# pipeline on the same pairs. Writes JSON to OUT (default out/accuracy) and
# prints the Markdown tables (tools/accuracy_tables.py).
#   tools/accuracy.sh [BUILD_DIR] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-out/accuracy}
data=${FT_DATA:-../shared/data}
F=$build/facetracker
mkdir -p "$out"
for set in detection_mitcmu detection_pascal_dlib detection_compreface_points; do
  for cfg in "ssd 0.5 512" "ssd 0.1 512" "tiny 0.5 416" "tiny 0.1 416" "tiny 0.5 608"; do
    set -- $cfg
    for iou in 0.5 0.4; do
      "$F" evaluate-detection --detector "$1" --min-score "$2" --input-size "$3" --iou "$iou" \
        "$data/$set/annotations.jsonl" > "$out/$set.$1.$2.$3.iou$iou.json" 2>/dev/null || true
    done
  done
done
sets=()
for s in lfw yale bbt ageitgey compreface; do sets+=("$data/recognition_$s"); done
# The recognition tables of docs/ACCURACY.md (issue 3) were made on the SSD's
# boxes: --detector ssd, since the default detector is YuNet (issue 11).
for al in similarity faceapi; do
  for s in "${sets[@]}"; do
    "$F" evaluate-recognition --detector ssd --align "$al" "$s" \
      > "$out/rec.$al.$(basename "$s").json" 2>/dev/null
  done
  "$F" evaluate-recognition --detector ssd --align "$al" --roc "$out/roc.$al.csv" --svg "$out/roc.$al.svg" \
    "${sets[@]}" > "$out/rec.$al.all.json" 2>/dev/null
done
[ -d tools/faceapi-oracle/node_modules ] || (cd tools/faceapi-oracle && npm ci --ignore-scripts --silent)
node tools/faceapi_recognition.js "${sets[@]}" > "$out/rec.faceapi-pipeline.json" 2>/dev/null
python3 tools/accuracy_tables.py "$out"
