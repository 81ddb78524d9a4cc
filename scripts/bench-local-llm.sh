#!/usr/bin/env bash
# Benchmarks the embedded model (prefill and decode tokens/s, time to first token) for the 0.5B and 1.5B
# models; then, when llama-cpp-python is importable (LCP_PYTHON, default python3), the same prompt through
# it in the same run, as the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-model.sh 0.5b >/dev/null
# Both sides read the models where the fetch put them.
SAMOKODER_MODEL_DIR="$(dirname "$(scripts/fetch-model.sh 1.5b)")"
export SAMOKODER_MODEL_DIR
prompt="$(mktemp)"
trap 'rm -f "$prompt"' EXIT
cargo bench -p samokoder-llm --features local-llm --bench local -- --write-prompt "$prompt"
python="${LCP_PYTHON:-python3}"
if ! "$python" -c 'import llama_cpp' 2>/dev/null; then
  echo "baseline skipped: llama-cpp-python is not importable by $python (pip install llama-cpp-python)"
  exit 0
fi
"$python" - "$prompt" "$SAMOKODER_MODEL_DIR" <<'PY'
import os, sys, time
import llama_cpp
prompt = open(sys.argv[1]).read()
threads = os.cpu_count() or 2
for label, name in [("Qwen2.5-Coder-0.5B", "qwen2.5-coder-0.5b-instruct.gguf"), ("Qwen2.5-Coder-1.5B Q4_K_M", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")]:
    llm = llama_cpp.Llama(os.path.join(sys.argv[2], name), n_ctx=4096, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)
    chat = f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
    tokens = llm.tokenize(chat.encode(), add_bos=True, special=True)
    best_pp = best_tg = 0.0
    first = None
    for _ in range(3):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens)
        t1 = time.perf_counter()
        n = 0
        # generate() finds the evaluated prompt in the KV cache and re-reads only its last token.
        for tok in llm.generate(tokens, temp=0.0):
            if n == 0:
                t2 = time.perf_counter()
            n += 1
            if n >= 128 or llm.token_eos() == tok:
                break
        t3 = time.perf_counter()
        best_pp = max(best_pp, len(tokens) / (t1 - t0))
        best_tg = max(best_tg, (n - 1) / (t3 - t2)) if n > 1 else best_tg
        first = min(first or 1e9, t2 - t0)
    print(f"llama-cpp-python {llama_cpp.__version__}, {label}: prefill {best_pp:7.1f} tok/s ({len(tokens)} tokens), decode {best_tg:6.1f} tok/s, first token {first * 1000:6.0f} ms")
PY
