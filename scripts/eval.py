#!/usr/bin/env python3
"""How often Samokoder gets a task right: the tasks of eval/tasks (generate a module from a description,
implement a TODO(samokoder) comment, fix a failing test), each judged afterwards by tests the model never
sees (eval/tasks/<task>/hidden), run in the sandbox. Prints a table per mode: task, passed or not, model
calls, fix iterations, wall time. Results so far: docs/evaluation.md.

Modes:
  one-shot   generate: one call, no spec, no tests (`generate --one-shot`); implement: the edit, no fix loop;
             fix: one try
  no-loop    the pipeline without the fix loop (llm.budget.max_fix_iterations = 0; fix runs get their one try)
  loop       the pipeline with the fix loop (4 iterations at most)

usage: scripts/eval.py [--bin target/release/samokoder] [--modes one-shot,no-loop,loop] [--tasks g1,i2,...]
                      [--seeds 1,2,3] [--log DIR]

--seeds runs every task once per sampler seed (llm.local.seed) and counts its passes: a small model's reply
swings with the sampler, so one run per task says little.
Needs a provider (or the embedded model: `samokoder model fetch`), a Docker daemon and a sandbox image
(`cargo xtask setup run`; SAMOKODER_SANDBOX_IMAGE as there).
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "eval", "tasks")


def run(cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def config(work, fixes, test_command=None, seed=None):
    os.makedirs(os.path.join(work, ".samokoder"), exist_ok=True)
    text = f"[llm.budget]\nmax_fix_iterations = {fixes}\n"
    if seed is not None:
        text += f"\n[llm.local]\nseed = {seed}\n"
    if test_command:
        text += f'\n[sandbox]\ntest_command = "{test_command}"\n'
    with open(os.path.join(work, ".samokoder", "config.toml"), "w") as f:
        f.write(text)


def one(bin, name, mode, log=None, seed=None):
    task = json.load(open(os.path.join(TASKS, name, "task.json")))
    work = tempfile.mkdtemp(prefix=f"samokoder-eval-{name}-")
    shutil.copytree(os.path.join(TASKS, name, "project"), work, dirs_exist_ok=True)
    kind = task["kind"]
    fixes = {"one-shot": 0, "no-loop": 0, "loop": 4}[mode]
    if kind == "fix":
        fixes = max(fixes, 1)  # a fix run's first try is the fix itself
    config(work, fixes, seed=seed)
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
    calls, fix_iterations = 0, 0
    if len(listing) > 1:
        detail = run([bin, "runs", listing[1].split()[0], "--dir", work]).stdout
        m = re.search(r"^\s+all\s+(\d+)", detail, re.M)
        calls = int(m.group(1)) if m else 0
        fix_iterations = len(re.findall(r"^\s+\d+ (?:troubleshooter|bug_hunter) ", detail, re.M))
    # The judge: the hidden tests alone, in the sandbox.
    shutil.copytree(os.path.join(TASKS, name, "hidden"), os.path.join(work, "hidden"))
    config(work, fixes, "node --test hidden/")
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
            "wall": wall, "exit": done.returncode, "said": last[:90]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "samokoder"))
    p.add_argument("--modes", default="one-shot,no-loop,loop")
    p.add_argument("--tasks", default="")
    p.add_argument("--seeds", default="", help="sampler seeds: every task runs once per seed")
    p.add_argument("--log", default="", help="a directory for each run's output, record, judge and src/")
    a = p.parse_args()
    names = sorted(os.listdir(TASKS))
    if a.tasks:
        wanted = a.tasks.split(",")
        names = [n for n in names if any(n.startswith(w) for w in wanted)]
    seeds = [int(s, 0) for s in a.seeds.split(",")] if a.seeds else [None]
    results = []
    for mode in a.modes.split(","):
        print(f"\n## {mode}\n\n| task | seed | passed | calls | fix iterations | wall s | the run said |\n| --- | --- | --- | --- | --- | --- | --- |")
        for name in names:
            for seed in seeds:
                r = one(a.bin, name, mode, a.log or None, seed)
                results.append(r)
                shown = "default" if seed is None else seed
                print(f"| {name} | {shown} | {'yes' if r['passed'] else 'no'} | {r['calls']} | {r['fixes']} | {r['wall']:.1f} | {r['said']} |", flush=True)
        ok = [r for r in results if r["mode"] == mode and r["passed"]]
        print(f"\n{mode}: {len(ok)} of {len(names) * len(seeds)} runs passed the hidden tests")
        if len(seeds) > 1:
            for name in names:
                passes = sum(r["passed"] for r in results if r["mode"] == mode and r["task"] == name)
                print(f"  {name}: {passes} of {len(seeds)}")
    json.dump(results, open(os.path.join(tempfile.gettempdir(), "samokoder-eval.json"), "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
