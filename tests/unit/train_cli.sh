#!/bin/sh
# CLI test of `facetracker dataset autolabel` (train.cli_autolabel): labels
# demo photos with the SSD detector into a folder elsewhere, then imports
# that folder. imagePath must be relative to the JSON's folder (as labelme
# writes it) so the import finds the photos. Usage: train_cli.sh FACETRACKER
#
# With "defaults SRCDIR" after FACETRACKER: the training defaults
# (train.cli_defaults): `augment` and `train` without flags on the labelme
# fixture (3 photos; 1 epoch, 2 samples a photo so it takes seconds): the
# JSON names the chosen defaults (fine-tune from conv 25, GIoU weighted 0.25, box prior), the
# history .svg carries the val IoU histogram, `evaluate-model --draw`
# writes the contact sheet, and a bad --box-loss is a usage error.
set -eu
FT=$1
if [ "${2:-}" = defaults ]; then
    SRC=$3
    A=${FT_ASSETS_DIR:?}
    [ -f "$A/model/ssd_mobilenetv1_model-weights_manifest.json" ] ||
        { echo "skip: no SSD model under $A"; exit 77; }
    T=$(mktemp -d /tmp/ft_cli_train_defaults.XXXXXX)
    trap 'rm -rf "$T"' EXIT
    cd "$T"
    "$FT" dataset import-labelme "$SRC/tests/data/labelme/good" --out ds > /dev/null
    "$FT" dataset split ds --train 0.34 --val 0.33 --test 0.33 --seed 1 > /dev/null
    "$FT" dataset augment ds --per-image 2 > aug.txt
    cat aug.txt
    "$FT" train ds --out m.h5 --epochs 1 --models "$A/model" --quiet > train.txt
    cat train.txt
    grep -q '"mode": "fine-tune", "fine_tune_from": 25, "box_loss": "giou", "box_weight": 0.25' train.txt
    grep -q '"lr_schedule": "inverse-time", "box_prior": true' train.txt
    grep -q '"val_photos_mean_iou"' train.txt
    grep -q 'val photos: IoU of' m.h5.history.svg
    "$FT" evaluate-model m.h5 ds --split val --draw sheet > ev.txt
    cat ev.txt
    grep -q '"flip": true' ev.txt
    [ -s sheet/contact.jpg ]
    "$FT" evaluate-model m.h5 ds --split val --no-flip | grep -q '"flip": false'
    rc=0
    "$FT" train ds --out m2.h5 --box-loss iou 2> err.txt || rc=$?
    [ "$rc" -eq 1 ]
    grep -q 'expected prototype, giou, diou or ciou' err.txt
    echo ok
    exit 0
fi
A=${FT_ASSETS_DIR:?}
[ -f "$A/demo/sample1.jpg" ] && [ -f "$A/model/ssd_mobilenetv1_model-weights_manifest.json" ] ||
    { echo "skip: no demo photos or models under $A"; exit 77; }
T=$(mktemp -d /tmp/ft_cli_autolabel.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/photos"
cp "$A/demo/sample1.jpg" "$A/demo/sample3.jpg" "$T/photos/"
cd "$T"
"$FT" dataset autolabel photos/sample1.jpg "$A/demo/sample2.jpg" --out labels \
    --models "$A/model" > out.txt
cat out.txt
[ "$(wc -l < out.txt)" -eq 2 ]
grep -q '"imagePath": "../photos/sample1.jpg"' labels/sample1.json
grep -q '"faces": 3' out.txt
"$FT" dataset import-labelme labels --out ds > imp.txt
cat imp.txt
grep -q '"ok": true' imp.txt
grep -q '"photos": 2' imp.txt
[ "$(grep -c '"boxes"' ds/dataset.jsonl)" -eq 2 ]
# A JSON next to its photo, and a second run over the same folder.
"$FT" dataset autolabel photos/sample3.jpg --out photos --models "$A/model" > /dev/null
grep -q '"imagePath": "sample3.jpg"' photos/sample3.json
"$FT" dataset import-labelme photos --out ds2 | grep -q '"ok": true'
echo ok
