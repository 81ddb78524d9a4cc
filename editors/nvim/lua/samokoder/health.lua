-- :checkhealth samokoder: the binary, its version, and what `samokoder doctor` finds (the configuration,
-- the LLM provider, Docker, the sandbox image, the run store) for the current workspace.

local M = {}

-- vim.health on 0.10+, the `health` module on 0.7 to 0.9.
local function reporter()
  local h = vim.health
  if h and h.start then
    return h
  end
  local old = require('health')
  return { start = old.report_start, ok = old.report_ok, warn = old.report_warn, error = old.report_error, info = old.report_info }
end

function M.check()
  local health = reporter()
  local samokoder = require('samokoder')
  local cmd = samokoder.config.cmd
  health.start('samokoder: the server')
  local path = vim.fn.exepath(cmd[1])
  if path == '' then
    health.error(cmd[1] .. ' is not found (cmd = ' .. vim.inspect(cmd) .. ')', {
      'build it: cargo install --path . --features local-llm (in the samokoder repository)',
      "or point the plugin at it: require('samokoder').setup({ cmd = { '/path/to/samokoder' } })",
    })
    return
  end
  local version = vim.fn.system({ path, '--version' })
  if vim.v.shell_error ~= 0 then
    health.error(path .. ' --version failed: ' .. version)
    return
  end
  health.ok(vim.trim(version) .. ' at ' .. path)

  health.start('samokoder: doctor (configuration, provider, Docker, sandbox image)')
  local root = vim.fn.getcwd()
  local out = vim.fn.systemlist({ path, 'doctor', '--dir', root })
  for _, line in ipairs(out) do
    local status, text = line:match('^(%a+)%s+(.*)$')
    if status == 'ok' then
      health.ok(text)
    elseif status == 'FAIL' then
      health.error(text)
    elseif status == 'warn' then
      health.warn(text)
    elseif line:match('check%(s%) failed') then
      health.info(line)
    end
    -- Anything else is the server's own log on stderr (SAMOKODER_LOG), not a finding.
  end
  if vim.v.shell_error ~= 0 and #out == 0 then
    health.error(path .. ' doctor failed with no output')
  end
end

return M
