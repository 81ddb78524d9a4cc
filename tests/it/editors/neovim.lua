-- A user's flow in a real Neovim (0.7 and 0.11), headless, against the real `samokoder`: open a TypeScript
-- file, pick "Samokoder: implement this" from the code action menu on its TODO(samokoder) comment, see the
-- edit land in the unsaved buffer; break the code by hand, pick "Samokoder: run tests", then, on the failing
-- test's diagnostic, pick "Samokoder: fix this". What happened goes to $SAMOKODER_EDITOR_RESULT as JSON for
-- the Rust test to judge. Menus are answered by replacing vim.ui.select, which is what the user sees.
--
-- Environment: SAMOKODER_BIN, SAMOKODER_WORKSPACE, SAMOKODER_EDITOR_RESULT (common.lua).

local bin = os.getenv('SAMOKODER_BIN')
local root = os.getenv('SAMOKODER_WORKSPACE')
local modern = vim.fn.has('nvim-0.11') == 1
local common = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/common.lua')
local result = common.result
for k, v in pairs({ version = tostring(vim.version().major) .. '.' .. tostring(vim.version().minor), steps = {} }) do
  result[k] = v
end
local finish, wait = common.finish, common.wait
local ended = 0

local function note(step)
  table.insert(result.steps, step)
end

vim.o.hidden = true
vim.cmd('cd ' .. vim.fn.fnameescape(root))
vim.cmd('edit src/clamp.ts')
local source = vim.api.nvim_get_current_buf()

local config = {
  name = 'samokoder',
  cmd = { bin },
  root_dir = root,
  handlers = {
    ['$/progress'] = function(err, params, ctx, cfg)
      if params and params.value and params.value.kind == 'end' then
        ended = ended + 1
        note('progress end: ' .. tostring(params.value.message))
      end
      return vim.lsp.handlers['$/progress'](err, params, ctx, cfg)
    end,
  },
}

local client_id
if modern then
  client_id = vim.lsp.start(config, { bufnr = source })
else
  client_id = vim.lsp.start_client(config)
  vim.lsp.buf_attach_client(source, client_id)
end
local client
wait(20000, 'the server to initialize', function()
  client = vim.lsp.get_client_by_id(client_id)
  return client ~= nil and client.initialized
end)
result.offset_encoding = client.offset_encoding

-- Picks the menu entry whose title starts with `wanted`, as a user would.
local function pick(wanted)
  local offered = {}
  local chosen = false
  vim.ui.select = function(items, opts, on_choice)
    for _, item in ipairs(items) do
      local title = opts.format_item and opts.format_item(item) or tostring(item)
      table.insert(offered, title)
      if not chosen and title:sub(1, #wanted) == wanted then
        chosen = true
        on_choice(item)
      end
    end
    if not chosen then
      on_choice(nil)
    end
  end
  vim.lsp.buf.code_action()
  wait(10000, 'the code action menu with "' .. wanted .. '"', function()
    return chosen
  end)
  return offered
end

local function text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

local function line_of(buf, needle)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if line:find(needle, 1, true) then
      return i
    end
  end
  finish('no line with ' .. needle .. ' in\n' .. text(buf))
end

-- 1. implement this, on the TODO comment.
vim.api.nvim_win_set_cursor(0, { line_of(source, 'TODO(samokoder)'), 4 })
result.offered_on_todo = pick('Samokoder: implement this')
wait(120000, 'the implementation in the buffer', function()
  return text(source):find('Math.max(min, Math.min(value, max))', 1, true) ~= nil
end)
result.implemented_buffer = text(source)
result.implemented_modified = vim.bo[source].modified
wait(180000, 'the implement run to end', function()
  return ended >= 1
end)

-- 2. The user breaks it by hand (unsaved), then runs the tests from the menu.
local at = line_of(source, 'Math.max(min, Math.min(value, max))')
vim.api.nvim_buf_set_lines(source, at - 1, at, false, { '  return Math.min(value, max);' })
vim.api.nvim_win_set_cursor(0, { at, 2 })
pick('Samokoder: run tests')
wait(180000, 'the test run to end', function()
  return ended >= 2
end)
local test_uri = vim.uri_from_fname(root .. '/test/clamp.test.ts')
local tests = vim.uri_to_bufnr(test_uri)
wait(10000, 'a diagnostic on the failing test', function()
  return #vim.diagnostic.get(tests) > 0
end)
local diagnostic = vim.diagnostic.get(tests)[1]
result.diagnostic = { line = diagnostic.lnum, message = diagnostic.message, source = diagnostic.source }

-- 3. fix this, on the diagnostic.
vim.cmd('buffer ' .. tests)
if not modern then
  vim.lsp.buf_attach_client(tests, client_id)
else
  vim.lsp.start(config, { bufnr = tests })
end
vim.api.nvim_win_set_cursor(0, { diagnostic.lnum + 1, 0 })
result.offered_on_diagnostic = pick('Samokoder: fix this')
wait(240000, 'the fix in the source buffer', function()
  return text(source):find('Math.max(min, Math.min(value, max))', 1, true) ~= nil
end)
wait(240000, 'the fix run to end', function()
  return ended >= 3
end)
wait(10000, 'the diagnostic to clear', function()
  return #vim.diagnostic.get(tests) == 0
end)
result.fixed_buffer = text(source)
result.fixed_modified = vim.bo[source].modified
result.disk = table.concat(vim.fn.readfile(root .. '/src/clamp.ts'), '\n')
finish(nil)
