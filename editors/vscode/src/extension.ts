// Samokoder for VS Code: starts the `samokoder` language server, names its commands in the palette, shows
// the running run in the status bar and its log in an output channel, answers its questions, and hands it
// the API keys kept in VS Code's secret storage. Code actions, diagnostics and edits are plain LSP.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  type StaticFeature,
} from 'vscode-languageclient/node';

const INSTALL = 'cargo install --path . --features local-llm';
/// Secret-storage names of the keys, and where each goes in the server's settings.
const KEYS: { provider: string; label: string; put: (settings: Settings, key: string) => void }[] = [
  { provider: 'openai', label: 'OpenAI (or the OpenAI-compatible endpoint in samokoder.llm.baseUrl)', put: (s, k) => (section(s, 'llm').apiKey = k) },
  { provider: 'anthropic', label: 'Anthropic', put: (s, k) => (section(section(section(s, 'llm'), 'providers'), 'anthropic').apiKey = k) },
  { provider: 'groq', label: 'Groq', put: (s, k) => (section(section(section(s, 'llm'), 'providers'), 'groq').apiKey = k) },
];

type Settings = { [key: string]: any };
type Run = { runId: string; kind: string; message?: string; promptTokens?: number; completionTokens?: number; costUsd?: number };

let client: LanguageClient | undefined;

function section(settings: Settings, name: string): Settings {
  if (typeof settings[name] !== 'object' || settings[name] === null) {
    settings[name] = {};
  }
  return settings[name];
}

/// The server: the `samokoder.server.path` setting, else `samokoder` on PATH.
function findServer(): string | undefined {
  const configured = vscode.workspace.getConfiguration('samokoder').get<string>('server.path');
  if (configured) {
    return fs.existsSync(configured) ? configured : undefined;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'samokoder');
    if (dir && fs.existsSync(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/// The `samokoder` settings as the server takes them: only what the user set (VS Code would otherwise fill
/// every declared setting with its type's default, a budget of 0 tokens among them), without the
/// extension's own keys, with the API keys from secret storage.
async function serverSettings(secrets: vscode.SecretStorage, declared: string[]): Promise<Settings> {
  const config = vscode.workspace.getConfiguration();
  const settings: Settings = {};
  for (const key of declared) {
    if (!key.startsWith('samokoder.') || key.startsWith('samokoder.server.')) {
      continue;
    }
    const set = config.inspect(key);
    const value = set?.workspaceFolderValue ?? set?.workspaceValue ?? set?.globalValue;
    if (value === undefined) {
      continue;
    }
    const parts = key.split('.').slice(1);
    let at = settings;
    for (const part of parts.slice(0, -1)) {
      at = section(at, part);
    }
    at[parts[parts.length - 1]] = value;
  }
  for (const key of KEYS) {
    const value = await secrets.get(`samokoder.apiKey.${key.provider}`);
    if (value) {
      key.put(settings, value);
    }
  }
  return settings;
}

/// Tells the server the client answers samokoder/ask.
const askFeature: StaticFeature = {
  fillClientCapabilities(capabilities) {
    capabilities.experimental = { ...(capabilities.experimental ?? {}), samokoderAsk: true };
  },
  initialize() {},
  getState() {
    return { kind: 'static' };
  },
  clear() {},
};

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Samokoder');
  const status = vscode.window.createStatusBarItem('samokoder.status', vscode.StatusBarAlignment.Left, 10);
  status.name = 'Samokoder';
  status.command = 'samokoder.palette.showLog';
  status.text = '$(sparkle) Samokoder';
  status.tooltip = 'Samokoder: no run is going on. Click for the log.';
  status.show();
  context.subscriptions.push(output, status);

  const command = findServer();
  if (!command) {
    const configured = vscode.workspace.getConfiguration('samokoder').get<string>('server.path');
    const why = configured ? `samokoder.server.path (${configured}) does not exist` : 'samokoder is not on PATH';
    status.text = '$(error) Samokoder';
    status.tooltip = why;
    void vscode.window
      .showErrorMessage(`Samokoder: ${why}. Build it from the samokoder repository with \`${INSTALL}\`, or set samokoder.server.path.`, 'Copy the command', 'Open settings')
      .then((choice) => {
        if (choice === 'Copy the command') {
          void vscode.env.clipboard.writeText(INSTALL);
        } else if (choice === 'Open settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'samokoder.server.path');
        }
      });
    return;
  }

  const secrets = context.secrets;
  const declared = Object.keys(context.extension.packageJSON?.contributes?.configuration?.properties ?? {});
  const serverOptions: ServerOptions = { command, args: ['lsp'] };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'javascript' },
      { scheme: 'file', language: 'javascriptreact' },
      { scheme: 'file', language: 'typescript' },
      { scheme: 'file', language: 'typescriptreact' },
      { scheme: 'file', language: 'json' },
      { scheme: 'file', language: 'markdown' },
      { scheme: 'file', pattern: '**/.samokoder/*.diff' },
    ],
    outputChannel: output,
    initializationOptions: await serverSettings(secrets, declared),
    middleware: {
      workspace: {
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return Promise.all(
            result.map((value, i) => (params.items[i]?.section === 'samokoder' ? serverSettings(secrets, declared) : value)),
          );
        },
      },
    },
  };
  client = new LanguageClient('samokoder', 'Samokoder', serverOptions, clientOptions);
  client.registerFeature(askFeature);
  const lc = client;

  lc.onNotification('samokoder/log', (params: { agent?: string; text?: string }) => {
    const prefix = `[${params.agent ?? ''}] `;
    const text = params.text ?? '';
    output.append(text.split('\n').map((line, i, all) => (i === all.length - 1 && line === '' ? '' : prefix + line)).join('\n'));
    refreshSoon();
  });
  lc.onRequest('samokoder/ask', async (params: { question: string; choices?: string[] }) => {
    const title = 'Samokoder asks';
    const typed = () => vscode.window.showInputBox({ title, prompt: params.question, ignoreFocusOut: true });
    let answer: string | undefined;
    if (params.choices && params.choices.length > 0) {
      const other = 'Something else…';
      answer = await vscode.window.showQuickPick([...params.choices, other], { title, placeHolder: params.question, ignoreFocusOut: true });
      if (answer === other) {
        answer = await typed();
      }
    } else {
      answer = await typed();
    }
    return { answer: answer ? answer : null };
  });

  // The status bar: the runs going on, with agent, task, tokens and cost.
  let timer: NodeJS.Timeout | undefined;
  let pending: NodeJS.Timeout | undefined;
  async function refresh(): Promise<void> {
    let runs: Run[] = [];
    try {
      runs = ((await lc.sendRequest('samokoder/status', {})) as { runs: Run[] }).runs ?? [];
    } catch {
      return;
    }
    if (runs.length === 0) {
      status.text = '$(sparkle) Samokoder';
      status.tooltip = 'Samokoder: no run is going on. Click for the log.';
      if (timer) {
        clearInterval(timer);
        timer = undefined;
      }
      return;
    }
    const run = runs[0];
    const tokens = (run.promptTokens ?? 0) + (run.completionTokens ?? 0);
    const cost = run.costUsd ? `, $${run.costUsd.toFixed(4)}` : '';
    status.text = `$(sync~spin) Samokoder: ${run.message ?? run.kind} (${tokens} tokens${cost})`;
    status.tooltip = runs.map((r) => `${r.kind} ${r.runId}: ${r.message ?? ''}`).join('\n') + '\nClick for the log.';
    if (!timer) {
      timer = setInterval(() => void refresh(), 1000);
    }
  }
  function refreshSoon(): void {
    if (!pending) {
      pending = setTimeout(() => {
        pending = undefined;
        void refresh();
      }, 200);
    }
  }
  context.subscriptions.push({ dispose: () => timer && clearInterval(timer) });

  /// Runs a server command; a refusal (InvalidParams with what to send) is shown as is.
  async function execute(name: string, ...args: unknown[]): Promise<any> {
    try {
      const result = await lc.sendRequest('workspace/executeCommand', { command: name, arguments: args });
      refreshSoon();
      return result;
    } catch (e) {
      void vscode.window.showErrorMessage(`Samokoder: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }

  const register = (name: string, run: () => unknown) => context.subscriptions.push(vscode.commands.registerCommand(`samokoder.palette.${name}`, run));
  register('generate', async () => {
    const description = await vscode.window.showInputBox({ title: 'Samokoder: Generate from description', prompt: 'What should be built?', placeHolder: 'a todo list with a text formatter', ignoreFocusOut: true });
    if (!description) {
      return;
    }
    const listed = ((await lc.sendRequest('samokoder/templates', {})) as { templates: { name: string; description: string }[] }).templates;
    const choose = 'Let Samokoder choose';
    const template = await vscode.window.showQuickPick([{ label: choose, description: 'the architect picks from the description' }, ...listed.map((t) => ({ label: t.name, description: t.description }))], { title: 'Samokoder: template', ignoreFocusOut: true });
    if (!template) {
      return;
    }
    const dir = await vscode.window.showInputBox({ title: 'Samokoder: folder', prompt: 'A folder in the workspace to build in (empty: the workspace itself)', ignoreFocusOut: true });
    if (dir === undefined) {
      return;
    }
    await execute('samokoder.generate', { description, ...(template.label === choose ? {} : { template: template.label }), ...(dir ? { dir } : {}) });
  });
  register('writeSpec', async () => {
    const description = await vscode.window.showInputBox({ title: 'Samokoder: Write spec', prompt: 'What should be built? (empty: the spec of this workspace as it is)', ignoreFocusOut: true });
    if (description !== undefined) {
      await execute('samokoder.writeSpec', description ? { description } : {});
    }
  });
  register('implement', async () => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      return vscode.window.showInformationMessage('Samokoder: open a file and put the cursor on a TODO(samokoder) comment, or select what to implement.');
    }
    await execute('samokoder.implement', { uri: editor.document.uri.toString(), range: lc.code2ProtocolConverter.asRange(editor.selection) });
  });
  register('fix', async () => {
    const editor = vscode.window.activeTextEditor;
    const here = editor ? vscode.languages.getDiagnostics(editor.document.uri).filter((d) => d.range.start.line <= editor.selection.active.line && editor.selection.active.line <= d.range.end.line) : [];
    if (!editor || here.length === 0) {
      return execute('samokoder.fix');
    }
    let chosen: vscode.Diagnostic | undefined = here[0];
    if (here.length > 1) {
      const pick = await vscode.window.showQuickPick(here.map((d) => ({ label: d.message.split('\n')[0], description: d.source, d })), { title: 'Samokoder: fix which problem?' });
      chosen = pick?.d;
    }
    if (chosen) {
      await execute('samokoder.fix', { uri: editor.document.uri.toString(), diagnostic: lc.code2ProtocolConverter.asDiagnostic(chosen) });
    }
  });
  register('generateTests', async () => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      return vscode.window.showInformationMessage('Samokoder: open the JavaScript or TypeScript file to write tests for.');
    }
    await execute('samokoder.generateTests', { uri: editor.document.uri.toString() });
  });
  register('runTests', () => execute('samokoder.runTests'));
  register('run', () => execute('samokoder.run', {}));
  register('stop', () => execute('samokoder.stop'));
  register('resume', () => execute('samokoder.resume', {}));
  register('cancel', async () => {
    const runs = ((await lc.sendRequest('samokoder/status', {})) as { runs: Run[] }).runs ?? [];
    if (runs.length === 0) {
      return vscode.window.showInformationMessage('Samokoder: no run is going on.');
    }
    for (const run of runs) {
      await execute('samokoder.cancel', { runId: run.runId });
    }
  });
  register('undo', async () => {
    const runs = ((await lc.sendRequest('samokoder/runs', { limit: 20 })) as { runs: (Run & { status: string; description?: string })[] }).runs;
    const last = runs.find((r) => r.status !== 'running' && r.kind !== 'undo');
    if (!last) {
      return vscode.window.showInformationMessage('Samokoder: no run to undo.');
    }
    const yes = 'Undo';
    const answer = await vscode.window.showWarningMessage(`Samokoder: undo the last run (${last.kind}: ${last.description ?? ''})?`, { modal: true }, yes);
    if (answer === yes) {
      await execute('samokoder.undo', { runId: last.runId });
    }
  });
  register('showLog', () => output.show(true));
  register('setApiKey', async () => {
    const which = await vscode.window.showQuickPick(KEYS.map((k) => ({ label: k.provider, description: k.label })), { title: 'Samokoder: the key of which provider?' });
    if (!which) {
      return;
    }
    const key = await vscode.window.showInputBox({ title: `Samokoder: ${which.label} API key`, prompt: 'Kept in VS Code\'s secret storage, never in settings.json. Empty removes it.', password: true, ignoreFocusOut: true });
    if (key === undefined) {
      return;
    }
    if (key) {
      await secrets.store(`samokoder.apiKey.${which.label}`, key);
    } else {
      await secrets.delete(`samokoder.apiKey.${which.label}`);
    }
    // The server asks for its settings again (workspace/configuration), which now carry the key.
    await lc.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
  });

  // The server pulls its settings again (workspace/configuration) when told that they changed.
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('samokoder') && lc.isRunning()) {
        void lc.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
      }
    }),
  );
  await lc.start();
  void refresh();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
