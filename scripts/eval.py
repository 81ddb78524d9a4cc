#!/usr/bin/env python3
"""How often Samokoder gets a task right: the tasks of eval/tasks (generate a module from a description,
implement a TODO(samokoder) comment, fix a failing test) and HumanEval-JS (eval/humaneval-js: implement a
TODO under a doc comment), each judged afterwards by tests the model never sees (`hidden/`), run in the
sandbox. Prints a table per mode: task, passed or not, model calls, fix iterations, tokens, wall time, and
the pass count, median and p90 wall time per mode. Results so far: docs/evaluation.md.

Modes:
  one-shot   generate: one call, no spec, no tests (`generate --one-shot`); implement: the edit alone (one
             draw, no stated examples checked, no fix loop); fix: one try
  today      the pipeline as it was before the oracle (one draw, stated examples not checked, the fix loop and
             case tests after every implement): `[run] candidates = 1, oracle = false`
  no-loop    the pipeline without the fix loop (llm.budget.max_fix_iterations = 0; fix runs get their one try)
  loop       the pipeline as it is (stated examples as checks, candidates chosen by running them, the loop)

Tasks: a prefix of a task's name (`g1`, `he012`), `he-dev` (the first 38 HumanEval-JS tasks, the ones looked
at while tuning) or `he-report` (the other 39, reported and never looked at).

usage: scripts/eval.py [--bin target/release/samokoder] [--modes one-shot,today,loop] [--tasks g1,he-dev,...]
                      [--seeds 1,2,3] [--log DIR] [--json FILE]

--seeds runs every task once per sampler seed (llm.local.seed) and counts its passes: a small model's reply
swings with the sampler, so one run per task says little.
Needs a provider (or the embedded model: `samokoder model fetch`), a Docker daemon and a sandbox image
(`cargo xtask setup run`; SAMOKODER_SANDBOX_IMAGE as there).
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "eval", "tasks")
HUMANEVAL = os.path.join(ROOT, "eval", "humaneval-js")
DEV_HALF = 38


def humaneval_names():
    return json.load(open(os.path.join(HUMANEVAL, "index.json")))["tasks"]


def task_dir(name):
    return os.path.join(HUMANEVAL if name.startswith("he") else TASKS, name)


def load_task(name):
    task = json.load(open(os.path.join(task_dir(name), "task.json")))
    if name.startswith("he"):
        return {"kind": "implement", "at": f"{task['file']}:{task['todo_line']}", "project": "seed"}
    return dict(task, project="project")


def run(cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


RUN = {"one-shot": "[run]\ncandidates = 1\noracle = false\n", "today": "[run]\ncandidates = 1\noracle = false\n"}


def config(work, fixes, test_command=None, seed=None, run=""):
    os.makedirs(os.path.join(work, ".samokoder"), exist_ok=True)
    text = f"[llm.budget]\nmax_fix_iterations = {fixes}\n"
    if run:
        text += "\n" + run
    if seed is not None:
        text += f"\n[llm.local]\nseed = {seed}\n"
    if test_command:
        text += f'\n[sandbox]\ntest_command = "{test_command}"\n'
    with open(os.path.join(work, ".samokoder", "config.toml"), "w") as f:
        f.write(text)


def one(bin, name, mode, log=None, seed=None, old=False):
    task = load_task(name)
    work = tempfile.mkdtemp(prefix=f"samokoder-eval-{name}-")
    shutil.copytree(os.path.join(task_dir(name), task["project"]), work, dirs_exist_ok=True)
    os.system(f"chmod -R u+w {work}")
    kind = task["kind"]
    fixes = {"one-shot": 0, "today": 4, "no-loop": 0, "loop": 4}[mode]
    if kind == "fix":
        fixes = max(fixes, 1)  # a fix run's first try is the fix itself
    # A binary from before the oracle has no [run] table (and refuses one): it is `today` as it is.
    run_table = "" if old else RUN.get(mode, "")
    config(work, fixes, seed=seed, run=run_table)
    if kind == "generate":
        cmd = [bin, "generate", task["description"], "--dir", work, "--yes"] + (["--one-shot"] if mode == "one-shot" else [])
    elif kind == "implement":
        cmd = [bin, "implement", task["at"], "--dir", work]
    else:
        cmd = [bin, "fix", "--dir", work]
    cmd.append("--verbose")  # the model's text, for the log
    started = time.time()
    done = run(cmd)
    wall = time.time() - started
    # What the run did, from its own record.
    listing = run([bin, "runs", "--dir", work]).stdout.splitlines()
    calls, fix_iterations, tokens = 0, 0, 0
    if len(listing) > 1:
        tokens = int(listing[1].split()[3]) if listing[1].split()[3].isdigit() else 0
        detail = run([bin, "runs", listing[1].split()[0], "--dir", work]).stdout
        m = re.search(r"^\s+all\s+(\d+)", detail, re.M)
        calls = int(m.group(1)) if m else 0
        fix_iterations = len(re.findall(r"^\s+\d+ (?:troubleshooter|bug_hunter) ", detail, re.M))
    # The judge: the hidden tests alone, in the sandbox.
    shutil.copytree(os.path.join(task_dir(name), "hidden"), os.path.join(work, "hidden"))
    config(work, fixes, "node --test hidden/", run=run_table)
    judged = run([bin, "test", work])
    passed = judged.returncode == 0
    if log:
        os.makedirs(log, exist_ok=True)
        suffix = "" if seed is None else f".seed{seed}"
        with open(os.path.join(log, f"{name}.{mode}{suffix}.log"), "w") as f:
            f.write(f"$ {' '.join(cmd)}\n{done.stdout}\n{done.stderr}\n")
            if len(listing) > 1:
                f.write(run([bin, "runs", listing[1].split()[0], "--dir", work]).stdout)
            f.write(f"\n# judge\n{judged.stdout}\n{judged.stderr}\n")
            for root, _, files in os.walk(os.path.join(work, "src")):
                for file in files:
                    path = os.path.join(root, file)
                    f.write(f"\n# {os.path.relpath(path, work)}\n{open(path, errors='replace').read()}")
    last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
    shutil.rmtree(work, ignore_errors=True)
    # The run's store (~/.local/share/samokoder/workspaces/<dir name>-<hash>) goes too.
    data = os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "samokoder", "workspaces")
    for store in os.listdir(data) if os.path.isdir(data) else []:
        if store.startswith(os.path.basename(work) + "-"):
            shutil.rmtree(os.path.join(data, store), ignore_errors=True)
    return {"task": name, "mode": mode, "seed": seed, "passed": passed, "calls": calls, "fixes": fix_iterations,
            "tokens": tokens, "wall": wall, "exit": done.returncode, "said": last[:90]}


def percentile(values, p):
    values = sorted(values)
    if not values:
        return 0.0
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "samokoder"))
    p.add_argument("--modes", default="one-shot,no-loop,loop")
    p.add_argument("--tasks", default="")
    p.add_argument("--seeds", default="", help="sampler seeds: every task runs once per seed")
    p.add_argument("--log", default="", help="a directory for each run's output, record, judge and src/")
    p.add_argument("--json", default="", help="a file each result is appended to, one JSON object a line")
    p.add_argument("--old", action="store_true", help="the binary predates [run] (modes run as it is)")
    a = p.parse_args()
    he = humaneval_names()
    names = []
    for w in (a.tasks.split(",") if a.tasks else ["f", "g", "i"]):
        if w == "he-dev":
            found = he[:DEV_HALF]
        elif w == "he-report":
            found = he[DEV_HALF:]
        else:
            found = [n for n in sorted(os.listdir(TASKS)) + he if n.startswith(w)]
        names += [n for n in found if n not in names]
    seeds = [int(s, 0) for s in a.seeds.split(",")] if a.seeds else [None]
    results = []
    for mode in a.modes.split(","):
        print(f"\n## {mode}\n\n| task | seed | passed | calls | fix iterations | tokens | wall s | the run said |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name in names:
            for seed in seeds:
                r = one(a.bin, name, mode, a.log or None, seed, a.old)
                results.append(r)
                if a.json:
                    with open(a.json, "a") as f:
                        f.write(json.dumps(dict(r, bin=a.bin)) + "\n")
                shown = "default" if seed is None else seed
                print(f"| {name} | {shown} | {'yes' if r['passed'] else 'no'} | {r['calls']} | {r['fixes']} | {r['tokens']} | {r['wall']:.1f} | {r['said']} |", flush=True)
        mine = [r for r in results if r["mode"] == mode]
        ok = [r for r in mine if r["passed"]]
        walls = [r["wall"] for r in mine]
        print(f"\n{mode}: {len(ok)} of {len(names) * len(seeds)} runs passed the hidden tests; wall median "
              f"{percentile(walls, 0.5):.1f} s, p90 {percentile(walls, 0.9):.1f} s; calls median "
              f"{percentile([r['calls'] for r in mine], 0.5):.0f}; tokens median {percentile([r['tokens'] for r in mine], 0.5):.0f}")
        if len(seeds) > 1:
            for name in names:
                passes = sum(r["passed"] for r in results if r["mode"] == mode and r["task"] == name)
                print(f"  {name}: {passes} of {len(seeds)}")
    json.dump(results, open(os.path.join(tempfile.gettempdir(), "samokoder-eval.json"), "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
