-- Tests of lua/lua_decoders/rsyslog.lua: Heka's documented example configuration and
-- message, the RFC 3164 lines of the Hindsight syslog tutorial, PRI -> Severity and
-- syslogfacility for all severities and a few facilities, RFC 3339 and RFC 5424 lines,
-- hostname_keep, the type option, lines that do not match, a missing template and
-- tests/lua/fixtures/syslog_traditional.log.
local h = require "harness"

local DECODER = "lua/lua_decoders/rsyslog.lua"
-- As written in Heka's TOML example (single-quoted, so "\n" reaches the decoder as an
-- rsyslog escape).
local TRADITIONAL_FILE = '%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%'
    .. '%msg:::drop-last-lf%\\n'

-- Days since 1970-01-01 (plain loop, independent of date_time).
local function days(y, m, d)
    local function leap(x) return x % 4 == 0 and (x % 100 ~= 0 or x % 400 == 0) end
    local n = 0
    for yy = 1970, y - 1 do n = n + (leap(yy) and 366 or 365) end
    local mdays = { 31, leap(y) and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
    for mm = 1, m - 1 do n = n + mdays[mm] end
    return n + d - 1
end

-- An RFC 3164 time (no year) in ns by the documented rule: the current UTC year, or the
-- previous one when that is more than a day in the future.
local function rfc3164_ns(m, d, hh, mi, ss)
    local now = os.time()
    local y = tonumber(os.date("!%Y", now))
    local secs = days(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss
    if secs > now + 86400 then
        secs = days(y - 1, m, d) * 86400 + hh * 3600 + mi * 60 + ss
    end
    return secs * 1e9
end

local function input(payload)
    return { Type = "logfile", Logger = "RsyslogInput", Hostname = "collector.example.com",
        Payload = payload }
end

local function decode(config, line)
    return h.plugin(DECODER, config).process(input(line))
end

--------------------------------------------------------------------------------------------
-- Heka's example configuration and message. The tz option is applied by hekad (the
-- documented Timestamp 2014-02-10 12:58:58 -0800 PST is this wall-clock time in
-- America/Los_Angeles); Pid 0 and Severity 7 in the example are the defaults of unset
-- headers.
do
    local config = { type = "RSYSLOG_TraditionalFileFormat", template = TRADITIONAL_FILE,
        tz = "America/Los_Angeles" }
    local rc, err, out = decode(config, "Feb 10 12:58:58 trink-x230 kernel: imklog 5.8.6, "
        .. "log source = /proc/kmsg started.\n")
    h.equal({ rc, err }, { 0 }, "rc")
    h.equal(out, { {
        Type = "RSYSLOG_TraditionalFileFormat",
        Timestamp = rfc3164_ns(2, 10, 12, 58, 58),
        Hostname = "trink-x230",
        Payload = "imklog 5.8.6, log source = /proc/kmsg started.",
        Fields = { programname = "kernel" },
    } }, "Heka's example message")
end

-- The Hindsight syslog tutorial's line (same template without the final newline, which
-- the input consumed): Pid from the tag.
do
    local config = { template = '%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%'
        .. '%msg:::drop-last-lf%' }
    local rc, err, out = decode(config, "Feb 13 14:25:19 ubuntu sshd[7192]: Accepted "
        .. "publickey for foobar from 173.239.228.74 port 4242 ssh2")
    h.equal({ rc, err }, { 0 }, "tutorial rc")
    h.equal(out, { {
        Timestamp = rfc3164_ns(2, 13, 14, 25, 19),
        Hostname = "ubuntu",
        Pid = 7192,
        Payload = "Accepted publickey for foobar from 173.239.228.74 port 4242 ssh2",
        Fields = { programname = "sshd" },
    } }, "tutorial message")
end

-- Single-digit day, tag with a slash, the reserved template name.
do
    local config = { template = "RSYSLOG_TraditionalFileFormat", type = "syslog" }
    local rc, err, out = decode(config, "Mar  4 09:15:01 web-01 postfix/smtp[26122]: "
        .. "4F2A11C0F3: to=<ops@example.com>, status=sent\n")
    h.equal({ rc, err }, { 0 }, "slash tag rc")
    h.equal(out, { {
        Type = "syslog",
        Timestamp = rfc3164_ns(3, 4, 9, 15, 1),
        Hostname = "web-01",
        Pid = 26122,
        Payload = "4F2A11C0F3: to=<ops@example.com>, status=sent",
        Fields = { programname = "postfix/smtp" },
    } }, "slash tag message")
end

--------------------------------------------------------------------------------------------
-- PRI -> Severity and Fields[syslogfacility].
do
    local p = h.plugin(DECODER, { template = "RSYSLOG_TraditionalForwardFormat" })
    for severity = 0, 7 do
        for _, facility in ipairs({ 0, 3, 4, 9, 10, 16, 23 }) do
            local pri = facility * 8 + severity
            local rc, err, out = p.process(input("<" .. pri .. ">Feb 13 14:25:19 ubuntu "
                .. "sshd[7192]: hello"))
            h.equal({ rc, err }, { 0 }, "pri rc " .. pri)
            h.equal(out, { {
                Timestamp = rfc3164_ns(2, 13, 14, 25, 19),
                Severity = severity,
                Hostname = "ubuntu",
                Pid = 7192,
                Payload = "hello",
                Fields = { programname = "sshd", syslogfacility = facility },
            } }, "pri " .. pri)
        end
    end
end

-- Severity and facility from the -text properties when there is no PRI.
do
    local rc, err, out = decode({ template = '%syslogfacility-text%.%syslogseverity-text% '
        .. '%HOSTNAME% %msg%' }, "authpriv.warning h1 disk almost full")
    h.equal({ rc, err }, { 0 }, "text severity rc")
    h.equal(out, { { Severity = 4, Hostname = "h1", Payload = "disk almost full",
        Fields = { syslogfacility = 10 } } }, "text severity")
end

--------------------------------------------------------------------------------------------
-- RSYSLOG_FileFormat: RFC 3339 time stamps with an offset.
do
    local rc, err, out = decode({ template = '%TIMESTAMP:::date-rfc3339% %HOSTNAME% '
        .. '%syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\\n', tz = "UTC" },
        "2014-02-10T12:58:58.123456-08:00 trink-x230 sshd[42]: Server listening on "
        .. "0.0.0.0 port 22.\n")
    h.equal({ rc, err }, { 0 }, "FileFormat rc")
    h.equal(out, { {
        Timestamp = 1392065938123456000,
        Hostname = "trink-x230",
        Pid = 42,
        Payload = "Server listening on 0.0.0.0 port 22.",
        Fields = { programname = "sshd" },
    } }, "FileFormat message")
end

-- RFC 5424 with structured data and nil values.
do
    local p = h.plugin(DECODER, { template = "RSYSLOG_SyslogProtocol23Format" })
    local sd = '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
    local rc, err, out = p.process(input("<165>1 2003-10-11T22:14:15.003Z "
        .. "mymachine.example.com evntslog - ID47 " .. sd
        .. " An application event log entry...\n"))
    h.equal({ rc, err }, { 0 }, "RFC 5424 rc")
    h.equal(out, { {
        Timestamp = 1065910455003000000,
        Severity = 5,
        Hostname = "mymachine.example.com",
        Payload = "An application event log entry...",
        Fields = { syslogfacility = 20, ["app-name"] = "evntslog", msgid = "ID47",
            ["structured-data"] = sd },
    } }, "RFC 5424 message")
    rc, err, out = p.process(input("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com "
        .. "su 123 - - 'su root' failed for lonvick on /dev/pts/8\n"))
    h.equal({ rc, err }, { 0 }, "RFC 5424 nil rc")
    h.equal(out, { {
        Timestamp = 1065910455003000000,
        Severity = 2,
        Hostname = "mymachine.example.com",
        Payload = "'su root' failed for lonvick on /dev/pts/8",
        Fields = { syslogfacility = 4, ["app-name"] = "su", procid = "123" },
    } }, "RFC 5424 nil values")
end

--------------------------------------------------------------------------------------------
-- hostname_keep: the input's Hostname stays; the line's host name becomes a field.
do
    local rc, err, out = decode({ template = TRADITIONAL_FILE, hostname_keep = true },
        "Feb 10 12:58:58 trink-x230 kernel: hello\n")
    h.equal({ rc, err }, { 0 }, "hostname_keep rc")
    h.equal(out, { {
        Timestamp = rfc3164_ns(2, 10, 12, 58, 58),
        Hostname = "collector.example.com",
        Payload = "hello",
        Fields = { programname = "kernel", hostname = "trink-x230" },
    } }, "hostname_keep")
end

--------------------------------------------------------------------------------------------
-- Lines that do not match: -1, an error text, nothing injected; the decoder keeps working.
do
    local p = h.plugin(DECODER, { template = TRADITIONAL_FILE })
    local bad = {
        "",
        "garbage\n",
        "Fob 10 12:58:58 host kernel: bad month\n",
        "Feb 10 12:58:58 host\n",
        "<13>Feb 10 12:58:58 host kernel: unexpected pri\n",
        "2014-02-10T12:58:58Z host kernel: rfc3339 stamp\n",
    }
    for i, line in ipairs(bad) do
        local rc, err, out = p.process(input(line))
        h.equal(rc, -1, "bad line rc " .. i)
        h.equal(type(err), "string", "bad line error text " .. i)
        h.equal(out, {}, "bad line injects nothing " .. i)
    end
    local rc, err = p.process({ Type = "logfile" })
    h.equal({ rc, type(err) }, { -1, "string" }, "missing payload")
    rc, err = p.process(input("Feb 10 12:58:58 host kernel: fine\n"))
    h.equal({ rc, err }, { 0 }, "good line after bad ones")
end

-- A template is required; an invalid template fails at load time.
do
    h.equal(pcall(h.plugin, DECODER, {}), false, "missing template")
    h.equal(pcall(h.plugin, DECODER, { template = "%msg" }), false, "invalid template")
end

--------------------------------------------------------------------------------------------
-- The fixture: every line decodes with a Timestamp, Hostname, programname and Payload.
do
    local p = h.plugin(DECODER, { template = TRADITIONAL_FILE, type = "syslog" })
    local text = h.read_file("tests/lua/fixtures/syslog_traditional.log")
    local n, with_pid = 0, 0
    for line in text:gmatch("[^\n]*\n") do
        n = n + 1
        local rc, err, out = p.process(input(line))
        h.equal({ rc, err }, { 0 }, "fixture line " .. n)
        local m = out[1]
        h.equal(type(m.Timestamp), "number", "fixture Timestamp " .. n)
        h.equal(m.Hostname, "web-01", "fixture Hostname " .. n)
        h.equal(type(m.Fields.programname), "string", "fixture programname " .. n)
        h.equal(type(m.Payload), "string", "fixture Payload " .. n)
        h.equal(m.Payload:find("\n"), nil, "fixture Payload newline " .. n)
        if m.Pid then with_pid = with_pid + 1 end
    end
    h.equal(n, 32, "fixture lines")
    h.equal(with_pid, 25, "fixture lines with a pid")
    -- spot checks
    local _, _, out = p.process(input("Mar  4 07:01:13 web-01 kernel: [1209431.412239] "
        .. "[UFW BLOCK] IN=eth0 OUT= SRC=185.220.101.45\n"))
    h.equal(out[1].Payload, "[1209431.412239] [UFW BLOCK] IN=eth0 OUT= SRC=185.220.101.45",
        "kernel line payload")
    h.equal(out[1].Fields, { programname = "kernel" }, "kernel line fields")
end
