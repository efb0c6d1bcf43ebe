#!/bin/sh
# The issue-14 run of docs/TRAINING.md: the data, then `augment` and `train`
# with their DEFAULTS (no flags), evaluation on val and test with contact
# sheets, timed, with the load average sampled every 20 s.
# Run it in an empty folder: FT=path/to/facetracker sh run.sh
set -e
REPO=$(cd "$(dirname "$0")/../.." && pwd)
FT=${FT:-facetracker}
T0=$(date +%s)
(while :; do cat /proc/loadavg; sleep 20; done) > load.txt &
LOADPID=$!
/usr/bin/python3 "$REPO/tools/make_train_dataset.py" labelme --seed 7 --neg 60
$FT dataset import-labelme labelme --out ds
$FT dataset split ds --train 0.7 --val 0.15 --test 0.15 --seed 1
$FT dataset augment ds --preview preview.jpg
T1=$(date +%s)
$FT train ds --out facetracker.h5 --quiet
T2=$(date +%s)
kill $LOADPID
awk '{s += $1; if ($1 > m) m = $1; n++} END {printf "load average (1 min) during the run: mean %.1f, max %.1f, %d samples\n", s / n, m, n}' load.txt
$FT evaluate-model facetracker.h5 ds --split val --draw draw-val
$FT evaluate-model facetracker.h5 ds --split test --draw draw-test
echo "data prep $((T1-T0)) s, training $((T2-T1)) s, total $((T2-T0)) s"
