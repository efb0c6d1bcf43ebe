#!/bin/sh
# make_test_video.sh: test videos for the frame sources, the door tests and
# the benchmarks, made with the ffmpeg CLI from still photos (the face-api
# demo photos). Faces move: a slow pan and zoom over each photo (zoompan);
# a second photo is a cut to a new scene (a new passage at the door).
#
# Usage:
#   tools/make_test_video.sh [MODE] OUT SECONDS PHOTO [PHOTO2 SECONDS2]
# MODE:
#   (none)     H.264 (libx264, yuv420p) in OUT (.mp4/.mkv), 640x480, 25 fps,
#              exactly 25*(SECONDS[+SECONDS2]) frames, a keyframe every second
#   --mjpeg    the same pictures as Motion JPEG (OUT .avi or .mjpeg)
#   --corrupt  an .mp4 cut after its first 4 KiB: its index ("moov") is
#              missing, so no reader can use it (a clear error, not frames)
# SECONDS must be whole seconds. Exits non-zero on any failure.
#
# Example: tools/make_test_video.sh door.mp4 10 demo/sample1.jpg demo/sample3.jpg 5
set -eu

mode=h264
case "${1:-}" in
--mjpeg) mode=mjpeg; shift ;;
--corrupt) mode=corrupt; shift ;;
esac
if [ $# -ne 3 ] && [ $# -ne 5 ]; then
    sed -n '2,17p' "$0" >&2
    exit 2
fi
out=$1
s1=$2
p1=$3
p2=${4:-}
s2=${5:-0}
case "$s1$s2" in *[!0-9]*) echo "$0: SECONDS must be whole numbers" >&2; exit 2 ;; esac
for p in "$p1" ${p2:+"$p2"}; do
    [ -r "$p" ] || { echo "$0: cannot read $p" >&2; exit 1; }
done

fps=25
n1=$((s1 * fps))
n2=$((s2 * fps))
total=$((n1 + n2))
[ "$total" -gt 0 ] || { echo "$0: no frames asked for" >&2; exit 2; }

# One segment: fill a 1280x960 (4:3) canvas, then over N frames zoom from 1
# to 1.3 while panning left to right (zoompan works better from a larger
# picture: less jitter from its integer positions). Output 640x480.
seg() { # $1 = input label, $2 = frames, $3 = output label
    printf '[%s]scale=1280:960:force_original_aspect_ratio=increase,crop=1280:960,' "$1"
    printf "zoompan=z='1+0.3*on/%d':x='(iw-iw/zoom)*on/%d':y='(ih-ih/zoom)/2':" "$2" "$2"
    printf 'd=%d:s=640x480:fps=%d,setsar=1,format=yuv420p[%s]' "$2" "$fps" "$3"
}

# The inputs as positional parameters, so paths with spaces stay whole.
if [ -n "$p2" ] && [ "$n2" -gt 0 ]; then
    graph="$(seg 0:v "$n1" a);$(seg 1:v "$n2" b);[a][b]concat=n=2:v=1:a=0[v]"
    set -- -i "$p1" -i "$p2"
else
    graph="$(seg 0:v "$n1" v)"
    set -- -i "$p1"
fi

case $mode in
h264 | corrupt) codec="-c:v libx264 -preset veryfast -pix_fmt yuv420p -g $fps -bf 0" ;;
mjpeg) codec="-c:v mjpeg -q:v 4 -pix_fmt yuvj420p" ;;
esac

target=$out
[ "$mode" = corrupt ] && target="$out.full.mp4"
# shellcheck disable=SC2086 # $codec is a word list on purpose
ffmpeg -nostdin -hide_banner -loglevel error -y "$@" -filter_complex "$graph" -map '[v]' \
    -r "$fps" -frames:v "$total" $codec -an "$target"

if [ "$mode" = corrupt ]; then
    head -c 4096 "$target" >"$out"
    rm -f "$target"
fi
