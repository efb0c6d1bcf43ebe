#!/bin/sh
# The real run of docs/TRAINING.md: data, training, evaluation, timed, with
# the load average sampled every 20 s.
set -e
# Run it in an empty folder: FT=path/to/facetracker sh run.sh
REPO=$(cd "$(dirname "$0")/../.." && pwd)
FT=${FT:-facetracker}
FROM=${FROM:-25}
T0=$(date +%s)
(while :; do cat /proc/loadavg; sleep 20; done) > load.txt &
LOADPID=$!
/usr/bin/python3 "$REPO/tools/make_train_dataset.py" labelme --seed 7 --neg 60
$FT dataset import-labelme labelme --out ds
$FT dataset split ds --train 0.7 --val 0.15 --test 0.15 --seed 1
$FT dataset augment ds --per-image 30 --seed 1 --crop-frac 0.85 --preview preview.jpg
T1=$(date +%s)
$FT train ds --out facetracker.h5 --epochs 12 --patience 3 --seed 1 --threads 2 \
    --fine-tune --fine-tune-from $FROM --quiet
T2=$(date +%s)
kill $LOADPID
awk '{s += $1; if ($1 > m) m = $1; n++} END {printf "load average (1 min) during the run: mean %.1f, max %.1f, %d samples\n", s / n, m, n}' load.txt
$FT evaluate-model facetracker.h5 ds --split val
echo "data prep $((T1-T0)) s, training $((T2-T1)) s, total $((T2-T0)) s"
