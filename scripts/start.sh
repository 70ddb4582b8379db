#!/usr/bin/env bash
# Starts Jupyter on notebooks/ with the course's TypeScript kernel: JupyterLab when installed,
# else the classic Notebook that Debian ships. Localhost only; Jupyter's token authentication stays on.
set -euo pipefail
cd "$(dirname "$0")/.."
export JUPYTER_PATH="$PWD/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
# NOTEBOOK_DIR: another folder of lessons (the browser test runs copies in build/ui/notebooks).
args=(--ip=127.0.0.1 --notebook-dir="${NOTEBOOK_DIR:-$PWD/notebooks}" --MappingKernelManager.default_kernel_name=diffusion-ts)
[ "$(id -u)" = 0 ] && args+=(--allow-root)
# JUPYTER_APP=notebook forces the classic Notebook (the browser test drives its UI).
if [ -n "${JUPYTER_APP:-}" ]; then
  app=$JUPYTER_APP
  command -v "jupyter-$app" >/dev/null 2>&1 || { echo "start: jupyter-$app not found; run 'npm run setup'" >&2; exit 1; }
elif command -v jupyter-lab >/dev/null 2>&1; then
  app=lab
elif command -v jupyter-notebook >/dev/null 2>&1; then
  app=notebook
else
  echo "start: no Jupyter found; run 'npm run setup' (installs Debian's jupyter-notebook)" >&2
  exit 1
fi
echo "start: Jupyter $app on notebooks/ with kernel 'TypeScript (diffusion course)'; open 00_setup.ipynb first"
# Extra arguments go to Jupyter (e.g. --port=8890 --port-retries=0); later ones win.
exec jupyter "$app" "${args[@]}" "$@"
