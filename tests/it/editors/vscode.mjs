// The VS Code extension in real VS Code (code-server) driven through Chromium by playwright-core, as a user:
// F1 "Samokoder: Generate from description", type the description, pick the template and the folder,
// answer the spec writer's question, watch the files appear in the explorer and the status bar show the
// run; break the formatter by hand, "Samokoder: Run tests", see the failing test in Problems, and pick the
// quick fix "Samokoder: fix this" on it. Screenshots of each stage go to $SAMOKODER_SCREENSHOTS; what
// happened goes to $SAMOKODER_EDITOR_RESULT as JSON for the Rust test to judge.
//
// Environment: SAMOKODER_WORKSPACE, SAMOKODER_EDITOR_RESULT, SAMOKODER_SCREENSHOTS, SAMOKODER_CODE_SERVER
// (its binary), SAMOKODER_VSIX, SAMOKODER_BIN, SAMOKODER_PLAYWRIGHT (the playwright-core directory),
// CHROMIUM (the browser), and the server's own (the scripted model, the sandbox image).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const root = env('SAMOKODER_WORKSPACE');
const shots = env('SAMOKODER_SCREENSHOTS');
const resultPath = env('SAMOKODER_EDITOR_RESULT');
const { chromium } = createRequire(path.join(env('SAMOKODER_PLAYWRIGHT'), 'package.json'))('playwright-core');
const result = { stages: [] };
const home = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'samokoder-vscode-'));
let server;
let browser;
let page;

function finish(error) {
  if (error) result.error = String(error.stack ?? error);
  fs.writeFileSync(resultPath, JSON.stringify(result));
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function until(what, ms, condition) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main() {
  // code-server and Chromium write under HOME and the XDG directories: keep them in a temp dir.
  const xdg = {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
  };
  const codeServer = env('SAMOKODER_CODE_SERVER');
  const userData = path.join(home, 'data');
  const extensions = path.join(home, 'extensions');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User/settings.json'),
    JSON.stringify({
      'samokoder.server.path': env('SAMOKODER_BIN'),
      'workbench.startupEditor': 'none',
      'security.workspace.trust.enabled': false,
      'workbench.tips.enabled': false,
      'files.autoSave': 'off',
    }),
  );
  const install = spawnSync(codeServer, ['--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', env('SAMOKODER_VSIX')], {
    env: { ...process.env, ...xdg },
    encoding: 'utf8',
  });
  if (install.status !== 0) throw new Error(`code-server --install-extension: ${install.stdout}${install.stderr}`);
  const port = await freePort();
  const started = Date.now();
  server = spawn(
    codeServer,
    ['--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--user-data-dir', userData, '--extensions-dir', extensions, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', root],
    { env: { ...process.env, ...xdg }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let serverLog = '';
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  await until('code-server to listen', 60000, () => serverLog.includes('HTTP server listening'));

  browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox', '--disable-gpu'], env: { ...process.env, ...xdg } });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const shot = async (name) => {
    const file = path.join(shots, `${String(result.stages.length + 1).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file });
    result.stages.push(name);
  };
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(root)}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
  result.workbench_ms = Date.now() - started;
  const statusItem = page.locator('#samokoder\\.samokoder\\.samokoder\\.status, [id$="samokoder.status"]').first();
  await statusItem.waitFor({ timeout: 60000 });
  await shot('workbench');

  // 1. F1, the command, the description, the template, the folder.
  const palette = async (command) => {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill(`>${command}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: command }).first().waitFor();
    await page.keyboard.press('Enter');
  };
  const answer = async (placeholderOrPrompt, text) => {
    const widget = page.locator('.quick-input-widget');
    const input = page.locator('.quick-input-widget input');
    await until(`the input "${placeholderOrPrompt}"`, 60000, async () => {
      if (!(await widget.isVisible())) return false;
      const shown = (await widget.innerText()) + ((await input.getAttribute('placeholder')) ?? '');
      return shown.includes(placeholderOrPrompt);
    });
    if (text !== null) await input.fill(text);
    await page.keyboard.press('Enter');
  };
  // The text of the editor in front (Monaco renders spaces as no-break spaces).
  const activeEditor = () => page.locator('.part.editor .monaco-editor .view-lines:visible').first();
  const editorText = async () => ((await activeEditor().innerText().catch(() => '')) ?? '').replace(/\u00a0/g, ' ');
  await palette('Samokoder: Generate from description');
  await answer('What should be built?', 'a todo list with a text formatter');
  await answer('Let Samokoder choose', null);
  await answer('A folder in the workspace', null);
  // The spec writer's question, through samokoder/ask: a quick pick.
  await answer('Where are todos kept?', 'in memory');
  result.asked = true;
  result.status_during = await until('the status bar to show the run', 60000, async () => {
    const text = await statusItem.innerText();
    return text.includes('Samokoder:') ? text : null;
  });
  await shot('running');
  // The files appear in the explorer.
  const explorer = page.locator('.explorer-folders-view');
  await until('src and test in the explorer', 120000, async () => {
    const text = await explorer.innerText().catch(() => '');
    return text.includes('src') && text.includes('test');
  });
  await until('the run to end', 180000, async () => {
    const text = await page.locator('.notifications-toasts').innerText().catch(() => '');
    return text.includes('built 2 tasks');
  });
  result.explorer = await explorer.innerText();
  await shot('generated');

  // 2. Break the formatter by hand (unsaved), run the tests from the palette.
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').fill('src/format.js');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'format.js' }).first().waitFor();
  await page.keyboard.press('Enter');
  await until('format.js in the editor', 30000, async () => (await editorText()).includes('export function format'));
  await activeEditor().click();
  await page.keyboard.press('Control+H');
  await page.locator('.find-widget textarea[aria-label="Find"], .find-widget .input[aria-label="Find"]').first().fill('${i + 1}');
  await page.locator('.find-widget textarea[aria-label="Replace"], .find-widget .input[aria-label="Replace"]').first().fill('${i}');
  await page.keyboard.press('Control+Alt+Enter');
  await page.keyboard.press('Escape');
  await until('the bug in the buffer', 10000, async () => (await editorText()).includes('${i}.'));
  await palette('Samokoder: Run tests');
  await page.keyboard.press('Control+Shift+M');
  const problems = page.locator('.markers-panel');
  result.problem = await until('the failing test in Problems', 180000, async () => {
    const text = await problems.innerText().catch(() => '');
    return text.includes('numbers lines') ? text : null;
  });
  await shot('problem');

  // 3. The quick fix on the failing test's line.
  await page.locator('.markers-panel .monaco-list-row', { hasText: 'numbers lines' }).first().dblclick();
  await until('the test file in the editor', 30000, async () => (await editorText()).includes('numbers lines'));
  const action = page.locator('.action-widget .monaco-list-row, .context-view .action-label', { hasText: 'Samokoder: fix this' }).first();
  // Focus moves from Problems to the editor asynchronously: a Ctrl+. pressed before it lands opens nothing.
  await until('the quick fix menu', 30000, async () => {
    await page.keyboard.press('Control+.');
    return action.waitFor({ timeout: 3000 }).then(() => true, () => false);
  });
  result.quick_fixes = await page.locator('.context-view').first().innerText().catch(() => '');
  await shot('quick-fix');
  await action.click();
  await until('the fix run to end', 180000, async () => {
    const text = await page.locator('.notifications-toasts').innerText().catch(() => '');
    return text.includes('fixed in');
  });
  result.problems_after = await until('Problems to clear', 30000, async () => {
    const text = await problems.innerText().catch(() => '');
    return text.includes('numbers lines') ? null : text || 'empty';
  });
  // The fix is in format.js as the editor holds it.
  await page.locator('.tabs-container .tab', { hasText: 'format.js' }).first().click();
  result.fixed = await until('the fix in format.js', 30000, async () => {
    const text = await editorText();
    return text.includes('export function format') ? text : null;
  });
  await shot('fixed');
}

try {
  await main();
  finish(null);
} catch (e) {
  result.notifications = await page?.locator('.notifications-toasts').innerText().catch(() => '');
  await page?.screenshot({ path: path.join(shots, 'failed.png') }).catch(() => {});
  finish(e);
} finally {
  await browser?.close().catch(() => {});
  server?.kill('SIGTERM');
  fs.rmSync(home, { recursive: true, force: true });
}
