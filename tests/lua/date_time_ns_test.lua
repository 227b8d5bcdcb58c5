-- The hekad
-- additions date_time.rfc3164_timestamp_ns / rfc3339_ns give exactly what the time-table
-- grammars followed by time_to_ns give and match the same text; syslog.template_properties.
local h = require "harness"
local lpeg = require "lpeg"
local dt = require "date_time"
local syslog = require "syslog"

local function via_table(grammar, s)
    local t, pos = (grammar * lpeg.Cp()):match(s)
    if t then return dt.time_to_ns(t), pos end
end
local function direct(grammar, s)
    return (grammar * lpeg.Cp()):match(s)
end

for _, s in ipairs({ "Oct 11 22:14:15", "Oct  1 22:14:15", "Oct 01 22:14:15", "Feb 5 01:02:03",
    "Jan  1 00:00:00", "Dec 31 23:59:59", "Feb 29 12:00:00", "Dec 31 23:59:60",
    "Oct 11 22:14:15 host", "Oct 11 22:14", "Oct 32 22:14:15", "oct 11 22:14:15",
    "Oct 11 24:14:15", "Oct   1 22:14:15", "" }) do
    h.equal({ direct(dt.rfc3164_timestamp_ns, s) }, { via_table(dt.rfc3164_timestamp, s) },
        "rfc3164_timestamp_ns " .. s)
    -- twice: the second conversion comes from the memo of the last timestamp
    h.equal({ direct(dt.rfc3164_timestamp_ns, s) }, { via_table(dt.rfc3164_timestamp, s) },
        "rfc3164_timestamp_ns again " .. s)
end

for _, s in ipairs({ "1985-04-12T23:20:50.52Z", "1996-12-19T16:39:57-08:00",
    "1990-12-31T23:59:60Z", "1990-12-31T15:59:60-08:00", "1937-01-01T12:00:27.87+00:20",
    "2014-02-10 12:58:58z", "2014-02-10t12:58:58.999999999999+05:30", "2000-02-29T00:00:00Z",
    "2001-02-29T00:00:00Z", "2014-02-10T12:58:58.5+00:00 rest", "2014-02-10T12:58:58.+00:00",
    "2014-02-10T12:58:58", "2014-13-10T12:58:58Z", "2014-02-10T12:58:58+0100", "" }) do
    h.equal({ direct(dt.rfc3339_ns, s) }, { via_table(dt.rfc3339, s) }, "rfc3339_ns " .. s)
end

h.equal(syslog.template_properties("RSYSLOG_TraditionalFileFormat"),
    { timestamp = true, hostname = true, syslogtag = true, msg = true },
    "template_properties of a reserved template")
h.equal(syslog.template_properties("<%PRI%>%TIMESTAMP:::date-rfc3339% %App-Name% %$bom%%msg%"),
    { pri = true, timestamp = true, ["app-name"] = true, ["$bom"] = true, msg = true },
    "template_properties lower-cases the names")
h.equal(pcall(syslog.template_properties, "%msg"), false, "template_properties invalid")
