#!/usr/bin/env bash
# Fetches the context engine's benchmark corpus: code nobody here wrote, from npm packs at pinned versions,
# into a cache directory (never into the repository). Prints the corpus directory.
#
#   rxjs 7.8.2: src/            typescript 5.9.3: lib/*.d.ts and lib/typescript.js     @types/node 22.20.5
#
# usage: scripts/fetch-bench-corpus.sh [CACHE_DIR]   (default: ${XDG_CACHE_HOME:-~/.cache}/samokoder/corpus)
set -euo pipefail

cache="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/samokoder/corpus}"
corpus="$cache/v1"
if [ -f "$corpus/.complete" ]; then
  echo "$corpus"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-bench-corpus: npm is needed (apt-get install npm, or Node.js)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rm -rf "$corpus.partial"
mkdir -p "$corpus.partial"
for spec in rxjs@7.8.2 typescript@5.9.3 @types/node@22.20.5; do
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
done
extract() { # tarball, destination, paths (globs) inside the package's top directory to keep...
  local tarball="$1" dest="$2" top
  shift 2
  rm -rf "$work/x"
  mkdir -p "$work/x" "$corpus.partial/$dest"
  tar -xzf "$tarball" -C "$work/x"
  top="$(find "$work/x" -mindepth 1 -maxdepth 1 -type d | head -n 1)"   # package/, or "node v22.20/"
  for keep in "$@"; do
    (cd "$top" && cp -r --parents $keep "$corpus.partial/$dest/")
  done
}
extract "$work"/rxjs-7.8.2.tgz rxjs src
extract "$work"/typescript-5.9.3.tgz typescript 'lib/*.d.ts' lib/typescript.js
extract "$work"/types-node-22.20.5.tgz types-node '*.d.ts' '*/*.d.ts'
touch "$corpus.partial/.complete"
rm -rf "$corpus"
mv "$corpus.partial" "$corpus"
files=$(find "$corpus" -type f \( -name '*.ts' -o -name '*.js' \) | wc -l)
bytes=$(find "$corpus" -type f \( -name '*.ts' -o -name '*.js' \) -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "fetch-bench-corpus: $files files, $((bytes / 1024 / 1024)) MB in $corpus" >&2
echo "$corpus"
