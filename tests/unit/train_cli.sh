#!/bin/sh
# CLI test of `facetracker dataset autolabel` (train.cli_autolabel): labels
# demo photos with the SSD detector into a folder elsewhere, then imports
# that folder. imagePath must be relative to the JSON's folder (as labelme
# writes it) so the import finds the photos. Usage: train_cli.sh FACETRACKER
set -eu
FT=$1
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
