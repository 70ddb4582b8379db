#!/usr/bin/env bash
# What a remote GPU run has to send along: some device tools copy the working tree (git's tracked
# files plus untracked files git does not ignore) with every command, together with the folders the
# command carries (build/gpu-pack), and take at most 64 MiB in all. The shipped checkpoints alone are
# more than that, and the GPU run (scripts/gpu-run.sh) needs none of them.
#
#   bash scripts/gpu-tree.sh size      the tree's size, the pack's, and both against GPU_PACK_LIMIT_MB (64);
#                                      the same for build/gpu-lesson (lesson 05's archive, a second call)
#   bash scripts/gpu-tree.sh slim      takes checkpoints/ out of git's index and ignores it in
#                                      .git/info/exclude: the files stay on disk, but no longer travel
#   bash scripts/gpu-tree.sh restore   puts checkpoints/ back into the index and drops the exclude line
#
# Between slim and restore, `git status` shows the checkpoints as deleted: never commit then (CI would
# fail, since the lessons load them). Runs in the git checkout it is called from.
set -euo pipefail
die() { echo "gpu-tree: $*" >&2; exit 1; }
ROOT="$(git rev-parse --show-toplevel 2>/dev/null)" || die "not inside a git checkout"
cd "$ROOT"
EXCLUDE="$(git rev-parse --git-path info/exclude)"
MARK='# gpu-tree.sh slim (undo: bash scripts/gpu-tree.sh restore); the next line ignores checkpoints/'
LIMIT_MB="${GPU_PACK_LIMIT_MB:-64}"
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
is_slim() { [ -f "$EXCLUDE" ] && grep -qxF "$MARK" "$EXCLUDE"; }

size() {
  local tree pack=0 both
  tree=$({ git ls-files -z; git ls-files -z --others --exclude-standard; } | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  [ -d build/gpu-pack ] && pack=$(du -sb build/gpu-pack | cut -f1)
  both=$((tree + pack))
  echo "gpu-tree: working tree that travels $(mib "$tree") MiB$(is_slim && echo ' (slim: without checkpoints/)'), build/gpu-pack $(mib "$pack") MiB, together $(mib "$both") MiB (limit $LIMIT_MB MiB)"
  # The lesson-05 archive travels in a call of its own, with the same tree.
  local lesson=0 over=0
  [ "$both" -gt $((LIMIT_MB * 1048576)) ] && over=1
  if [ -d build/gpu-lesson ]; then
    lesson=$(du -sb build/gpu-lesson | cut -f1)
    echo "gpu-tree: the second call: working tree $(mib "$tree") MiB + build/gpu-lesson $(mib "$lesson") MiB = $(mib $((tree + lesson))) MiB (limit $LIMIT_MB MiB)"
    [ $((tree + lesson)) -gt $((LIMIT_MB * 1048576)) ] && over=1
  fi
  if [ "$over" = 1 ]; then
    is_slim || echo "gpu-tree: over the limit: bash scripts/gpu-tree.sh slim leaves checkpoints/ behind (they stay on disk)"
    return 1
  fi
  return 0
}

case "${1:-}" in
  size) size ;;
  slim)
    is_slim && die "already slim (bash scripts/gpu-tree.sh restore undoes it)"
    git diff --cached --quiet -- checkpoints || die "checkpoints/ has staged changes: commit or unstage them first"
    git rm -r -q --cached -- checkpoints
    mkdir -p "$(dirname "$EXCLUDE")" && touch "$EXCLUDE"
    [ -s "$EXCLUDE" ] && [ -n "$(tail -c 1 "$EXCLUDE")" ] && echo >> "$EXCLUDE" # end its last line first
    printf '%s\n/checkpoints/\n' "$MARK" >> "$EXCLUDE"
    echo "gpu-tree: checkpoints/ left out of the index (files untouched); do not commit until: bash scripts/gpu-tree.sh restore"
    size || true
    ;;
  restore)
    is_slim || die "not slim: nothing to restore"
    git reset -q -- checkpoints
    awk -v m="$MARK" '$0 == m { skip = 1; next } skip { skip = 0; next } { print }' "$EXCLUDE" > "$EXCLUDE.tmp"
    mv "$EXCLUDE.tmp" "$EXCLUDE"
    echo "gpu-tree: checkpoints/ back in the index"
    size || true
    ;;
  *) die "usage: bash scripts/gpu-tree.sh size|slim|restore" ;;
esac
