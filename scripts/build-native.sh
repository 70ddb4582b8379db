#!/usr/bin/env bash
# Builds the optional oneDNN addon (native/ -> native/build/Release/onednn_tfjs.node) that backs the
# 'onednn' tfjs backend. Never fails the installation: when it cannot build, it prints one warning
# line and exits 0, and the course runs on the wasm backend instead.
set -u
cd "${BASH_SOURCE[0]%/*}/../native" 2>/dev/null || { echo "build-native: WARNING: native/ not found; the 'onednn' backend will be unavailable" >&2; exit 0; }

warn() { echo "build-native: WARNING: $1; the 'onednn' backend will be unavailable (wasm is used instead)" >&2; exit 0; }

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || warn "only linux-x86_64 is supported"
command -v g++ >/dev/null 2>&1 || warn "no C++ compiler (apt-get install g++ make)"
command -v make >/dev/null 2>&1 || warn "no make (apt-get install make)"
[ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || warn "oneDNN headers not found (apt-get install libdnnl-dev)"

# Up to date: the addon is newer than every source and loads.
OUT=build/Release/onednn_tfjs.node
if [ -f "$OUT" ] && [ -z "$(find src binding.gyp -newer "$OUT" 2>/dev/null)" ] && node -e "require('./$OUT')" 2>/dev/null; then
  echo "build-native: native/$OUT is up to date"
  exit 0
fi

# node-gyp ships inside npm; use that copy so nothing is downloaded.
GYP="$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$GYP" ] || GYP="$(dirname "$(command -v node)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$GYP" ] || warn "node-gyp (bundled with npm) not found"

# Use the installed Node headers when they exist (node-gyp would otherwise download them).
NODEDIR="${npm_config_nodedir:-}"
if [ -z "$NODEDIR" ]; then
  for d in "$(dirname "$(command -v node)")/.." /usr /usr/local; do
    if [ -f "$d/include/node/node_api.h" ]; then NODEDIR="$(cd "$d" && pwd)"; break; fi
  done
fi
ARGS=(rebuild --release)
[ -n "$NODEDIR" ] && ARGS+=("--nodedir=$NODEDIR")

LOG="$(mktemp)"
if node "$GYP" "${ARGS[@]}" >"$LOG" 2>&1 && [ -f build/Release/onednn_tfjs.node ]; then
  if node -e "require('./build/Release/onednn_tfjs.node')" >>"$LOG" 2>&1; then
    echo "build-native: built native/build/Release/onednn_tfjs.node ($(node -e "console.log(require('./build/Release/onednn_tfjs.node').info())"))"
    rm -f "$LOG"
    exit 0
  fi
  warn "the addon built but does not load: $(tail -n 1 "$LOG")"
fi
echo "build-native: last lines of the build log ($LOG):" >&2
tail -n 15 "$LOG" >&2
warn "node-gyp build failed"
