#!/usr/bin/env bash
# The whole team on the embedded model, timed: the README's example (a simple request) and a moderate one.
# For each: wall time, the run's outcome, and where the time went per agent (`samokoder runs RUN`, from the
# run's own request log). The simple request's code writer call is the same single whole-file call the
# pipeline made before it had a team, so its line is the baseline of the same run.
#
# usage: scripts/bench-team.sh [path/to/samokoder]   (default: target/release/samokoder; build it with
#        cargo build --release --features local-llm). Needs a Docker daemon and a sandbox image
#        (cargo xtask setup run), and the 1.5B model (samokoder model fetch).
set -euo pipefail
bin="${1:-target/release/samokoder}"
image="${SAMOKODER_SANDBOX_IMAGE:-samokoder-test-node:latest}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for description in "a function that sums two numbers, with tests" \
                   "a todo list module with add, complete, remove and list, with tests"; do
  dir="$work/$(echo "$description" | tr -cd 'a-z' | cut -c1-20)"
  start=$(date +%s%N)
  set +e
  env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GROQ_API_KEY SAMOKODER_SANDBOX_IMAGE="$image" \
    "$bin" generate "$description" --dir "$dir" --yes > "$work/out" 2> "$work/err"
  code=$?
  set -e
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  echo "== $description"
  echo "wall $((ms / 1000)).$(( (ms % 1000) / 100 )) s, exit $code: $(tail -n 1 "$work/out")"
  run=$("$bin" runs --dir "$dir" | sed -n 2p | cut -d' ' -f1)
  "$bin" runs "$run" --dir "$dir" | sed -n '/MODEL CALLS/,$p'
done
