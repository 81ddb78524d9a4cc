-- The questions flow in a real Neovim 0.7 announcing no showMessageRequest support (as Helix does) and no
-- samokoder/ask: generate from the command line, see .samokoder/questions.md open with an answer slot, write
-- the answer in it, save, pick "Samokoder: submit answers" from the code action menu, and see the run go on
-- with the answer in the spec. What happened goes to $SAMOKODER_EDITOR_RESULT as JSON.
--
-- Environment: SAMOKODER_BIN, SAMOKODER_WORKSPACE, SAMOKODER_EDITOR_RESULT (common.lua).

local bin = os.getenv('SAMOKODER_BIN')
local root = os.getenv('SAMOKODER_WORKSPACE')
local common = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/common.lua')
local result = common.result
for k, v in pairs({ messages = {} }) do
  result[k] = v
end
local finish, wait = common.finish, common.wait
local ended = 0

-- The buffer whose name ends with `suffix` (vim.fn.bufnr takes a pattern, and the workspace path has dots).
local function buffer_named(suffix)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    local name = vim.api.nvim_buf_get_name(buf)
    if name:sub(-#suffix) == suffix then
      return buf
    end
  end
  return -1
end

vim.o.hidden = true
vim.cmd('cd ' .. vim.fn.fnameescape(root))
vim.cmd('edit notes.md')

local capabilities = vim.lsp.protocol.make_client_capabilities()
capabilities.window.showMessage = nil
local client_id = vim.lsp.start_client({
  name = 'samokoder',
  cmd = { bin },
  root_dir = root,
  capabilities = capabilities,
  handlers = {
    ['$/progress'] = function(err, params, ctx, cfg)
      if params and params.value and params.value.kind == 'end' then
        ended = ended + 1
        result.ends = result.ends or {}
        table.insert(result.ends, params.value.message or '')
      end
      return vim.lsp.handlers['$/progress'](err, params, ctx, cfg)
    end,
    ['window/showMessage'] = function(_, params)
      table.insert(result.messages, params.message)
    end,
  },
})
vim.lsp.buf_attach_client(0, client_id)
wait(20000, 'the server to initialize', function()
  local client = vim.lsp.get_client_by_id(client_id)
  return client ~= nil and client.initialized
end)

-- 1. generate, as the README shows it.
vim.lsp.buf.execute_command({
  command = 'samokoder.generate',
  arguments = { { description = 'a todo list with a text formatter' } },
})
wait(60000, 'the run to pause for answers', function()
  return ended >= 1
end)
-- Neovim 0.7 has no window/showDocument: the user opens the file the message names.
result.shown = buffer_named('/.samokoder/questions.md') ~= -1
vim.cmd('edit .samokoder/questions.md')
local questions = vim.api.nvim_get_current_buf()
result.questions = table.concat(vim.api.nvim_buf_get_lines(questions, 0, -1, false), '\n')

-- 2. Answer in the file, save, submit from the code action menu.
vim.cmd('buffer ' .. questions)
vim.lsp.buf_attach_client(questions, client_id)
for i, line in ipairs(vim.api.nvim_buf_get_lines(questions, 0, -1, false)) do
  if line:sub(1, 7) == 'Answer:' then
    vim.api.nvim_buf_set_lines(questions, i - 1, i, false, { 'Answer: in a JSON file' })
    vim.api.nvim_win_set_cursor(0, { i, 0 })
  end
end
vim.cmd('write')
local chosen = false
vim.ui.select = function(items, opts, on_choice)
  result.offered = {}
  for _, item in ipairs(items) do
    local title = opts.format_item(item)
    table.insert(result.offered, title)
    if not chosen and title == 'Samokoder: submit answers' then
      chosen = true
      on_choice(item)
    end
  end
end
vim.lsp.buf.code_action()
wait(10000, '"Samokoder: submit answers" in the menu', function()
  return chosen
end)
wait(240000, 'the resumed run to end, and its message', function()
  return ended >= 2 and #result.messages >= 2 and result.messages[#result.messages]:find('built', 1, true) ~= nil
end)
finish(nil)
