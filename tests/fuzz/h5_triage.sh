#!/bin/sh
# Sorts the crash-* files of an h5 fuzzing run (tests/fuzz/run.sh h5 ...)
# by where they crash: "libhdf5" when the innermost frame that is not libc
# or a sanitizer interceptor lies in libhdf5 (a libhdf5 finding: the input
# is moved to tests/fuzz/known/h5-libhdf5/ with its report's first lines),
# "ours" otherwise (a bug of ours: fix it, then add the input to
# tests/fuzz/corpus/h5/). Usage: tests/fuzz/h5_triage.sh [WORKDIR]
set -u
work=${1:-build-fuzz/fuzz-work/h5}
bin=${BUILD:-build-fuzz}/tests/fuzz_h5_replay
known=tests/fuzz/known/h5-libhdf5
mkdir -p "$known"
for f in "$work"/crash-*; do
    [ -e "$f" ] || continue
    rep=$(ASAN_OPTIONS=detect_leaks=0 "$bin" "$f" 2>&1)
    frame=$(printf '%s\n' "$rep" | grep -E '^ +#[0-9]+ ' | grep -v -E 'libc\.so|__interceptor_|string/\.\./|sysdeps/|libclang_rt|in (__)?mem(cpy|move|set|cmp)|in str' | head -1)
    sum=$(printf '%s\n' "$rep" | grep -m1 -E 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error' | sed 's/^==[0-9]*==//')
    case "$frame" in
    *libhdf5*)
        h=$(basename "$f")
        # One input per kind of report and first libhdf5 function named.
        kind=$(printf '%s\n' "$sum" | sed -E 's/^ERROR: [A-Za-z]+: //; s/ (on|at) .*//; s/: .*//')
        fn=$(printf '%s\n' "$rep" | grep -E '^ +#[0-9]+ ' | grep -m1 -oE 'in H5[A-Za-z0-9_]+' | cut -c4-)
        sig="$kind in $fn"
        if grep -qxF "signature: $sig" "$known"/*.txt 2>/dev/null; then
            echo "libhdf5 (seen) $h: $sig"
            continue
        fi
        cp "$f" "$known/$h"
        { echo "signature: $sig"; echo "$sum" | sed -E 's/0x[0-9a-f]+/0x.../g'
          printf '%s\n' "$rep" | grep -E '^ +#[0-9]+ ' | head -8 |
              sed -E 's/ \(BuildId: [0-9a-f]*\)//; s/0x[0-9a-f]+ in //; s/ 0x[0-9a-f]+ / /; s/\(\/[^ )]*\/(lib[^/ )]*)\+0x[0-9a-f]+\)/(\1)/; s/\(\/[^ )]*\/(fuzz_h5[_a-z]*)\+0x[0-9a-f]+\)/(\1)/'
        } >"$known/$h.txt"
        echo "libhdf5 $h: $sig" ;;
    "")
        echo "no-crash $(basename "$f")" ;;
    *)
        echo "OURS $(basename "$f"): $sum"
        echo "    $frame" ;;
    esac
done
