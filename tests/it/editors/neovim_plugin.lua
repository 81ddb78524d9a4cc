-- The plugin in editors/nvim, in a real Neovim (0.7 and 0.11), headless, against the real `samokoder`:
-- setup{}, :SamokoderGenerate with a description (the spec writer's question answered through the plugin's
-- samokoder/ask and vim.ui.select, answered late as an asynchronous picker does), the files land; the user
-- breaks one by hand, :SamokoderTests, and :SamokoderFix on the failing test's line; then :SamokoderLog,
-- the status line and :checkhealth samokoder. What happened goes to $SAMOKODER_EDITOR_RESULT as JSON.
--
-- Environment: SAMOKODER_BIN, SAMOKODER_WORKSPACE, SAMOKODER_EDITOR_RESULT (common.lua), SAMOKODER_PLUGIN.

local bin = os.getenv('SAMOKODER_BIN')
local root = os.getenv('SAMOKODER_WORKSPACE')
local common = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/common.lua')
local result = common.result
local finish, wait = common.finish, common.wait
result.version = tostring(vim.version().major) .. '.' .. tostring(vim.version().minor)
result.asked = {}
result.statuslines = {}
result.notified = {}
vim.notify = function(message)
  table.insert(result.notified, message)
end

vim.o.hidden = true
vim.cmd('filetype on')
vim.opt.runtimepath:prepend(os.getenv('SAMOKODER_PLUGIN'))
vim.cmd('cd ' .. vim.fn.fnameescape(root))

-- The user's picker answers a moment later, as telescope or dressing do.
vim.ui.select = function(items, opts, on_choice)
  table.insert(result.asked, { prompt = opts.prompt, items = items })
  local pick = nil
  for _, item in ipairs(items) do
    if item == 'in memory' or item:sub(1, 5) == 'undo ' then
      pick = item
    end
  end
  vim.defer_fn(function()
    on_choice(pick)
  end, 20)
end

local loaded, samokoder = pcall(require, 'samokoder')
if not loaded then
  finish('the plugin did not load: ' .. tostring(samokoder))
end
samokoder.setup({ cmd = { bin } })
result.log = samokoder._state.log

local function run_ends()
  local n = 0
  for _, line in ipairs(samokoder._state.log) do
    if line:sub(1, 6) == '[run] ' then
      n = n + 1
    end
  end
  return n
end

local function last_end()
  local last
  for _, line in ipairs(samokoder._state.log) do
    if line:sub(1, 6) == '[run] ' then
      last = line:sub(7)
    end
  end
  return last
end

-- Waits for the run count to reach `n`, noting what the status line showed meanwhile.
local function wait_run(n, what)
  wait(240000, what, function()
    local line = samokoder.statusline()
    if line ~= '' and result.statuslines[#result.statuslines] ~= line then
      table.insert(result.statuslines, line)
    end
    return run_ends() >= n
  end)
end

local function buffer_named(suffix)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(buf):sub(-#suffix) == suffix and vim.api.nvim_buf_is_loaded(buf) then
      return buf
    end
  end
end

-- What the editor holds for `path`: its buffer when one is loaded, else the disk.
local function holds(path)
  local buf = buffer_named('/' .. path)
  if buf then
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n'), true
  end
  local ok, lines = pcall(vim.fn.readfile, root .. '/' .. path)
  return ok and table.concat(lines, '\n') or nil, false
end

-- An error anywhere ends the editor with the error in the result, rather than a hang.
local function main()
  -- 1. Generate.
  vim.cmd('SamokoderGenerate a todo list with a text formatter')
  wait_run(1, 'the generate run to end')
  result.generate_end = last_end()
  result.files = {}
  for _, path in ipairs({ 'src/todos.js', 'src/format.js', 'test/format.test.js', '.samokoder/spec.md' }) do
    local text, in_buffer = holds(path)
    result.files[path] = { text = text, in_buffer = in_buffer }
  end

  -- 2. The user breaks the formatter by hand (unsaved) and runs the tests.
  vim.cmd('edit src/format.js')
  local source = vim.api.nvim_get_current_buf()
  for i, line in ipairs(vim.api.nvim_buf_get_lines(source, 0, -1, false)) do
    if line:find('${i + 1}', 1, true) then
      local broken = line:gsub('%${i %+ 1}', '${i}')
      vim.api.nvim_buf_set_lines(source, i - 1, i, false, { broken })
    end
  end
  vim.cmd('SamokoderTests')
  wait_run(2, 'the test run to end')
  result.tests_end = last_end()

  -- 3. :SamokoderFix on the failing assertion.
  vim.cmd('edit test/format.test.js')
  local tests = vim.api.nvim_get_current_buf()
  wait(20000, 'a diagnostic on the failing test', function()
    return #vim.diagnostic.get(tests) > 0
  end)
  local diagnostic = vim.diagnostic.get(tests)[1]
  result.diagnostic = { line = diagnostic.lnum, source = diagnostic.source }
  vim.api.nvim_win_set_cursor(0, { diagnostic.lnum + 1, 0 })
  vim.cmd('SamokoderFix')
  wait_run(3, 'the fix run to end')
  result.fix_end = last_end()
  result.fixed = table.concat(vim.api.nvim_buf_get_lines(source, 0, -1, false), '\n')
  wait(10000, 'the diagnostic to clear', function()
    return #vim.diagnostic.get(tests) == 0
  end)

  -- 4. :SamokoderUndo takes the fix back (after asking), as one edit to the buffer.
  vim.cmd('SamokoderUndo')
  wait_run(4, 'the undo run to end')
  result.undo_end = last_end()
  result.undone = table.concat(vim.api.nvim_buf_get_lines(source, 0, -1, false), '\n')

  -- 5. The log, the status, and the health check.
  local log = samokoder.log()
  result.log_lines = vim.api.nvim_buf_line_count(log)
  vim.cmd('checkhealth samokoder')
  result.health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
end

local ok, err = xpcall(main, debug.traceback)
finish(not ok and err or nil)
