#!/usr/bin/env bash
# npm run handouts [-- notebooks...]: executes the lessons in standard mode (LESSON_MODE overrides) and
# writes each as HTML into build/handouts/, readable offline: the figures are drawn by the plotly.js the
# notebook carries (interactive, sliders included), the equations by a local copy of Debian's MathJax
# (build/handouts/mathjax/, shared by all pages), require.js likewise. Open build/handouts/NN_*.html.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/handouts
mathjax=/usr/share/javascript/mathjax
requirejs=/usr/share/javascript/requirejs/require.min.js
command -v jupyter-nbconvert >/dev/null 2>&1 || { echo "handouts: jupyter-nbconvert not found: apt-get install jupyter-nbconvert" >&2; exit 1; }
[ -f "$mathjax/MathJax.js" ] || { echo "handouts: MathJax not found at $mathjax: apt-get install libjs-mathjax" >&2; exit 1; }
[ -f "$requirejs" ] || { echo "handouts: require.js not found at $requirejs: apt-get install libjs-requirejs" >&2; exit 1; }
mkdir -p "$out/executed" "$out/mathjax"

# Only what TeX input with CommonHTML output needs (~1.5 MB of the package's 54).
for part in MathJax.js config/TeX-AMS_CHTML.js extensions jax/input/TeX jax/output/CommonHTML jax/element \
  fonts/HTML-CSS/TeX/woff; do
  mkdir -p "$out/mathjax/$(dirname "$part")"
  cp -rL "$mathjax/$part" "$out/mathjax/$(dirname "$part")/"
done
cp -L "$requirejs" "$out/require.min.js"

status=0
LESSON_MODE="${LESSON_MODE:-standard}" /usr/bin/python3 scripts/run_lessons.py --out "$out/executed" "$@" || status=$?
shopt -s nullglob
for nb in "$out"/executed/*.ipynb; do
  jupyter-nbconvert --to html --output-dir "$out" \
    --HTMLExporter.mathjax_url='mathjax/MathJax.js?config=TeX-AMS_CHTML' \
    --HTMLExporter.require_js_url='require.min.js' "$nb" 2>/dev/null || { echo "handouts: nbconvert failed on $nb" >&2; status=1; }
  echo "handouts: $out/$(basename "${nb%.ipynb}").html ($(du -h "$out/$(basename "${nb%.ipynb}").html" | cut -f1))"
done
exit $status
