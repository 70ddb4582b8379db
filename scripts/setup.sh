#!/usr/bin/env bash
# Does whatever set-up is missing, and nothing else when all is in place:
#   Debian packages (Jupyter, canvas build libraries, Chromium, oneDNN, a CJK font, numpy and PyTorch for the
#   specs' independent references), npm ci, the native addon, the data-set cache. The kernel spec lives in
#   jupyter/ and is used through JUPYTER_PATH.
# Usage: scripts/setup.sh   (`--bench`, once needed for PyTorch, is still accepted and changes nothing)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

packages=(
  jupyter-nbconvert python3-nbclient jupyter-client jupyter-notebook   # headless runs + classic Notebook
  build-essential pkg-config libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev  # canvas
  chromium        # static figures (npm run lessons -- --figures)
  libdnnl-dev     # the native oneDNN backend
  libegl-mesa0    # a WebGPU device without a GPU (Dawn OpenGL on llvmpipe) for the GPU pack tests
  fonts-noto-cjk  # Hangul glyphs in canvas-drawn labels and Chromium-rendered figures (the article is Korean)
  # The specs' cross-checks (numpy linear algebra and file readers, the PyTorch mirror of the UNet) fail
  # rather than skip without these. PyTorch is the large one: on Debian 12 about 160 packages, 135 MiB to
  # download, 575 MiB installed (measured with apt-get -s; most of it libtorch's OpenCV/FFmpeg/GDAL deps).
  python3-numpy python3-torch
)

# 1. Debian packages
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then
      say "installing Debian packages: ${missing[*]}"
      (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}") >/tmp/diffusion-setup-apt.log 2>&1 \
        || die "apt-get failed (log: /tmp/diffusion-setup-apt.log). Run by hand: $cmd"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      say "installing Debian packages with sudo: ${missing[*]}"
      (sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}") >/tmp/diffusion-setup-apt.log 2>&1 \
        || die "apt-get failed (log: /tmp/diffusion-setup-apt.log). Run by hand: sudo sh -c '$cmd'"
    else
      die "missing Debian packages: ${missing[*]}. Run this once as root, then try again:
  sudo sh -c '$cmd'"
    fi
  fi
else
  say "not a Debian/Ubuntu system: install Jupyter (nbclient, nbconvert, notebook), cairo/pango/jpeg/gif/rsvg development files, Chromium and oneDNN with your package manager"
fi
/usr/bin/python3 -c 'import nbclient, nbconvert' 2>/dev/null || die "Python's nbclient/nbconvert are missing for /usr/bin/python3: install python3-nbclient and jupyter-nbconvert"
/usr/bin/python3 -c 'import numpy, torch' 2>/dev/null || die "numpy/PyTorch are missing for /usr/bin/python3 (the specs' references): install python3-numpy and python3-torch"

# 2. npm packages, reinstalled when package-lock.json changed since the last install
stamp=node_modules/.diffusion-setup-lock
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

# 3. Native oneDNN addon (optional: the build script warns and exits 0 when it cannot build)
if [ -f scripts/build-native.sh ]; then
  bash scripts/build-native.sh
fi

# 4. Data-set cache (verified by checksum; rebuilt when missing or corrupt)
npx --no-install tsx scripts/build-data-cache.ts

# 5. Kernel spec: relocatable, found through JUPYTER_PATH; tslab runs from node_modules
[ -x node_modules/tslab/bin/tslab ] || [ -f node_modules/tslab/bin/tslab ] || die "tslab missing from node_modules; delete node_modules and run again"
say "ready"
