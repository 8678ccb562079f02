#!/usr/bin/env bash
# Check proto/ for breaking changes (buf rule set FILE) against an earlier commit.
#
#   scripts/buf_breaking.sh            # against HEAD~1 (the previous commit of main)
#   scripts/buf_breaking.sh origin/main  # against any git revision, e.g. in a PR build
#
# Works offline: buf reads the local .git directory. Skips (exit 0, with a message) when the
# revision does not exist or has no proto/ + buf.yaml yet, e.g. the commit introducing them.
set -euo pipefail
cd "$(dirname "$0")/.."

rev="${1:-HEAD~1}"
if ! sha="$(git rev-parse --verify --quiet "${rev}^{commit}")"; then
  echo "buf breaking: skipped, no commit ${rev} to compare against"
  exit 0
fi
if ! git cat-file -e "${sha}:proto" 2>/dev/null || ! git cat-file -e "${sha}:buf.yaml" 2>/dev/null; then
  echo "buf breaking: skipped, ${rev} (${sha:0:12}) has no proto/ and buf.yaml"
  exit 0
fi
if [ ! -x node_modules/.bin/buf ]; then
  echo "buf breaking: node_modules/.bin/buf missing; run 'npm ci' first" >&2
  exit 2
fi
echo "buf breaking: comparing the working tree with ${rev} (${sha:0:12})"
exec node_modules/.bin/buf breaking --against ".git#ref=${sha}"
