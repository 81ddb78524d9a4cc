-- Samokoder for Neovim 0.7 to 0.11+: starts the language server beside your JavaScript/TypeScript
-- servers, and gives its commands a name (:SamokoderGenerate, :SamokoderFix, ...). Everything else (code
-- actions, diagnostics, edits) is plain LSP and works without this plugin. :help samokoder

local M = {}

local modern = vim.fn.has('nvim-0.11') == 1

local defaults = {
  -- The server: { 'samokoder' } (on PATH), or a path: { '/home/me/bin/samokoder' }.
  cmd = { 'samokoder' },
  filetypes = { 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'json', 'markdown' },
  -- The workspace is the nearest directory holding one of these, else the current directory.
  root_markers = { '.samokoder', 'package.json', '.git' },
  -- The `samokoder` settings section (docs/config.md), sent as initializationOptions and on request.
  settings = {},
  -- How many lines of samokoder/log :SamokoderLog keeps.
  log_lines = 5000,
}

M.config = vim.deepcopy(defaults)

-- What the server told us: the log, and each run's progress by token.
local state = { log = {}, progress = {}, log_buf = nil }

local function notify(message, level)
  vim.notify('samokoder: ' .. message, level or vim.log.levels.INFO)
end

-- `client:request` on 0.11 (the dot form is deprecated there), `client.request` before. Without a buffer,
-- Neovim first sends every buffer's pending didChange: a run works on what the buffers hold.
local function request(client, method, params, handler, bufnr)
  if modern then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function stopped(client)
  if modern then
    return client:is_stopped()
  end
  return client.is_stopped()
end

local function find_root(start)
  local dir = vim.fn.fnamemodify(start ~= '' and start or vim.fn.getcwd(), ':p')
  if vim.fn.isdirectory(dir) == 0 then
    dir = vim.fn.fnamemodify(dir, ':h')
  end
  dir = dir:gsub('/$', '')
  local at = dir
  while at ~= '' and at ~= '/' do
    for _, marker in ipairs(M.config.root_markers) do
      if vim.loop.fs_stat(at .. '/' .. marker) then
        return at
      end
    end
    at = vim.fn.fnamemodify(at, ':h')
  end
  return vim.fn.getcwd()
end

local function append_log(lines)
  for _, line in ipairs(lines) do
    table.insert(state.log, line)
  end
  local extra = #state.log - M.config.log_lines
  if extra > 0 then
    for _ = 1, extra do
      table.remove(state.log, 1)
    end
  end
  local buf = state.log_buf
  if buf and vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_set_lines(buf, -1, -1, false, lines)
  end
end

-- Waits for `vim.ui` to answer: yields when the handler runs in a coroutine (0.11 calls server requests in
-- one), else processes events until the answer comes (0.7). Returns the answer (nil when dismissed).
local function await_ui(start)
  local done, answer = false, nil
  local co = coroutine.running()
  local yieldable = co and coroutine.isyieldable and coroutine.isyieldable()
  start(function(value)
    answer, done = value, true
    if yieldable and coroutine.status(co) == 'suspended' then
      coroutine.resume(co)
    end
  end)
  if not done then
    if yieldable then
      coroutine.yield()
    else
      -- The server stops waiting after editor.askTimeoutSecs (300 s by default) and writes questions.md.
      vim.wait(300000, function()
        return done
      end, 50)
    end
  end
  return answer
end

local handlers = {
  -- A question from the spec writer: a pick when it has choices (plus "something else..."), else an input.
  ['samokoder/ask'] = function(_, params)
    local answer
    if params.choices and #params.choices > 0 then
      local other = 'something else...'
      local items = vim.list_extend(vim.deepcopy(params.choices), { other })
      answer = await_ui(function(done)
        vim.ui.select(items, { prompt = params.question }, done)
      end)
      if answer == other then
        answer = await_ui(function(done)
          vim.ui.input({ prompt = params.question .. ' ' }, done)
        end)
      end
    else
      answer = await_ui(function(done)
        vim.ui.input({ prompt = params.question .. ' ' }, done)
      end)
    end
    if answer == nil or answer == '' then
      return { answer = vim.NIL }
    end
    return { answer = answer }
  end,
  ['samokoder/log'] = function(_, params)
    local prefix = '[' .. tostring(params.agent or '') .. '] '
    local lines = {}
    for line in (tostring(params.text or '') .. '\n'):gmatch('(.-)\n') do
      table.insert(lines, prefix .. line)
    end
    append_log(lines)
  end,
  ['$/progress'] = function(err, params, ctx, cfg)
    local token = params and params.token
    if type(token) == 'string' and token:sub(1, 10) == 'samokoder/' then
      local value = params.value or {}
      if value.kind == 'end' then
        state.progress[token] = nil
        if value.message then
          append_log({ '[run] ' .. value.message })
        end
      else
        local run = state.progress[token] or {}
        run.title = value.title or run.title
        run.message = value.message or run.message
        run.percentage = value.percentage or run.percentage
        state.progress[token] = run
      end
      vim.cmd('redrawstatus')
      vim.api.nvim_exec_autocmds('User', { pattern = 'SamokoderProgress', modeline = false })
    end
    return vim.lsp.handlers['$/progress'](err, params, ctx, cfg)
  end,
}

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.experimental = vim.tbl_extend('force', caps.experimental or {}, { samokoderAsk = true })
  return caps
end

local function client_config(root)
  return {
    name = 'samokoder',
    cmd = M.config.cmd,
    root_dir = root,
    init_options = { samokoder = M.config.settings },
    settings = { samokoder = M.config.settings },
    capabilities = capabilities(),
    handlers = handlers,
  }
end

--- The running Samokoder client (started on the current directory's workspace when none runs).
function M.client()
  local clients = modern and vim.lsp.get_clients({ name = 'samokoder' }) or vim.lsp.get_active_clients()
  for _, client in ipairs(clients) do
    if client.name == 'samokoder' then
      return client
    end
  end
  local root = find_root(vim.api.nvim_buf_get_name(0))
  local id
  if modern then
    id = vim.lsp.start(client_config(root), { attach = false })
  else
    id = vim.lsp.start_client(client_config(root))
  end
  local client = id and vim.lsp.get_client_by_id(id)
  -- Requests sent before `initialize` is answered would be refused: wait for it (it takes milliseconds).
  if not (client and vim.wait(20000, function()
    return client.initialized or stopped(client)
  end, 10) and client.initialized) then
    notify('could not start ' .. table.concat(M.config.cmd, ' ') .. ': :checkhealth samokoder', vim.log.levels.ERROR)
    return nil
  end
  return client
end

-- Sends a request (ours, or workspace/executeCommand) and hands its result on; errors are shown.
local function ask_server(method, params, on_result)
  local client = M.client()
  if not client then
    return
  end
  request(client, method, params, function(err, result)
    if err then
      notify(err.message, vim.log.levels.ERROR)
    else
      on_result(result or {})
    end
  end)
end

-- Runs `command` with `arguments` and reports the answer (a run's id, or the server's refusal).
local function execute(command, arguments, on_result)
  ask_server('workspace/executeCommand', { command = command, arguments = arguments }, function(result)
    if on_result then
      on_result(result)
    elseif result.runId then
      notify(command:sub(11) .. ' started (run ' .. result.runId .. '); :SamokoderLog shows it')
    end
  end)
end

local function buf_uri(buf)
  return vim.uri_from_bufnr(buf or 0)
end

-- The position of (row, byte column) in the client's encoding.
local function position(buf, row, col)
  local client = M.client()
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
  col = math.min(col, #line)
  local character = col
  if not client or client.offset_encoding ~= 'utf-8' then
    if modern then
      character = vim.str_utfindex(line, 'utf-16', col, false)
    else
      local _, utf16 = vim.str_utfindex(line, col)
      character = utf16
    end
  end
  return { line = row, character = character }
end

-- The buffer's range under the cursor or the last visual selection (for commands with a range).
local function range_of(opts)
  local buf = vim.api.nvim_get_current_buf()
  if opts and opts.range and opts.range > 0 then
    local last = vim.api.nvim_buf_get_lines(buf, opts.line2 - 1, opts.line2, false)[1] or ''
    return { start = position(buf, opts.line1 - 1, 0), ['end'] = position(buf, opts.line2 - 1, #last) }
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local at = position(buf, row - 1, col)
  return { start = at, ['end'] = at }
end

-- The LSP form of a vim.diagnostic (0.11 keeps the original; 0.7 keeps only some fields).
local function lsp_diagnostic(buf, d)
  local original = d.user_data and d.user_data.lsp
  if original and original.range then
    return original
  end
  return {
    range = { start = position(buf, d.lnum, d.col), ['end'] = position(buf, d.end_lnum or d.lnum, d.end_col or d.col) },
    message = d.message,
    source = d.source,
    code = d.code or (original and original.code),
    severity = d.severity,
  }
end

function M.generate(description, opts)
  opts = opts or {}
  local function go(text)
    if not text or text == '' then
      return
    end
    local args = { description = text, dir = opts.dir, template = opts.template }
    execute('samokoder.generate', { args })
  end
  if description and description ~= '' then
    go(description)
  else
    vim.ui.input({ prompt = 'Describe the application: ' }, go)
  end
end

function M.implement(opts)
  execute('samokoder.implement', { { uri = buf_uri(0), range = range_of(opts) } })
end

function M.fix()
  local buf = vim.api.nvim_get_current_buf()
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local here = vim.diagnostic.get(buf, { lnum = row })
  if #here == 0 then
    -- No diagnostic on this line: fix the workspace's failing tests.
    execute('samokoder.fix', {})
    return
  end
  local function go(d)
    if d then
      execute('samokoder.fix', { { uri = buf_uri(buf), diagnostic = lsp_diagnostic(buf, d) } })
    end
  end
  if #here == 1 then
    go(here[1])
  else
    vim.ui.select(here, {
      prompt = 'Fix which problem?',
      format_item = function(d)
        return (d.source and (d.source .. ': ') or '') .. d.message:gsub('\n.*', '')
      end,
    }, go)
  end
end

function M.tests()
  execute('samokoder.runTests', {})
end

function M.run()
  execute('samokoder.run', { {} })
end

function M.stop()
  execute('samokoder.stop', {})
end

function M.generate_tests()
  execute('samokoder.generateTests', { { uri = buf_uri(0) } })
end

function M.write_spec(description)
  execute('samokoder.writeSpec', { description ~= '' and { description = description } or {} })
end

function M.resume()
  execute('samokoder.resume', { {} })
end

-- The newest runs, from the server's store.
local function runs(limit, on_runs)
  ask_server('samokoder/runs', { limit = limit }, function(result)
    on_runs(result.runs or {})
  end)
end

function M.undo()
  runs(20, function(list)
    for _, run in ipairs(list) do
      if run.status ~= 'running' and run.kind ~= 'undo' then
        local what = run.kind .. (run.description and run.description ~= '' and (': ' .. run.description) or '')
        vim.ui.select({ 'undo ' .. what, 'keep it' }, { prompt = 'Undo the last run?' }, function(choice)
          if choice and choice:sub(1, 5) == 'undo ' then
            execute('samokoder.undo', { { runId = run.runId } })
          end
        end)
        return
      end
    end
    notify('no run to undo')
  end)
end

function M.cancel()
  ask_server('samokoder/status', {}, function(result)
    if not result.runs or #result.runs == 0 then
      notify('no run is going on')
      return
    end
    for _, run in ipairs(result.runs) do
      execute('samokoder.cancel', { { runId = run.runId } }, function()
        notify('cancelled ' .. run.kind .. ' (run ' .. run.runId .. ')')
      end)
    end
  end)
end

--- The log of every run since the server started, in a scratch buffer that follows it.
function M.log()
  local buf = state.log_buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, 'samokoder://log')
    vim.bo[buf].bufhidden = 'hide'
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, state.log)
    state.log_buf = buf
  end
  vim.cmd('sbuffer ' .. buf)
  vim.cmd('normal! G')
  return buf
end

--- One line for a status line: the running runs' progress, or '' (use it as %{v:lua.require'samokoder'.statusline()}).
function M.statusline()
  local parts = {}
  for _, run in pairs(state.progress) do
    local text = run.message or run.title or 'working'
    if run.percentage then
      text = text .. ' (' .. run.percentage .. '%)'
    end
    table.insert(parts, text)
  end
  if #parts == 0 then
    return ''
  end
  return 'samokoder: ' .. table.concat(parts, '; ')
end

function M.status()
  ask_server('samokoder/status', {}, function(result)
    local lines = { 'model: ' .. tostring(result.provider) .. '/' .. tostring(result.model) .. ', sandbox image: ' .. tostring(result.image) }
    for _, run in ipairs(result.runs or {}) do
      table.insert(lines, string.format('%s %s: %s (%d+%d tokens, $%.4f)', run.runId, run.kind, run.message or '',
        run.promptTokens or 0, run.completionTokens or 0, run.costUsd or 0))
    end
    if #(result.runs or {}) == 0 then
      table.insert(lines, 'no run is going on')
    end
    notify(table.concat(lines, '\n'))
  end)
end

local function commands()
  local function cmd(name, fn, opts)
    vim.api.nvim_create_user_command(name, fn, opts or {})
  end
  cmd('SamokoderGenerate', function(o)
    M.generate(o.args)
  end, { nargs = '*', desc = 'Samokoder: generate an application from a description' })
  cmd('SamokoderSpec', function(o)
    M.write_spec(o.args)
  end, { nargs = '*', desc = 'Samokoder: write the spec (of a description, or of this workspace)' })
  cmd('SamokoderImplement', M.implement, { range = true, desc = 'Samokoder: implement the TODO(samokoder) here' })
  cmd('SamokoderFix', M.fix, { desc = 'Samokoder: fix the problem on this line (or the failing tests)' })
  cmd('SamokoderTests', M.tests, { desc = 'Samokoder: run the tests' })
  cmd('SamokoderRun', M.run, { desc = "Samokoder: run the app (its URL opens once it listens)" })
  cmd('SamokoderStop', M.stop, { desc = 'Samokoder: stop the app' })
  cmd('SamokoderGenerateTests', M.generate_tests, { desc = 'Samokoder: write tests for this file' })
  cmd('SamokoderResume', M.resume, { desc = 'Samokoder: resume the last unfinished run' })
  cmd('SamokoderUndo', M.undo, { desc = 'Samokoder: undo the last run' })
  cmd('SamokoderCancel', M.cancel, { desc = 'Samokoder: cancel the running runs' })
  cmd('SamokoderLog', M.log, { desc = 'Samokoder: the log' })
  cmd('SamokoderStatus', M.status, { desc = 'Samokoder: model, sandbox and running runs' })
end

--- Sets the plugin up: `require('samokoder').setup({ cmd = { 'samokoder' }, settings = { ... } })`.
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  commands()
  if modern then
    local config = client_config(nil)
    config.root_dir = nil
    config.root_markers = M.config.root_markers
    config.filetypes = M.config.filetypes
    vim.lsp.config('samokoder', config)
    vim.lsp.enable('samokoder')
  else
    local group = vim.api.nvim_create_augroup('samokoder', { clear = true })
    vim.api.nvim_create_autocmd('FileType', {
      group = group,
      pattern = M.config.filetypes,
      callback = function(args)
        local client = M.client()
        if client then
          vim.lsp.buf_attach_client(args.buf, client.id)
        end
      end,
    })
  end
end

M._state = state
M._modern = modern
return M
