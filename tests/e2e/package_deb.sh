#!/bin/sh
# The .deb end to end: cpack builds it from the build folder, dpkg -x
# unpacks it into a scratch root (no root rights, nothing installed on the
# machine), and the unpacked binary runs: --version, then a detection that
# loads the packaged models (found relative to the binary, FT_MODELS_DIR
# unset). Also checks the control fields, the file list and the
# maintainer scripts. Exit 77 (skip) when cpack or dpkg (dpkg-dev for
# dpkg-shlibdeps) is missing.
# usage: package_deb.sh BUILD_DIR SCRATCH_DIR DEMO_JPEG
set -eu
build=$1
scratch=$2
photo=$3
for t in cpack dpkg dpkg-deb dpkg-shlibdeps; do
    command -v "$t" >/dev/null 2>&1 || { echo "SKIP: no $t"; exit 77; }
done
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

rm -rf "$scratch"
mkdir -p "$scratch/out" "$scratch/root"
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1 ||
    { cat "$scratch/cpack.log"; fail "cpack"; }
deb=$(ls "$scratch"/out/facetracker_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { cat "$scratch/cpack.log"; fail "no facetracker_*.deb in $scratch/out"; }
echo "package: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

# Control fields: name, and Depends computed by dpkg-shlibdeps.
info=$(dpkg-deb -f "$deb" Package Version Depends)
echo "$info"
echo "$info" | grep -q '^Package: facetracker$' || fail "Package field"
for lib in libjpeg62-turbo libsqlite3 libmicrohttpd libjansson; do
    echo "$info" | grep -q "$lib" || fail "Depends lacks $lib"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -q 'postinst' || fail "no postinst"

# The file list: binary, unit, all five networks (manifest + weights).
dpkg-deb -c "$deb" >"$scratch/files.txt"
for f in ./usr/bin/facetracker ./usr/lib/systemd/system/facetracker.service \
    ./usr/share/doc/facetracker/LICENSE.face-api-models; do
    grep -q " $f\$" "$scratch/files.txt" || fail "$f not in the package"
done
for m in ssd_mobilenetv1_model tiny_face_detector_model face_landmark_68_model \
    face_landmark_68_tiny_model face_recognition_model; do
    for suffix in -weights_manifest.json .bin; do
        grep -q " ./usr/share/facetracker/model/$m$suffix\$" "$scratch/files.txt" ||
            fail "model file $m$suffix not in the package"
    done
done

# Unpack and run from the scratch root.
dpkg -x "$deb" "$scratch/root"
bin=$scratch/root/usr/bin/facetracker
v=$(env -u FT_MODELS_DIR "$bin" --version) || fail "--version exited $?"
echo "$v"
case $v in
facetracker\ [0-9]*) ;;
*) fail "--version printed '$v'" ;;
esac
# The default detector, YuNet, from the package's own copy (share/facetracker/
# models/yunet, found relative to the binary): five keypoints per face.
[ -f "$scratch/root/usr/share/facetracker/models/yunet/yunet_s_640_640.onnx" ] ||
    fail "YuNet-s is not in the package"
out=$(env -u FT_MODELS_DIR -u FT_YUNET_MODEL "$bin" detect "$photo") ||
    fail "detect with the packaged models"
echo "$out" | grep -q '"detector": "yunet", "faces": \[{"box"' || fail "no face found by YuNet: $out"
echo "$out" | grep -q '"keypoints": \[\[' || fail "no keypoints: $out"
grep -q '^ExecStart=/usr/bin/facetracker serve' \
    "$scratch/root/usr/lib/systemd/system/facetracker.service" || fail "unit ExecStart"
echo "ok"
rm -rf "$scratch"
