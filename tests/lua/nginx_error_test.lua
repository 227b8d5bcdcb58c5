-- Tests of lua/lua_decoders/nginx_error.lua: Heka's documented example (config tz =
-- "America/Los_Angeles"), lines with and without a connection, every level, bad lines.
-- The script produces the logged wall-clock time as if it were UTC; applying `tz` is
-- hekad's SandboxDecoder's job (Heka did it on the Go side), so it is not visible here.
local h = require "harness"

local DECODER = "lua/lua_decoders/nginx_error.lua"

local function input(payload)
    return { Type = "logfile", Logger = "FxaNginxErrorInput", Hostname = "trink-x230",
        Payload = payload, Severity = 7 }
end

local p = h.plugin(DECODER, { tz = "America/Los_Angeles" })

do -- Heka's example message: 2014-01-10 07:04:56 (-0800 once tz is applied).
    local rc, err, out = p.process(input('2014/01/10 07:04:56 [notice] 16842#0: *8878 using '
        .. 'inherited sockets from "6;"'))
    h.equal({ rc, err }, { 0 }, "rc")
    h.equal(out, { {
        Type = "nginx.error",
        Timestamp = 1389337496e9,
        Pid = 16842,
        Severity = 5,
        Payload = 'using inherited sockets from "6;"',
        Fields = { tid = 0, connection = 8878 },
    } }, "Heka's example message")
end

do -- A typical request error, with the trailing newline of a log file record.
    local rc, err, out = p.process(input('2023/12/06 14:03:31 [error] 2481#2481: *1043 open() '
        .. '"/var/www/html/favicon.ico" failed (2: No such file or directory), client: '
        .. '2001:db8::7, server: www.example.com, request: "GET /favicon.ico HTTP/1.1", '
        .. 'host: "www.example.com"\n'))
    h.equal({ rc, err }, { 0 }, "request error rc")
    h.equal(out, { {
        Type = "nginx.error",
        Timestamp = 1701871411e9,
        Pid = 2481,
        Severity = 3,
        Payload = 'open() "/var/www/html/favicon.ico" failed (2: No such file or directory), '
            .. 'client: 2001:db8::7, server: www.example.com, request: "GET /favicon.ico '
            .. 'HTTP/1.1", host: "www.example.com"',
        Fields = { tid = 2481, connection = 1043 },
    } }, "request error")
end

do -- No connection number.
    local rc, err, out = p.process(input("2023/12/06 14:03:27 [emerg] 1#1: bind() to "
        .. "0.0.0.0:80 failed (98: Address already in use)"))
    h.equal({ rc, err }, { 0 }, "emerg rc")
    h.equal(out, { {
        Type = "nginx.error",
        Timestamp = 1701871407e9,
        Pid = 1,
        Severity = 0,
        Payload = "bind() to 0.0.0.0:80 failed (98: Address already in use)",
        Fields = { tid = 1 },
    } }, "no connection")
end

do -- Every level maps onto its syslog severity.
    local levels = { emerg = 0, alert = 1, crit = 2, error = 3, warn = 4, notice = 5,
        info = 6, debug = 7 }
    for name, severity in pairs(levels) do
        local rc, _, out = p.process(input("2023/12/06 14:03:27 [" .. name .. "] 9#0: x"))
        h.equal({ rc, out[1].Severity }, { 0, severity }, name)
    end
end

do -- Lines that are not nginx error log lines.
    for _, line in ipairs({
        "",
        "nginx: [emerg] unknown directive \"foo\" in /etc/nginx/nginx.conf:12",
        "2023/12/06 14:03:27 [bogus] 9#0: x",
        "2023/12/06 14:03:27 [error] 9#0 x",
        "2023/13/06 14:03:27 [error] 9#0: x",
        '127.0.0.1 - - [10/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" 200 1 "-" "-"',
    }) do
        local rc, err, out = p.process(input(line))
        h.equal({ rc, type(err), #out }, { -1, "string", 0 }, "no match: " .. line)
    end
end
