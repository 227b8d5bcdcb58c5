-- hekad's msg_interpolate module: Heka's message field interpolation for config strings
-- (ES index names, InfluxDB/Carbon name prefixes, ...). A `%{name}` in a string is
-- replaced by, in this order:
--   1. a message header: Type, Payload, Hostname, Pid, UUID (the Uuid header), Logger,
--      EnvVersion, Severity;
--   2. the first value of the first dynamic field `name` (booleans as "true"/"false",
--      numbers as Lua 5.1 prints them: 7, 0.5);
--   3. a strftime expansion of `name` (e.g. `%{%Y.%m.%d}`), in UTC, at `secs`.
-- Anything that matches none of them stays as written (`%{missing}`). "Timestamp" and
-- "Uuid" are not headers here: they name dynamic fields, as Heka documents.
--
-- Uses the sandbox API read_message (looked up at call time).
--
-- API: interpolate_from_msg(value, secs)

local math = require "math"
local os = require "os"
local string = require "string"

local M = {}

-- `%{name}` names read from the message header, and the read_message variable for each.
local HEADERS = {
    Type = "Type", Payload = "Payload", Hostname = "Hostname", Pid = "Pid",
    UUID = "Uuid", Logger = "Logger", EnvVersion = "EnvVersion", Severity = "Severity",
}

-- The text a message value interpolates as (nil for values that cannot).
local function as_text(v)
    local t = type(v)
    if t == "string" then return v end
    if t == "number" or t == "boolean" then return tostring(v) end
    return nil
end

-- strftime expansion of `spec` at `secs` (UTC), nil when nothing was substituted.
local function strftime(spec, secs)
    if not string.find(spec, "%", 1, true) then return nil end
    local ok, out = pcall(os.date, "!" .. spec, secs)
    if ok and type(out) == "string" and out ~= spec then return out end
    return nil
end

--- Interpolates the current message into `value` (see the header). `secs`: seconds since
--- the epoch for the strftime codes (fractions dropped); nil uses the current time.
--- Returns the interpolated string (`value` itself when it has no `%{`).
function M.interpolate_from_msg(value, secs)
    if type(value) ~= "string" or not string.find(value, "%{", 1, true) then
        return value
    end
    if secs then secs = math.floor(secs) else secs = os.time() end
    local out = string.gsub(value, "%%{([^}]*)}", function(name)
        local header = HEADERS[name]
        if header then return as_text(read_message(header)) end
        local v = as_text(read_message("Fields[" .. name .. "]"))
        if v then return v end
        return strftime(name, secs)
    end)
    return out
end

return M
