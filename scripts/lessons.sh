#!/usr/bin/env bash
# npm run lessons [-- --figures] [notebooks...]: execute lessons through nbclient into build/lessons/,
# and with --figures also write every figure as PNG to build/figures/ through headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
figures=0
args=()
for a in "$@"; do
  if [ "$a" = "--figures" ]; then figures=1; else args+=("$a"); fi
done
status=0
/usr/bin/python3 scripts/run_lessons.py "${args[@]+"${args[@]}"}" || status=$?
if [ "$figures" = 1 ]; then
  npx --no-install tsx scripts/render-figures.ts --in build/lessons --out build/figures || status=$?
fi
exit $status
