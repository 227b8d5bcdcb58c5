-- hekad's rsyslog decoder: parses a log line written by rsyslog (the Payload) with a grammar
-- built from the rsyslog template that wrote it (lua_modules/syslog.lua) and injects one
-- message:
--   Timestamp  <- timestamp / timereported (else timegenerated)
--   Severity   <- pri (or syslogseverity, syslogseverity-text, syslogpriority(-text))
--   Fields[syslogfacility] <- pri facility (or syslogfacility-text)
--   Pid, Fields[programname] <- syslogtag ("sshd[7192]:")
--   Hostname   <- HOSTNAME / source (unless hostname_keep)
--   Payload    <- msg
--   every other property of the template -> a field named after it (lower case)
--
-- Config:
--   template (string, required): the template string from rsyslog.conf, e.g.
--       '%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n',
--       or a reserved template name such as "RSYSLOG_TraditionalFileFormat".
--   type (string, optional): the Type of the messages.
--   hostname_keep (bool, default false): keep the message's original Hostname (as set by
--       the input) instead of the HOSTNAME of the line.
--   tz (string, default "UTC"): read by hekad, not by this script: the zone the
--       Timestamps of zone-less formats (RFC 3164 "Feb 10 12:58:58") are local time in.
-- A line the template does not match makes process_message return -1 and an error text.

local syslog = require "syslog"

local template = read_config("template")
if type(template) ~= "string" then
    error("rsyslog decoder: the 'template' configuration is required", 0)
end
local msg_type = read_config("type")
local hostname_keep = read_config("hostname_keep")

local grammar = syslog.build_rsyslog_grammar(template)

-- Removes and returns the first of `keys` present in `fields` (all of them are removed).
-- Only present keys are assigned nil: in Lua 5.1 assigning nil to an absent key inserts
-- it (and may grow the table).
local function take(fields, keys)
    local v
    for i = 1, #keys do
        local k = keys[i]
        local x = fields[k]
        if x ~= nil then
            if v == nil then v = x end
            fields[k] = nil
        end
    end
    return v
end

-- The keys of `keys` the template has (only those can be captured).
local properties = syslog.template_properties(template)
local function captured(keys)
    local list = {}
    for i = 1, #keys do
        if properties[keys[i]] then list[#list + 1] = keys[i] end
    end
    return list
end

local timestamp_keys = captured({ "timestamp", "timereported" })
local generated_keys = captured({ "timegenerated" })
local pri_keys = captured({ "pri", "pri-text" })
local severity_keys = captured({ "syslogseverity", "syslogseverity-text", "syslogpriority",
    "syslogpriority-text" })
local facility_text_keys = captured({ "syslogfacility-text" })
local hostname_keys = captured({ "hostname", "source" })

-- The message of the captured fields: the header values move out of `fields` (a take()
-- of keys the template does not have is skipped: `keys[1] and take(...)`).
local function to_message(fields)
    local timestamp = timestamp_keys[1] and take(fields, timestamp_keys)
        or generated_keys[1] and take(fields, generated_keys)

    local severity
    local pri = pri_keys[1] and take(fields, pri_keys)
    if pri then
        severity = pri.severity
        fields.syslogfacility = pri.facility
    else
        severity = severity_keys[1] and take(fields, severity_keys)
        local facility = facility_text_keys[1] and take(fields, facility_text_keys)
        if facility ~= nil and fields.syslogfacility == nil then
            fields.syslogfacility = facility
        end
    end

    local pid
    local tag = fields.syslogtag
    if tag then
        fields.syslogtag = nil
        fields.programname = tag.programname
        pid = tag.pid
    end

    local hostname
    if hostname_keep then
        hostname = read_message("Hostname")
    else
        hostname = hostname_keys[1] and take(fields, hostname_keys)
    end

    local payload = fields.msg
    if payload ~= nil then fields.msg = nil end

    return { Type = msg_type, Timestamp = timestamp, Severity = severity, Pid = pid,
        Hostname = hostname, Payload = payload, Fields = fields }
end

--- Decodes one rsyslog line; -1 and an error text when the template does not match.
function process_message()
    local line = read_message("Payload")
    if type(line) ~= "string" then return -1, "no payload" end
    local fields = grammar:match(line)
    if not fields then return -1, "the line does not match the rsyslog template" end
    local ok, err = pcall(inject_message, to_message(fields))
    if not ok then return -1, tostring(err) end
    return 0
end
