-- Times one LPeg grammar of hekad's Lua library over a log file, the same script run two
-- ways by scripts/bench: by Debian's lua5.1 with C LPeg 1.0.2 (`lua5.1 lpeg_bench.lua
-- GRAMMAR LOG OUT`, package.path reaching lua/lua_modules) and by hekad's LPeg as a
-- SandboxInput (config keys grammar, log, out). Writes "<lines matched> <CPU seconds>".
local grammars = {
    nginx = function()
        local clf = require "common_log_format"
        return clf.build_nginx_grammar('$remote_addr - $remote_user [$time_local] "$request" '
            .. '$status $body_bytes_sent "$http_referer" "$http_user_agent"')
    end,
    rsyslog = function()
        local syslog = require "syslog"
        return syslog.build_rsyslog_grammar("%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")
    end,
}

local function run(name, log, out)
    local grammar = grammars[name]()
    local matched = 0
    local started = os.clock()
    for line in io.lines(log) do
        if grammar:match(line) then matched = matched + 1 end
    end
    local seconds = os.clock() - started
    local f = assert(io.open(out, "w"))
    f:write(string.format("%d %.6f\n", matched, seconds))
    f:close()
end

if read_config then
    function process_message()
        run(read_config("grammar"), read_config("log"), read_config("out"))
        return 0
    end
else
    run(arg[1], arg[2], arg[3])
end
