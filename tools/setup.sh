#!/usr/bin/env bash
# Sets up everything facetracker needs on Debian 12: the build tools and
# libraries (apt, when root; otherwise prints the exact command), and the
# pretrained models + demo photos of @vladmandic/face-api@1.7.15, fetched
# with `npm pack` into .cache/ and checked against tools/faceapi-files.sha256.
# This is the only step that downloads anything.
#
#   tools/setup.sh            build + runtime dependencies and the models
#   tools/setup.sh --test     also what the tests need (browser, wrk, h5py...)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    *) echo "setup: unknown option $a" >&2; exit 1 ;;
  esac
done

pkgs=(build-essential cmake pkg-config
      libjpeg62-turbo-dev libspng-dev libwebp-dev libheif-dev libhdf5-dev
      libsqlite3-dev libmicrohttpd-dev libjansson-dev
      libavformat-dev libavcodec-dev libavdevice-dev libswscale-dev libavutil-dev
      libcurl4-openssl-dev libmosquitto-dev libpq-dev)
if [ $want_test = 1 ]; then
  # ffmpeg makes the test videos; gst-rtsp-server (with the x264 encoder in
  # -plugins-ugly) is the test RTSP server; mosquitto the test MQTT broker;
  # postgresql the throwaway server of the gallery_pg tests; openssl makes
  # the tests' self-signed certificates (HTTPS, RTSPS), glib-networking is
  # GLib's TLS for the RTSPS test server; libjpeg-turbo-progs (jpegtran)
  # makes bench/load.sh's 640x480 photo; curl sends e2e.issue10_cli's requests.
  pkgs+=(clang libclang-rt-14-dev python3-h5py python3-numpy chromium wrk
         ffmpeg mosquitto mosquitto-clients python3-opencv libgstrtspserver-1.0-dev gstreamer1.0-plugins-base
         gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
         gstreamer1.0-libav postgresql openssl glib-networking libjpeg-turbo-progs curl)
fi

missing=()
# Node.js may come from elsewhere than Debian (with npm bundled): ask for
# Debian's only when the commands are absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q "${missing[@]}" >/tmp/facetracker-apt.log 2>&1; then
      apt-get update -q >>/tmp/facetracker-apt.log 2>&1 || true
      if ! apt-get install -y -q "${missing[@]}" >>/tmp/facetracker-apt.log 2>&1; then
        tail -n 20 /tmp/facetracker-apt.log >&2
        echo "setup: apt-get could not install: ${missing[*]} (is Debian's package registry reachable?)" >&2
        exit 1
      fi
    fi
  else
    echo "setup: missing Debian packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# ---- Browser-test packages (playwright-core, pinned by the lock file) ----
if [ $want_test = 1 ] && [ ! -d tests/e2e/node_modules/playwright-core ]; then
  if ! npm ci --silent --prefix tests/e2e >/tmp/facetracker-npm.log 2>&1; then
    tail -n 20 /tmp/facetracker-npm.log >&2
    echo "setup: npm ci in tests/e2e failed (is the npm registry reachable?)" >&2
    exit 1
  fi
fi

# ---- Models and demo photos from npm ----
ver=1.7.15
dest=.cache/face-api-$ver
if [ -f "$dest/.verified" ] && (cd "$dest" && sha256sum --quiet -c ../../tools/faceapi-files.sha256) 2>/dev/null; then
  : # already fetched and verified
else
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup: fetching @vladmandic/face-api@$ver from the npm registry"
if ! (cd "$tmp" && npm pack --silent "@vladmandic/face-api@$ver" >/dev/null 2>"$tmp/npm.err"); then
  cat "$tmp/npm.err" >&2
  echo "setup: could not download @vladmandic/face-api@$ver: the npm registry is not reachable (or refused the request). Nothing else was changed." >&2
  exit 1
fi
tar -xzf "$tmp"/vladmandic-face-api-$ver.tgz -C "$tmp"
rm -rf "$dest.new" && mkdir -p "$dest.new"
while read -r _ f; do
  mkdir -p "$dest.new/$(dirname "$f")"
  cp "$tmp/package/$f" "$dest.new/$f"
done < tools/faceapi-files.sha256
if ! (cd "$dest.new" && sha256sum --quiet -c ../../tools/faceapi-files.sha256); then
  echo "setup: the downloaded package does not match tools/faceapi-files.sha256; refusing to use it" >&2
  rm -rf "$dest.new"
  exit 1
fi
touch "$dest.new/.verified"
rm -rf "$dest" && mv "$dest.new" "$dest"
echo "setup: models and demo photos in $dest"
fi

# ---- faceres descriptor network from npm (@vladmandic/human, MIT) ----
# Only models/faceres.json + models/faceres.bin of the package are kept,
# checked against tools/human-files.sha256.
hver=3.3.6
hdest=.cache/human-$hver
if ! { [ -f "$hdest/.verified" ] && (cd "$hdest" && sha256sum --quiet -c ../../tools/human-files.sha256) 2>/dev/null; }; then
  htmp=$(mktemp -d)
  trap 'rm -rf "${tmp:-}" "$htmp"' EXIT
  echo "setup: fetching @vladmandic/human@$hver from the npm registry"
  if ! (cd "$htmp" && npm pack --silent "@vladmandic/human@$hver" >/dev/null 2>"$htmp/npm.err"); then
    cat "$htmp/npm.err" >&2
    echo "setup: could not download @vladmandic/human@$hver: the npm registry is not reachable (or refused the request). Nothing else was changed." >&2
    exit 1
  fi
  tar -xzf "$htmp"/vladmandic-human-$hver.tgz -C "$htmp" package/models/faceres.json package/models/faceres.bin
  rm -rf "$hdest.new" && mkdir -p "$hdest.new"
  while read -r _ f; do
    mkdir -p "$hdest.new/$(dirname "$f")"
    cp "$htmp/package/$f" "$hdest.new/$f"
  done < tools/human-files.sha256
  if ! (cd "$hdest.new" && sha256sum --quiet -c ../../tools/human-files.sha256); then
    echo "setup: the downloaded package does not match tools/human-files.sha256; refusing to use it" >&2
    rm -rf "$hdest.new"
    exit 1
  fi
  touch "$hdest.new/.verified"
  rm -rf "$hdest" && mv "$hdest.new" "$hdest"
  echo "setup: faceres model in $hdest/models"
fi
