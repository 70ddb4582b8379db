#!/usr/bin/env bash
# Installs the course kernel for an existing JupyterLab or VS Code (user-level, no root): a copy of
# jupyter/kernels/diffusion-ts whose argv points at this checkout's tslab by absolute path.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f node_modules/tslab/bin/tslab ] || { echo "install-kernel: run 'npm run setup' first (tslab is not installed)" >&2; exit 1; }
data_dir=$(/usr/bin/python3 -c 'from jupyter_core.paths import jupyter_data_dir; print(jupyter_data_dir())' 2>/dev/null || echo "$HOME/.local/share/jupyter")
dest="$data_dir/kernels/diffusion-ts"
mkdir -p "$dest"
node -e '
const fs = require("fs");
const spec = JSON.parse(fs.readFileSync("jupyter/kernels/diffusion-ts/kernel.json", "utf8"));
spec.argv = [process.execPath, require("path").resolve("node_modules/tslab/bin/tslab"), "kernel", "--config-path", "{connection_file}"];
fs.writeFileSync(process.argv[1] + "/kernel.json", JSON.stringify(spec, null, 2) + "\n");
' "$dest"
echo "install-kernel: wrote $dest/kernel.json (kernel 'TypeScript (diffusion course)')"
