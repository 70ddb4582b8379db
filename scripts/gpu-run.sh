#!/usr/bin/env bash
# The one command to run on a GPU machine that has no Node and no internet (built by scripts/gpu-pack.sh,
# which copies this file next to the archive and into it):
#
#   bash build/gpu-pack/gpu-run.sh        (the archive diffusion-gpu-pack.tar.xz beside it is unpacked
#                                          into a temp folder; inside an unpacked pack it runs in place)
#
# 1. what the machine has: GPU, Vulkan drivers (ICD files), the backend report of the course;
# 2. the training/sampling benchmark of the reference UNet on DIFFUSION_BACKEND=webgpu (app/gpu-pack-bench.js);
# 3. the same network, sizes and steps in PyTorch on CUDA (bench_torch.py --device cuda), with its ops
#    of one profiled step beside the webgpu kernels of one;
# 4. webgpu kernels against the cpu backend (app/gpu-pack-check.js), when webgpu starts;
# 5. a short lesson-05 training run (scripts/train.ts, GPU_RUN_TRAIN_STEPS steps, default 200) into a temp
#    folder, when webgpu starts;
# and ends with one line:  ratio webgpu/pytorch-cuda train=<x> sample=<y> device=<name>
# (train=n/a sample=n/a when the webgpu side did not run; the lines above say why). That line is also
# printed as soon as 2 and 3 are done, so a run stopped later from outside still has it.
# Every stage's timeout comes out of one time budget, GPU_RUN_BUDGET_S (default 420 s, inside the
# 10 minutes device tools give one command, with room to run it again); the two benchmarks are kept
# time first, and a stage with too little time left is skipped and says so.
# Env: GPU_PYTHON (default python3), GPU_RUN_TRAIN_STEPS (200; 0 skips), GPU_RUN_BUDGET_S, BENCH_QUICK=1
# (tiny sizes, also for the training: batch 4), GPU_RUN_KEEP=1 (keep the unpacked pack and the training
# output in their temp folders; otherwise removed at the end).
#
#   bash build/gpu-lesson/gpu-run.sh lesson05   (the second archive, diffusion-gpu-lesson05.tar.xz, beside it)
#
# runs lesson 05 (notebooks/05_loss_and_training.ipynb) in standard mode on DIFFUSION_BACKEND=webgpu through
# tslab without Jupyter (run-notebook-tslab.js: the cells in order, tslab's own type check, transpilation
# and executor; the GPU machine has no pyzmq/nbclient) and ends with one line:
#   lesson 05 standard: <s> s on webgpu (<adapter>) vs <s> s onednn here
# (the onednn time is the pack's lesson-times.json, from docs/). It takes Node, dawn.node, the Vulkan loader
# and the train cache from the main archive, diffusion-gpu-pack.tar.xz, found beside it or in
# ../gpu-pack/: the two are over 64 MiB together, so a device tool that carries at most that much sends
# build/gpu-pack FIRST (its call runs the stages above, or just `true`), then, on the same warm machine
# where build/gpu-pack stays, build/gpu-lesson with this command. Its budget: GPU_RUN_BUDGET_S, default
# 540 s here. Env: GPU_RUN_LESSON_MODE (standard), GPU_RUN_LESSON_BACKEND (webgpu; wasm checks the
# archive on a CPU), GPU_RUN_SAVE_DIR (copy the executed notebook and the log there, e.g. $OUT),
# GPU_PACK_ARCHIVE / GPU_LESSON_ARCHIVE (the archives' paths). Exit status 0 only when the lesson ran through.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "gpu-run: $*"; }
ONLY=""
case "${1:-}" in
  "") ;;
  lesson05) ONLY=lesson05 ;;
  *) say "usage: bash gpu-run.sh [lesson05]"; exit 2 ;;
esac
# The unpacked pack and the run's files go when it ends (GPU_RUN_KEEP=1 keeps them).
WORK=""
TMP=""
[ "${GPU_RUN_KEEP:-}" = 1 ] || trap 'rm -rf ${TMP:+"$TMP"} ${WORK:+"$WORK"}' EXIT
BUDGET="${GPU_RUN_BUDGET_S:-$([ "$ONLY" = lesson05 ] && echo 540 || echo 420)}"
[[ "$BUDGET" =~ ^[0-9]+$ ]] || { say "GPU_RUN_BUDGET_S must be a whole number of seconds, got '$BUDGET'"; exit 2; }
START=$(date +%s)
QUICK=""; [ "${BENCH_QUICK:-}" = 1 ] && QUICK=1
# cap WANT RESERVE: a stage's timeout, at most WANT seconds and leaving RESERVE for the stages after it.
cap() { local left=$(( BUDGET - ($(date +%s) - START) - $2 )); echo $(( left < $1 ? left : $1 )); }

# unpack ARCHIVE DIR. Without the xz program (tar -J needs it), Python's tarfile unpacks it (the PyTorch
# side needs python anyway).
unpack() {
  if command -v xz >/dev/null 2>&1; then tar -xJf "$1" -C "$2"
  else "${GPU_PYTHON:-python3}" -c '
import sys, tarfile
with tarfile.open(sys.argv[1], "r:xz") as t: t.extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
' "$1" "$2"
  fi
}
# The lesson-05 archive: beside this script, in ../gpu-lesson/ (next to build/gpu-pack/), or in build/gpu-lesson/.
LESSON_ARCHIVE="${GPU_LESSON_ARCHIVE:-}"
for a in "$HERE/diffusion-gpu-lesson05.tar.xz" "$HERE/../gpu-lesson/diffusion-gpu-lesson05.tar.xz" "$HERE/../build/gpu-lesson/diffusion-gpu-lesson05.tar.xz"; do
  if [ -z "$LESSON_ARCHIVE" ] && [ -f "$a" ]; then LESSON_ARCHIVE="$a"; fi
done
if [ -x "$HERE/bin/node" ] && [ -d "$HERE/app" ]; then
  PACK="$HERE"
else
  ARCHIVE="${GPU_PACK_ARCHIVE:-}"
  for a in "$HERE/diffusion-gpu-pack.tar.xz" "$HERE/../gpu-pack/diffusion-gpu-pack.tar.xz" "$HERE/../build/gpu-pack/diffusion-gpu-pack.tar.xz"; do
    if [ -z "$ARCHIVE" ] && [ -f "$a" ]; then ARCHIVE="$a"; fi
  done
  if [ -z "$ARCHIVE" ]; then
    [ "$ONLY" = lesson05 ] && say "lesson 05 needs the main archive too: send build/gpu-pack first (a device call carrying it, on the same machine), then this one"
    say "no diffusion-gpu-pack.tar.xz next to $0 or in $HERE/../gpu-pack (build it with npm run gpu:pack)"
    exit 1
  fi
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/diffusion-gpu.XXXXXX")"
  t0=$(date +%s)
  unpack "$ARCHIVE" "$WORK" || { say "cannot unpack $ARCHIVE"; exit 1; }
  PACK="$WORK/diffusion-gpu-pack"
  say "unpacked $(basename "$ARCHIVE") into $PACK in $(( $(date +%s) - t0 )) s"
fi
NODE="$PACK/bin/node"
PY="${GPU_PYTHON:-python3}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/diffusion-gpu-run.XXXXXX")"
export LD_LIBRARY_PATH="$PACK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" # the packed Vulkan loader
export DIFFUSION_CACHE_DIR="$PACK/data"
cat "$PACK/MANIFEST.txt" 2>/dev/null | sed 's/^/gpu-run: pack /'
"$NODE" --version >/dev/null 2>&1 || { say "the packed node does not run here: $("$NODE" --version 2>&1 | head -1)"; exit 1; }

# --- 1. the machine -------------------------------------------------------------------------------
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu-run: GPU /'
ICDS="$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ')"
say "Vulkan ICD files: ${ICDS:-none}"
# Some GPU containers mount the driver under /usr/local/nvidia, where the Vulkan loader does not look.
MOUNTED_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && ! grep -qil nvidia $ICDS /dev/null 2>/dev/null && [ -f "$MOUNTED_ICD" ]; then
  export VK_ICD_FILENAMES="$MOUNTED_ICD" VK_DRIVER_FILES="$MOUNTED_ICD"
  # It may name its library without a folder; the loader then finds it only on the library path.
  [ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/usr/local/nvidia/lib64"
  say "using the driver's own ICD file $MOUNTED_ICD"
fi
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && ! grep -qil nvidia $ICDS /dev/null 2>/dev/null; then
  # Containers often get the NVIDIA driver's Vulkan library without its ICD file: write one.
  GLX=""
  for d in $(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF}') /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 /usr/local/nvidia/lib64/libGLX_nvidia.so.0; do
    if [ -z "$GLX" ] && [ -e "$d" ]; then GLX="$d"; fi
  done
  if [ -n "$GLX" ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$GLX" > "$TMP/nvidia_icd.json"
    export VK_ICD_FILENAMES="$TMP/nvidia_icd.json" VK_DRIVER_FILES="$TMP/nvidia_icd.json"
    say "no NVIDIA ICD file; using $GLX through $TMP/nvidia_icd.json"
  else
    say "no NVIDIA Vulkan driver visible (no ICD file naming nvidia, no libGLX_nvidia.so.0): in a container the NVIDIA runtime mounts it only when NVIDIA_DRIVER_CAPABILITIES includes 'graphics' (it is '${NVIDIA_DRIVER_CAPABILITIES:-unset}' here)"
  fi
fi
# run_for WANT RESERVE WHAT: sets T to the stage's timeout, or says why WHAT is skipped (returns 1).
run_for() {
  T=$(cap "$1" "$2")
  [ "$T" -ge 20 ] && return 0
  say "$3 skipped: $(( BUDGET - ($(date +%s) - START) )) s of the $BUDGET s budget left, $2 s of it kept for the stages after it (GPU_RUN_BUDGET_S)"
  return 1
}
WEBGPU_JSON=""
TORCH_JSON=""
verdict() { # verdict full|line
  "$NODE" -e '
    const [w, t] = process.argv.slice(2).map((s) => (s ? JSON.parse(s) : null));
    const f = (x) => x.toFixed(2);
    if (process.argv[1] === "full") {
      if (w) console.log(`gpu-run: webgpu: ${f(w.trainMs)} ms/step (median of [${w.trainMsAll.join(", ")}]), ${f(w.trainGflops)} GFLOP/s, first ${w.warmup} steps ${f(w.warmupS)} s, sampling ${f(w.sampleS)} s (${f(w.imagesPerS)} images/s), tensors +${w.numTensorsGrowth}, ${w.details[0]}`);
      if (t) console.log(`gpu-run: ${t.framework} on ${t.device}: ${f(t.train_ms)} ms/step (median of [${t.train_ms_all.join(", ")}]), sampling ${f(t.sample_s)} s (${f(t.images_per_s)} images/s)${t.cudnn_tf32 ? ", cuDNN convolutions may use TF32 (PyTorch default)" : ""}`);
      if (w && t && w.params !== t.params) console.log(`gpu-run: WARNING parameter counts differ: ours ${w.params}, PyTorch ${t.params}`);
    }
    const train = w && t ? f(w.trainMs / t.train_ms) : "n/a";
    const sample = w && t ? f(w.sampleS / t.sample_s) : "n/a";
    console.log(`ratio webgpu/pytorch-cuda train=${train} sample=${sample} device=${t ? t.device : "n/a (PyTorch CUDA did not run)"}`);
  ' "$1" "$WEBGPU_JSON" "$TORCH_JSON"
}

# --- lesson 05 through tslab (gpu-run.sh lesson05 only) ---------------------------------------------
# Unpacks the lesson archive into $TMP, runs the notebook with the packed node and sets LESSON_LINE.
LESSON_LINE=""
lesson05() {
  local mode="${GPU_RUN_LESSON_MODE:-standard}" backend="${GPU_RUN_LESSON_BACKEND:-webgpu}" L="$TMP/diffusion-gpu-lesson05"
  local head="lesson 05 $mode"
  if [ -z "$LESSON_ARCHIVE" ]; then
    say "no diffusion-gpu-lesson05.tar.xz beside $0 or in $HERE/../gpu-lesson (npm run gpu:pack builds build/gpu-lesson/)"
    LESSON_LINE="$head: not run (no lesson archive)"; return 1
  fi
  unpack "$LESSON_ARCHIVE" "$TMP" || { say "cannot unpack $LESSON_ARCHIVE"; LESSON_LINE="$head: not run"; return 1; }
  sed 's/^/gpu-run: lesson archive /' "$L/MANIFEST.txt" 2>/dev/null
  if [ ! -f "$PACK/data/fashion-mnist-train.v1.bin" ]; then
    say "lesson 05 trains on the Fashion-MNIST train cache of the main archive, which was built without it (GPU_PACK_DATA=0)"
    LESSON_LINE="$head: not run (no train cache)"; return 1
  fi
  ln -s "$PACK/data/fashion-mnist-train.v1.bin" "$L/data/"
  run_for 3600 5 "lesson 05" || { LESSON_LINE="$head: not run (no time left)"; return 1; }
  say "lesson 05 in $mode mode on DIFFUSION_BACKEND=$backend through tslab (run-notebook-tslab.js; at most $T s) ..."
  # NODE_PATH: webgpu (index.js + dawn.node) comes from the main archive's node_modules.
  timeout "$T" env DIFFUSION_BACKEND="$backend" LESSON_MODE="$mode" DIFFUSION_CACHE_DIR="$L/data" \
    NODE_PATH="$PACK/node_modules" "$NODE" "$L/run-notebook-tslab.js" "$L/course/05_loss_and_training.ipynb" \
    "$TMP/05_loss_and_training.ipynb" 2>&1 | tee "$TMP/lesson05.txt" | grep --line-buffered -v '^NOTEBOOK_RESULT \|artificially reduced' | sed -u 's/^/  /'
  local rc=${PIPESTATUS[0]}
  if [ -n "${GPU_RUN_SAVE_DIR:-}" ]; then
    mkdir -p "$GPU_RUN_SAVE_DIR" && cp "$TMP/lesson05.txt" "$TMP"/05_loss_and_training.ipynb "$GPU_RUN_SAVE_DIR/" 2>/dev/null
    say "executed notebook and log copied to $GPU_RUN_SAVE_DIR"
  fi
  # The line: this run's time, the adapter from the backend report the lesson prints, onednn's time here.
  LESSON_LINE="$("$NODE" -e '
    const fs = require("fs");
    const [log, times, mode, backend, rc, limit] = process.argv.slice(1);
    const text = fs.readFileSync(log, "utf8");
    const line = text.split("\n").filter((l) => l.startsWith("NOTEBOOK_RESULT ")).pop();
    const r = line ? JSON.parse(line.slice("NOTEBOOK_RESULT ".length)) : null;
    const adapter = (/WebGPU adapter: (.*)/.exec(text) || [])[1] || (backend === "webgpu" ? "no adapter" : "CPU");
    let ref = "n/a s onednn here (lesson-times.json: not measured yet)";
    try {
      const t = JSON.parse(fs.readFileSync(times, "utf8"));
      const s = t.seconds && t.seconds["05_loss_and_training"];
      if (t.mode !== mode) ref = `n/a s onednn here (lesson-times.json holds ${t.mode} mode only)`;
      else if (typeof s === "number") ref = `${s.toFixed(1)} s onednn here`;
    } catch (e) { ref = `n/a s onednn here (lesson-times.json: ${e.message})`; }
    const head = `lesson 05 ${mode}:`;
    if (r && r.ok) console.log(`${head} ${r.seconds.toFixed(1)} s on ${backend} (${adapter}) vs ${ref}`);
    else if (r) console.log(`${head} failed at cell ${r.failedCell} after ${r.seconds.toFixed(1)} s on ${backend} (${adapter}): ${r.error} (vs ${ref})`);
    else if (rc === "124") console.log(`${head} did not finish in ${limit} s on ${backend} (${adapter}); the cells done are above (vs ${ref})`);
    else console.log(`${head} did not run through (exit status ${rc}; the lines above say why) on ${backend} (${adapter}) (vs ${ref})`);
  ' "$TMP/lesson05.txt" "$L/lesson-times.json" "$mode" "$backend" "$rc" "$T")"
  return "$rc"
}
if [ "$ONLY" = lesson05 ]; then
  lesson05
  RC=$?
  say "done in $(( $(date +%s) - START )) s (budget $BUDGET s)"
  echo "$LESSON_LINE" # last, as the ratio line of the full run
  exit $RC
fi

if run_for 60 120 "backend report"; then
  say "backend report (no backend forced; the oneDNN addon is not carried, it links Debian's libdnnl):"
  timeout "$T" "$NODE" "$PACK/app/probe-backend.js" 2>&1 | sed 's/^/  /'
fi

# --- 2. webgpu -------------------------------------------------------------------------------------
if run_for 240 60 "webgpu benchmark"; then
  say "benchmark on webgpu (reference UNet${QUICK:+, BENCH_QUICK=1}; at most $T s) ..."
  timeout "$T" env DIFFUSION_BACKEND=webgpu "$NODE" "$PACK/app/gpu-pack-bench.js" > "$TMP/webgpu.txt" 2>&1
  WRC=$?
  grep -v '^BENCH_RESULT ' "$TMP/webgpu.txt" | grep -v '^Warning: .*artificially reduced' | tail -n 25 | sed 's/^/  /'
  WEBGPU_JSON="$(grep '^BENCH_RESULT ' "$TMP/webgpu.txt" | tail -1 | cut -d' ' -f2-)"
  if [ -z "$WEBGPU_JSON" ]; then
    [ $WRC -eq 124 ] && say "webgpu benchmark: timed out after $T s" || say "webgpu benchmark: did not run (exit status $WRC; the lines above say why)"
  fi
fi

# --- 3. PyTorch CUDA, same network and sizes -------------------------------------------------------
# The plan (config, batch, steps) comes from the webgpu result, or, when webgpu did not run, is the
# benchmark's own plan written out again here.
PLAN_JSON="$WEBGPU_JSON"
if [ -z "$PLAN_JSON" ]; then
  PLAN_JSON="$("$NODE" -e '
    const quick = process.env.BENCH_QUICK === "1";
    const base = { imageSize: 28, inChannels: 1, outChannels: 1, channelMults: [1, 2, 2], attentionResolutions: [7], attentionHeads: 4, downsample: "conv", midAttention: true };
    const c = quick ? { ...base, baseChannels: 8, groups: 4, numResBlocks: 1 } : { ...base, baseChannels: 32, groups: 8, numResBlocks: 2 };
    console.log(JSON.stringify(quick ? { config: c, batch: 4, warmup: 1, steps: 2, sampleImages: 4, sampleSteps: 2 } : { config: c, batch: 64, warmup: 3, steps: 10, sampleImages: 64, sampleSteps: 50 }));')"
fi
pj() { "$NODE" -e "const p = JSON.parse(process.argv[1]); console.log(typeof p['$1'] === 'object' ? JSON.stringify(p['$1']) : p['$1'])" "$PLAN_JSON"; }
if run_for 180 5 "PyTorch CUDA benchmark"; then
  say "PyTorch on cuda (same config, batch $(pj batch), $(pj steps) timed steps, $(pj sampleImages) images x $(pj sampleSteps) DDIM steps) with $PY; at most $T s ..."
  timeout "$T" "$PY" "$PACK/bench_torch.py" --device cuda --config "$(pj config)" --batch "$(pj batch)" --warmup "$(pj warmup)" \
    --train-steps "$(pj steps)" --sample-images "$(pj sampleImages)" --sample-steps "$(pj sampleSteps)" --profile 10 > "$TMP/torch.txt" 2>&1
  TRC=$?
  TORCH_JSON="$(grep '^{' "$TMP/torch.txt" | tail -1)"
  if [ -z "$TORCH_JSON" ]; then say "PyTorch CUDA benchmark failed (exit status $TRC):"; tail -n 5 "$TMP/torch.txt" | sed 's/^/  /'
  else grep -A 10 '^ops of one training step\|^op profile failed' "$TMP/torch.txt" | sed 's/^/  /'; fi
fi
verdict full # now, so that a run stopped during the stages below still has it

# --- 4. kernels and 5. training, only where webgpu runs --------------------------------------------
if [ -n "$WEBGPU_JSON" ]; then
  if run_for 180 5 "webgpu kernel check"; then
    say "webgpu kernels against the cpu backend (values and gradients; at most $T s):"
    timeout "$T" env DIFFUSION_BACKEND=webgpu "$NODE" "$PACK/app/gpu-pack-check.js" 2>&1 | grep -v '^CHECK_RESULT\|artificially reduced' | sed 's/^/  /'
  fi
  STEPS="${GPU_RUN_TRAIN_STEPS:-200}"
  if [ ! -f "$PACK/data/fashion-mnist-train.v1.bin" ]; then
    say "training skipped: the pack was built without the data cache (GPU_PACK_DATA=0)"
  elif [ "$STEPS" != 0 ] && run_for 300 5 "lesson-05 training"; then
    say "lesson-05 training, $STEPS steps on webgpu into $TMP/train05 (scripts/train.ts; at most $T s) ..."
    timeout "$T" env DIFFUSION_BACKEND=webgpu "$NODE" "$PACK/app/train.js" 05 --steps "$STEPS" --warmup $((STEPS / 10)) --every 100 --keep 1 \
      ${QUICK:+--batch 4 --subset 256} --out "$TMP/train05" --fresh > "$TMP/train.txt" 2>&1
    TRAIN_RC=$?
    grep -v 'artificially reduced' "$TMP/train.txt" | tail -n 12 | sed 's/^/  /'
    if [ $TRAIN_RC -eq 0 ]; then say "training ran end to end: $(ls "$TMP/train05" | paste -sd ' ')";
    elif [ $TRAIN_RC -eq 124 ]; then say "training stopped after $T s (its checkpoints so far: $TMP/train05, kept only with GPU_RUN_KEEP=1)";
    else say "training failed (exit status $TRAIN_RC)"; fi
  fi
else
  say "webgpu kernel check and training skipped: the webgpu benchmark did not run"
fi

# --- lesson 05 runs in a call of its own: both archives together are over what one device call carries.
if [ -n "$LESSON_ARCHIVE" ]; then say "lesson 05 through tslab: bash $(dirname "$LESSON_ARCHIVE")/gpu-run.sh lesson05 (next)"
else say "lesson 05 through tslab: send build/gpu-lesson after this pack and run bash build/gpu-lesson/gpu-run.sh lesson05"; fi

# --- the verdict, last -----------------------------------------------------------------------------
say "done in $(( $(date +%s) - START )) s (budget $BUDGET s)"
verdict line
