#!/bin/sh
# CLI test of `facetracker evaluate-recognition`'s leave-one-set-out and its
# descriptor cache (openset.cli_loso). Two sets that are byte copies of each
# other, three identities of two byte-identical photos each (the npm demo
# photos; the subject is whoever the subject rule picks, the same in both
# copies). The known answer, independent of any network: every same-person
# pair has distance 0 and every different-person pair a positive one, the
# same in both sets; the threshold chosen on the other set is the middle
# of the best plateau, half its smallest different-person distance, so each
# set scores 100 % for every space and fusion. A second run takes every
# photo from the cache and prints the same study.
# Every run names face-api's SSD (--detector ssd), not the default YuNet:
# the last check needs sets a and c to differ in every space's best
# threshold, which holds for the subjects the SSD's boxes give; with
# YuNet's, the fused space at weight 0.6 has the same best threshold in
# both sets and that check would prove nothing.
# Usage: openset_cli.sh FACETRACKER (FT_ASSETS_DIR: face-api's folder, with
# human-3.3.6 beside it).
set -eu
FT=$1
A=${FT_ASSETS_DIR:?}
FR="$A/../human-3.3.6/models"
[ -f "$A/model/ssd_mobilenetv1_model-weights_manifest.json" ] && [ -f "$FR/faceres.json" ] ||
    { echo "skip: no SSD or faceres model under $A"; exit 77; }
T=$(mktemp -d /tmp/ft_cli_openset.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/a"
echo "identity,image" > "$T/a/identities.csv"
for i in 1 2 3; do
    mkdir -p "$T/a/p$i"
    cp "$A/demo/sample$i.jpg" "$T/a/p$i/x.jpg"
    cp "$A/demo/sample$i.jpg" "$T/a/p$i/y.jpg"
    printf 'p%s,p%s/x.jpg\np%s,p%s/y.jpg\n' $i $i $i $i >> "$T/a/identities.csv"
done
cat > "$T/a/pairs.csv" <<'CSV'
image_a,image_b,same
p1/x.jpg,p1/y.jpg,1
p2/x.jpg,p2/y.jpg,1
p3/x.jpg,p3/y.jpg,1
p1/x.jpg,p2/x.jpg,0
p1/y.jpg,p3/x.jpg,0
p2/y.jpg,p3/y.jpg,0
CSV
cp -r "$T/a" "$T/b"
run() {
    "$FT" evaluate-recognition --detector ssd --models "$A/model" --faceres "$FR" --threads 1 \
        --cache "$T/desc.cache" "$@" "$T/a" "$T/b" 2> "$T/err.txt"
}
run > "$T/1.json"
cat "$T/1.json"
grep -q '"photos": 12, "photos_without_face": 0' "$T/1.json"
grep -q '"photos_from_cache": 0' "$T/1.json"
# Seven spaces (resnet128, faceres, five fusion weights), each pooled 1.0.
[ "$(grep -o '"loso_pooled": 1.0000, "loso_errors": 0' "$T/1.json" | wc -l)" -eq 7 ]
grep -q '"best_by_leave_one_set_out": {"space": "resnet128", "weight_resnet128": 1.00, "loso_pooled": 1.0000}' "$T/1.json"
run > "$T/2.json"
grep -q '"photos_from_cache": 12' "$T/2.json"
# The study from cached descriptors is the study from computed ones.
sed 's/"photos_from_cache": [0-9]*//' "$T/1.json" > "$T/1s.json"
sed 's/"photos_from_cache": [0-9]*//' "$T/2.json" > "$T/2s.json"
cmp "$T/1s.json" "$T/2s.json"
run --descriptor faceres | grep -q '"descriptor": "faceres"'
run --descriptor fused --fuse-weight 0.3 | grep -q '"descriptor": "fused", "fuse_weight": 0.30'
rc=0
run --descriptor mobileface > /dev/null || rc=$?
[ "$rc" -eq 1 ]
grep -q 'expected resnet128, faceres or fused' "$T/err.txt"
# With two sets, "the other sets" is the other set: each set's threshold
# must be the other's own best, not its own (the sets differ: set c is
# made the same way from demo photos 4-6).
mkdir -p "$T/c"
cp "$T/a/identities.csv" "$T/c/identities.csv"
cp "$T/a/pairs.csv" "$T/c/pairs.csv"
for i in 1 2 3; do
    mkdir -p "$T/c/p$i"
    cp "$A/demo/sample$((i + 3)).jpg" "$T/c/p$i/x.jpg"
    cp "$A/demo/sample$((i + 3)).jpg" "$T/c/p$i/y.jpg"
done
"$FT" evaluate-recognition --detector ssd --models "$A/model" --faceres "$FR" --threads 1 \
    --cache "$T/desc.cache" "$T/a" "$T/c" > "$T/3.json" 2> "$T/err.txt"
if command -v python3 > /dev/null; then
    python3 - "$T/3.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for sp in r["leave_one_set_out"]:
    a, c = sp["sets"]
    assert a["threshold_from_others"] == c["own_best_threshold"], sp
    assert c["threshold_from_others"] == a["own_best_threshold"], sp
    assert a["own_best_threshold"] != c["own_best_threshold"], sp  # else vacuous
PY
fi
echo "ok"
