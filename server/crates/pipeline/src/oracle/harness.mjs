// Runs examples against modules, in the sandbox: `node harness.mjs MARK SPEC.json`. SPEC is
// {"checks": [{"id", "module", "call", "expect": {"kind": "equal", "value"} | {"kind": "nullish"} |
// {"kind": "throws", "name"} | {"kind": "probe"}}]}. Each check's call is evaluated with the module's
// exports in scope, in a worker thread, so that a call that never returns (an endless loop) is stopped
// after its time and the checks after it still run in a new worker. One line per check:
// MARK {"id", "ok", "got", "error"?}; `got` is the value as util.inspect prints it, sorted and on one line,
// so that two modules that behave alike print alike.
import { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';

const [mark, specPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const LIMIT_MS = 2000;

const workerCode = `
const { parentPort } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const path = require('node:path');
const util = require('node:util');
const loaded = new Map();
async function scope(module) {
  if (!loaded.has(module)) {
    loaded.set(module, (async () => {
      const m = await import(pathToFileURL(path.resolve(module)).href);
      const names = {};
      for (const [k, v] of Object.entries(m)) if (k !== 'default') names[k] = v;
      const d = m.default;
      if (d !== undefined) {
        if ((typeof d === 'function') && d.name && !(d.name in names)) names[d.name] = d;
        if (d && typeof d === 'object') for (const [k, v] of Object.entries(d)) if (!(k in names)) names[k] = v;
      }
      return names;
    })());
  }
  return loaded.get(module);
}
const show = (v) => util.inspect(v, { depth: 8, sorted: true, breakLength: Infinity, maxArrayLength: 200, maxStringLength: 2000 });
parentPort.on('message', async ({ id, module, call }) => {
  try {
    const names = await scope(module);
    const keys = Object.keys(names).filter((k) => /^[A-Za-z_$][\\w$]*$/.test(k));
    let value = new Function(...keys, 'return (' + call + ');')(...keys.map((k) => names[k]));
    if (value && typeof value.then === 'function') value = await value;
    let plain;
    try { plain = structuredClone(value); } catch { plain = undefined; }
    parentPort.postMessage({ id, threw: false, got: show(value), value: plain, cloned: plain !== undefined || value === undefined });
  } catch (e) {
    const name = e && e.constructor && e.constructor.name || typeof e;
    const message = e && e.message !== undefined ? String(e.message) : String(e);
    parentPort.postMessage({ id, threw: true, name, message, got: 'throws ' + name });
  }
});
`;

function near(a, b, expectedText) {
  if (Object.is(a, b)) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  if (Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))) return true;
  // An example written rounded (3.33 for 10 / 3) holds when the value rounds to it.
  const decimals = /\.(\d+)$/.exec(expectedText || '');
  return decimals !== null && decimals[1].length >= 2 && a.toFixed(decimals[1].length) === b.toFixed(decimals[1].length);
}

function equal(got, want, wantText) {
  if (typeof want === 'number') return typeof got === 'number' && near(got, want, wantText);
  if (want === null || typeof want !== 'object') return Object.is(got, want);
  if (got === null || typeof got !== 'object') return false;
  if (Array.isArray(want) !== Array.isArray(got)) return false;
  if (want instanceof Map || want instanceof Set) return false;
  if (got instanceof Set) got = [...got];
  if (got instanceof Map) got = Object.fromEntries(got);
  const wk = Object.keys(want);
  const gk = Object.keys(got);
  if (wk.length !== gk.length) return false;
  return wk.every((k) => Object.hasOwn(got, k) && equal(got[k], want[k], null));
}

function verdict(check, reply) {
  const expect = check.expect;
  if (reply.timeout) return { ok: false, got: `did not return within ${LIMIT_MS} ms`, error: 'timeout' };
  if (expect.kind === 'probe') return { ok: true, got: reply.got };
  if (expect.kind === 'throws') {
    const ok = reply.threw && (!expect.name || reply.name === expect.name);
    return { ok, got: reply.threw ? `throws ${reply.name}: ${reply.message}` : reply.got };
  }
  if (reply.threw) return { ok: false, got: `throws ${reply.name}: ${reply.message}` };
  if (expect.kind === 'nullish') return { ok: reply.got === 'null' || reply.got === 'undefined', got: reply.got };
  let want;
  try {
    want = new Function('return (' + expect.value + ');')();
  } catch (e) {
    return { ok: false, got: reply.got, error: `the expected value does not run: ${e.message}` };
  }
  if (!reply.cloned) return { ok: false, got: reply.got };
  return { ok: equal(reply.value, want, expect.value), got: reply.got };
}

let worker = null;
let waiting = null;
function start() {
  worker = new Worker(workerCode, { eval: true, stdout: true, stderr: true });
  // What the module prints is not ours to show: read and dropped.
  worker.stdout.resume();
  worker.stderr.resume();
  worker.on('message', (reply) => { if (waiting) waiting(reply); });
  worker.on('error', (e) => { if (waiting) waiting({ threw: true, name: e.constructor.name, message: e.message, got: 'throws ' + e.constructor.name }); worker = null; });
}

function ask(check) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { waiting = null; resolve({ timeout: true }); }, LIMIT_MS);
    waiting = (reply) => { clearTimeout(timer); waiting = null; resolve(reply); };
    worker.postMessage({ id: check.id, module: check.module, call: check.call });
  });
}

for (const check of spec.checks) {
  if (!worker) start();
  const reply = await ask(check);
  if (reply.timeout) {
    await worker.terminate();
    worker = null;
  }
  const v = verdict(check, reply);
  process.stdout.write(`${mark}${JSON.stringify({ id: check.id, ...v })}\n`);
}
if (worker) await worker.terminate();
