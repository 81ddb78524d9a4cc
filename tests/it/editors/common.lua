-- What the Neovim drivers share: the result file they leave for the Rust test, and waiting with a deadline.
-- Loaded with dofile; returns { result, finish, wait }.

local M = { result = {} }
local result_path = os.getenv('SAMOKODER_EDITOR_RESULT')

-- Writes the result (with `err`, when there is one) and quits.
function M.finish(err)
  if err then
    M.result.error = err
  end
  local f = io.open(result_path, 'w')
  f:write(vim.fn.json_encode(M.result))
  f:close()
  vim.cmd('qa!')
end

-- Waits up to `ms` for `condition`, processing events; finishes with an error naming `what` if it never holds.
function M.wait(ms, what, condition)
  if not vim.wait(ms, condition, 50) then
    M.finish('timed out waiting for ' .. what)
  end
end

return M
