-- Tests of lua/lua_modules/syslog.lua: severity/facility grammars, the helper grammars and
-- build_rsyslog_grammar over rsyslog's reserved templates (traditional RFC 3164 lines,
-- RFC 3339 FileFormat, forward formats with PRI, RFC 5424 with structured data and nil
-- values), custom templates with other properties and options, lines that do not match
-- and invalid templates.
local h = require "harness"
local syslog = require "syslog"

local TRADITIONAL_FILE = '%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%'
    .. '%msg:::drop-last-lf%\\n' -- as written in rsyslog.conf / Heka's TOML: a "\n" escape

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

local function fails(f, label)
    local ok = pcall(f)
    h.equal(ok, false, label)
end

--------------------------------------------------------------------------------------------
-- Severity and facility names.
do
    local anchored_sev = syslog.severity * -1
    local want = { emerg = 0, alert = 1, crit = 2, err = 3, warning = 4, notice = 5,
        info = 6, debug = 7, panic = 0, error = 3, warn = 4, ERR = 3, Warning = 4,
        DEBUG = 7 }
    for name, n in pairs(want) do
        h.equal(anchored_sev:match(name), n, "severity " .. name)
    end
    for n = 0, 7 do
        h.equal(anchored_sev:match(syslog.severity_names[n]), n, "severity name " .. n)
    end
    h.equal(anchored_sev:match("fatal"), nil, "unknown severity")
    h.equal(anchored_sev:match(""), nil, "empty severity")

    local anchored_fac = syslog.facility * -1
    local fwant = { kern = 0, user = 1, mail = 2, daemon = 3, auth = 4, security = 4,
        syslog = 5, lpr = 6, news = 7, uucp = 8, cron = 9, authpriv = 10, ftp = 11,
        ntp = 12, audit = 13, alert = 14, clock = 15, local0 = 16, local4 = 20,
        local7 = 23, LOCAL7 = 23, AuthPriv = 10 }
    for name, n in pairs(fwant) do
        h.equal(anchored_fac:match(name), n, "facility " .. name)
    end
    for n = 0, 23 do
        h.equal(anchored_fac:match(syslog.facility_names[n]), n, "facility name " .. n)
    end
    h.equal(anchored_fac:match("local8"), nil, "unknown facility")
end

-- Helper grammars.
do
    h.equal(syslog.integer:match("-42"), -42, "integer")
    h.equal(syslog.float:match("2.5e3"), 2500, "float")
    h.equal(syslog.float:match("0.05"), 0.05, "float fraction")
    h.equal(syslog.notspace:match("abc def"), 4, "notspace stops at the space")
    local lpeg = require "lpeg"
    local g = lpeg.Ct(syslog.capture_until("key", "=") * "=" * syslog.capture_followed_by("v", ";"))
    h.equal(g:match("a b=c d;rest"), { key = "a b", v = "c d" }, "capture_until/followed_by")
end

--------------------------------------------------------------------------------------------
-- RSYSLOG_TraditionalFileFormat (the template of Heka's rsyslog decoder example).
do
    local g = syslog.build_rsyslog_grammar(TRADITIONAL_FILE)
    -- Heka's example input
    h.equal(g:match('Feb 10 12:58:58 trink-x230 kernel: imklog 5.8.6, log source = '
        .. '/proc/kmsg started.\n'), {
        timestamp = rfc3164_ns(2, 10, 12, 58, 58),
        hostname = "trink-x230",
        syslogtag = { programname = "kernel" },
        msg = "imklog 5.8.6, log source = /proc/kmsg started.",
    }, "Heka's example line")
    -- tag with a pid
    h.equal(g:match("Feb 13 14:25:19 ubuntu sshd[7192]: Accepted publickey for foobar "
        .. "from 173.239.228.74 port 4242 ssh2\n"), {
        timestamp = rfc3164_ns(2, 13, 14, 25, 19),
        hostname = "ubuntu",
        syslogtag = { programname = "sshd", pid = 7192 },
        msg = "Accepted publickey for foobar from 173.239.228.74 port 4242 ssh2",
    }, "tag with pid")
    -- single-digit day, padded with a space
    h.equal(g:match("Mar  4 06:25:01 web-01 CRON[24817]: pam_unix(cron:session): "
        .. "session opened for user root by (uid=0)\n"), {
        timestamp = rfc3164_ns(3, 4, 6, 25, 1),
        hostname = "web-01",
        syslogtag = { programname = "CRON", pid = 24817 },
        msg = "pam_unix(cron:session): session opened for user root by (uid=0)",
    }, "single-digit day")
    -- tags with slashes and dots
    local t = g:match("Mar 14 09:15:01 mail1 postfix/smtp[26122]: 4F2A11C0F3: "
        .. "to=<ops@example.com>, status=sent\n")
    h.equal(t.syslogtag, { programname = "postfix/smtp", pid = 26122 }, "tag with slash")
    h.equal(t.msg, "4F2A11C0F3: to=<ops@example.com>, status=sent", "msg after slash tag")
    t = g:match("Mar 14 09:40:22 desk org.gnome.Shell.desktop[2401]: Window manager "
        .. "warning\n")
    h.equal(t.syslogtag, { programname = "org.gnome.Shell.desktop", pid = 2401 },
        "tag with dots")
    -- tag without pid, message starting with spaces: Heka's grammar drops them all (its
    -- rsyslog decoder gives Payload "deploy : ..." for this line)
    t = g:match("Mar  4 08:31:17 web-01 sudo:   deploy : TTY=pts/0 ; USER=root\n")
    h.equal(t.syslogtag, { programname = "sudo" }, "tag without pid")
    h.equal(t.msg, "deploy : TTY=pts/0 ; USER=root", "leading spaces dropped")
    -- non-numeric pid: skipped
    t = g:match("Mar  4 08:31:17 web-01 app[main]: started\n")
    h.equal(t.syslogtag, { programname = "app" }, "non-numeric pid")
    h.equal(t.msg, "started", "msg after non-numeric pid")
    -- the final newline may be missing; inner newlines and a second final one stay
    h.equal(g:match("Mar  4 08:31:17 web-01 kernel: no newline").msg, "no newline",
        "no final newline")
    h.equal(g:match("Mar  4 08:31:17 web-01 kernel: a\nb\n").msg, "a\nb", "inner newline")
    h.equal(g:match("Mar  4 08:31:17 web-01 kernel: a\n\n").msg, "a\n",
        "drop-last-lf drops one newline")
    -- empty message
    h.equal(g:match("Mar  4 08:31:17 web-01 kernel:\n").msg, "", "empty message")
    -- the reserved name gives the same grammar
    local named = syslog.build_rsyslog_grammar("RSYSLOG_TraditionalFileFormat")
    h.equal(named:match("Feb 13 14:25:19 ubuntu sshd[7192]: hi\n"),
        g:match("Feb 13 14:25:19 ubuntu sshd[7192]: hi\n"), "reserved template name")

    -- lines that do not match
    local bad = {
        "",
        "\n",
        "Fob 10 12:58:58 host kernel: bad month\n",
        "Feb 10 12:58 host kernel: no seconds\n",
        "Feb 10 25:58:58 host kernel: bad hour\n",
        "2014-02-10T12:58:58Z host kernel: rfc3339 stamp\n",
        "Feb 10 12:58:58\n",
        "Feb 10 12:58:58 host\n",
        "just some text\n",
    }
    for i, line in ipairs(bad) do
        h.equal(g:match(line), nil, "bad traditional line " .. i)
    end
end

--------------------------------------------------------------------------------------------
-- RSYSLOG_FileFormat: RFC 3339 timestamps.
do
    local g = syslog.build_rsyslog_grammar('%TIMESTAMP:::date-rfc3339% %HOSTNAME% '
        .. '%syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\\n')
    h.equal(g:match("2014-02-10T12:58:58.123456-08:00 trink-x230 sshd[42]: Server listening "
        .. "on 0.0.0.0 port 22.\n"), {
        timestamp = 1392065938123456000,
        hostname = "trink-x230",
        syslogtag = { programname = "sshd", pid = 42 },
        msg = "Server listening on 0.0.0.0 port 22.",
    }, "FileFormat")
    h.equal(g:match("2014-02-10T20:58:58Z h kernel: x\n").timestamp, 1392065938e9, "Z offset")
    h.equal(g:match("2014-02-10T20:58:58+00:00 h kernel: x\n").timestamp, 1392065938e9,
        "+00:00 offset")
    h.equal(syslog.build_rsyslog_grammar("RSYSLOG_FileFormat"):match(
        "2014-02-10T20:58:58Z h kernel: x\n"), g:match("2014-02-10T20:58:58Z h kernel: x\n"),
        "reserved RSYSLOG_FileFormat")
    h.equal(g:match("Feb 10 12:58:58 h kernel: x\n"), nil, "RFC 3164 stamp rejected")
    h.equal(g:match("2014-02-10T20:58:58 h kernel: x\n"), nil, "offset required")
end

--------------------------------------------------------------------------------------------
-- Forward formats: PRI.
do
    local g = syslog.build_rsyslog_grammar("RSYSLOG_TraditionalForwardFormat")
    h.equal(g:match("<38>Feb 13 14:25:19 ubuntu sshd[7192]: Accepted publickey"), {
        pri = { facility = 4, severity = 6 },
        timestamp = rfc3164_ns(2, 13, 14, 25, 19),
        hostname = "ubuntu",
        syslogtag = { programname = "sshd", pid = 7192 },
        msg = "Accepted publickey",
    }, "TraditionalForwardFormat")
    for severity = 0, 7 do
        for _, facility in ipairs({ 0, 1, 4, 9, 10, 16, 23 }) do
            local pri = facility * 8 + severity
            h.equal(g:match("<" .. pri .. ">Feb  1 00:00:00 h t: m").pri,
                { facility = facility, severity = severity }, "pri " .. pri)
        end
    end
    h.equal(g:match("<191>Feb  1 00:00:00 h t: m").pri, { facility = 23, severity = 7 },
        "pri 191")
    h.equal(g:match("<192>Feb  1 00:00:00 h t: m"), nil, "pri 192")
    h.equal(g:match("<>Feb  1 00:00:00 h t: m"), nil, "empty pri")
    h.equal(g:match("<1a>Feb  1 00:00:00 h t: m"), nil, "bad pri")
    h.equal(g:match("Feb  1 00:00:00 h t: m"), nil, "missing pri")

    g = syslog.build_rsyslog_grammar("RSYSLOG_ForwardFormat")
    h.equal(g:match("<166>2014-06-26T23:13:23-07:00 chi-prod-54.example.net java: at "
        .. "org.apache.http.impl.io.AbstractSessionInputBuffer.readLine(X.java:281)"), {
        pri = { facility = 20, severity = 6 },
        timestamp = 1403849603e9,
        hostname = "chi-prod-54.example.net",
        syslogtag = { programname = "java" },
        msg = "at org.apache.http.impl.io.AbstractSessionInputBuffer.readLine(X.java:281)",
    }, "ForwardFormat")
end

--------------------------------------------------------------------------------------------
-- RFC 5424 (RSYSLOG_SyslogProtocol23Format), the examples of RFC 5424 section 6.5.
do
    local g = syslog.build_rsyslog_grammar("RSYSLOG_SyslogProtocol23Format")
    h.equal(g:match("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
        .. "'su root' failed for lonvick on /dev/pts/8\n"), {
        pri = { facility = 4, severity = 2 },
        timestamp = 1065910455003000000,
        hostname = "mymachine.example.com",
        ["app-name"] = "su",
        msgid = "ID47",
        msg = "'su root' failed for lonvick on /dev/pts/8",
    }, "RFC 5424 example 1 (nil procid and structured data)")
    h.equal(g:match("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
        .. "%% It's time to make the do-nuts.\n"), {
        pri = { facility = 20, severity = 5 },
        timestamp = 1061727255000003000,
        hostname = "192.0.2.1",
        ["app-name"] = "myproc",
        procid = "8710",
        msg = "%% It's time to make the do-nuts.",
    }, "RFC 5424 example 2")
    local sd = '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
    h.equal(g:match("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        .. sd .. " An application event log entry...\n"), {
        pri = { facility = 20, severity = 5 },
        timestamp = 1065910455003000000,
        hostname = "mymachine.example.com",
        ["app-name"] = "evntslog",
        msgid = "ID47",
        ["structured-data"] = sd,
        msg = "An application event log entry...",
    }, "RFC 5424 example 3 (structured data)")
    local sd2 = sd .. '[examplePriority@32473 class="high"]'
    h.equal(g:match("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        .. sd2), {
        pri = { facility = 20, severity = 5 },
        timestamp = 1065910455003000000,
        hostname = "mymachine.example.com",
        ["app-name"] = "evntslog",
        msgid = "ID47",
        ["structured-data"] = sd2,
        msg = "",
    }, "RFC 5424 example 4 (two elements, no message)")
    -- escaped quote and bracket inside a parameter value
    local sd3 = '[x@1 a="say \\"hi\\" ]" b="c"]'
    h.equal(g:match("<13>1 2016-04-01T09:08:07Z h app 1 - " .. sd3 .. " m\n")
        ["structured-data"], sd3, "escapes in structured data")
    -- all nil
    h.equal(g:match("<13>1 2016-04-01T09:08:07Z h - - - - m\n"), {
        pri = { facility = 1, severity = 5 }, timestamp = 1459501687e9, hostname = "h",
        msg = "m" }, "all nil values")
    -- does not match
    h.equal(g:match("<13>2 2016-04-01T09:08:07Z h - - - - m\n"), nil, "version 2")
    h.equal(g:match("<13>1 2016-04-01T09:08:07Z h - - - [unterminated m\n"), nil,
        "unterminated structured data")
    h.equal(g:match("<13>1 2016-04-01T09:08:07Z h - - - x m\n"), nil, "bad structured data")
    h.equal(g:match("<13>1 2016-04-01T09:08:07Z h - -\n"), nil, "missing header fields")
end

--------------------------------------------------------------------------------------------
-- Other properties and options.
do
    local g = syslog.build_rsyslog_grammar('%fromhost-ip% %PRI-TEXT% '
        .. '%syslogfacility-text%.%syslogseverity-text% %syslogfacility%/%syslogseverity% '
        .. '%timegenerated:::date-unixtimestamp% %programname%: %msg%')
    h.equal(g:match("10.1.2.3 local0.err<131> local0.err 16/3 1459501687 myapp: oops"), {
        ["fromhost-ip"] = { value = "10.1.2.3", representation = "ipv4" },
        ["pri-text"] = { facility = 16, severity = 3 },
        ["syslogfacility-text"] = 16,
        ["syslogseverity-text"] = 3,
        syslogfacility = 16,
        syslogseverity = 3,
        timegenerated = 1459501687e9,
        programname = "myapp",
        msg = "oops",
    }, "custom template")
    h.equal(g:match("::1 user.notice<13> user.notice 1/5 0 a: b")["fromhost-ip"],
        { value = "::1", representation = "ipv6" }, "ipv6 fromhost-ip")
    h.equal(g:match("host1 local0.err<131> local0.err 16/3 1 a: b"), nil,
        "fromhost-ip must be an address")

    -- date-mysql / date-pgsql, tab escapes, a free-form property between constants
    g = syslog.build_rsyslog_grammar('%timereported:::date-mysql%\\t%timegenerated:::'
        .. 'date-pgsql%\\t%HOSTNAME%\\t%app-name%\\t[%rawmsg%]\\t%msg%')
    h.equal(g:match("20160401090807\t2016-04-01 09:08:07\th\tcron\t[raw text]\tmessage"), {
        timereported = 1459501687e9,
        timegenerated = 1459501687e9,
        hostname = "h",
        ["app-name"] = "cron",
        rawmsg = "raw text",
        msg = "message",
    }, "mysql/pgsql dates and escapes")

    -- substring ranges and case options do not change what is matched; \% is a percent
    g = syslog.build_rsyslog_grammar('%HOSTNAME:1:8:lowercase% \\%%syslogtag:1:32%%msg%')
    h.equal(g:match("myhost %cron[1]: run"), { hostname = "myhost",
        syslogtag = { programname = "cron", pid = 1 }, msg = " run" }, "ranges and options")

    -- a token property followed by a constant stops at that constant
    g = syslog.build_rsyslog_grammar('%HOSTNAME%|%msg%')
    h.equal(g:match("a.b.c|x|y"), { hostname = "a.b.c", msg = "x|y" }, "token stops at '|'")

    -- numbers
    g = syslog.build_rsyslog_grammar('%iut% %protocol-version% %timestamp:::date-year%-'
        .. '%timestamp:::date-month%')
    h.equal(g:match("3 1 2016-04"), { iut = 3, ["protocol-version"] = 1, timestamp = 4 },
        "numeric properties (the last capture of a repeated property wins)")
end

--------------------------------------------------------------------------------------------
-- Invalid templates.
do
    fails(function() syslog.build_rsyslog_grammar(nil) end, "nil template")
    fails(function() syslog.build_rsyslog_grammar("%msg") end, "unterminated property")
    fails(function() syslog.build_rsyslog_grammar("%% %msg%") end, "empty property")
    fails(function() syslog.build_rsyslog_grammar("%timestamp:::date-bogus%") end,
        "unsupported date option")
end
