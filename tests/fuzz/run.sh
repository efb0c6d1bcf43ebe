#!/bin/sh
# Runs one libFuzzer target the way docs/FUZZING.md records it, then merges
# what it found into the committed corpus (tests/fuzz/corpus/NAME, minimised
# with -merge=1). Usage, from the repository root, after building with
#   CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFT_FUZZ=ON \
#     -DFT_SANITIZE="address;undefined" && cmake --build build-fuzz -j2
# is:
#   tests/fuzz/run.sh NAME RUNS MAX_LEN [extra libFuzzer flags...]
# e.g. tests/fuzz/run.sh json 1000000 16384. The work corpus and the log are
# kept in build-fuzz/fuzz-work/NAME/ (log: fuzz.log; crashes: crash-*).
# Environment: BUILD (default build-fuzz), MERGE=0 to skip the merge.
set -eu
name=$1 runs=$2 maxlen=$3
shift 3
build=${BUILD:-build-fuzz}
bin=$build/tests/fuzz_$name
work=$build/fuzz-work/$name
mkdir -p "$work/corpus"
cp -n tests/fuzz/corpus/"$name"/* "$work/corpus/" 2>/dev/null || true
start=$(date +%s)
set +e
nice -n 19 "$bin" -runs="$runs" -max_len="$maxlen" -rss_limit_mb=2048 -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$work/" "$@" "$work/corpus" \
    tests/fuzz/corpus/"$name" >"$work/fuzz.log" 2>&1
rc=$?
set -e
echo "fuzz_$name: exit $rc after $(($(date +%s) - start)) s" >>"$work/fuzz.log"
grep -E '^#[0-9]+.*(DONE|INITED)|stat::number_of_executed_units|stat::average_exec_per_sec' \
    "$work/fuzz.log" | tail -4
tail -1 "$work/fuzz.log"
if [ "${MERGE:-1}" = 1 ]; then
    rm -rf "$work/merged" && mkdir -p "$work/merged"
    nice -n 19 "$bin" -merge=1 -max_len="$maxlen" -rss_limit_mb=2048 -timeout=25 \
        "$work/merged" tests/fuzz/corpus/"$name" "$work/corpus" >"$work/merge.log" 2>&1
    echo "merged: $(ls "$work/merged" | wc -l) files, $(cat "$work"/merged/* | wc -c) bytes"
fi
exit $rc
