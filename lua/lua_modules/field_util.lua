-- hekad's field_util module: helpers for encoders that turn message fields into time
-- series points (ts_line_protocol, schema_influx_line, schema_carbon_line): the base
-- (header) field names, space separated field lists with the magic words `**all**` and
-- `**all_base**`, and Timestamp precision conversion.
--
-- Uses the sandbox API read_message (looked up at call time).
--
-- API: base_fields_list, base_fields_order, base_fields_tag_list, base_fields_tag_order,
--      field_interp(field), field_map(fields_str), message_timestamp(precision),
--      timestamp_divisor(precision), used_base_fields(skip_fields)

local math = require "math"
local string = require "string"

local M = {}

--- The base (header) fields an encoder may emit, as a set.
M.base_fields_list = {
    EnvVersion = true, Hostname = true, Logger = true, Payload = true,
    Pid = true, Severity = true, Type = true,
}

--- The same names in the order Heka's documentation lists them (the output order).
M.base_fields_order = { "Type", "Payload", "Hostname", "Pid", "Logger", "Severity", "EnvVersion" }

--- The base fields that make sensible tags (`**all_base**` in tag_fields), as a set.
M.base_fields_tag_list = { Hostname = true, Logger = true, Severity = true, Type = true }

--- The same names in tag output order (sorted by key, as InfluxDB prefers).
M.base_fields_tag_order = { "Hostname", "Logger", "Severity", "Type" }

-- Nanoseconds per unit of each timestamp precision.
local DIVISORS = {
    n = 1, ns = 1, u = 1e3, us = 1e3, ms = 1e6, s = 1e9, m = 60e9, h = 3600e9,
}

--- The read_message variable for a field name: base fields by their own name, any
--- other name as `Fields[name]`.
function M.field_interp(field)
    if M.base_fields_list[field] then return field end
    return "Fields[" .. field .. "]"
end

--- Parses a space separated list of field names. Returns the set of names given (the
--- magic words excluded), whether `**all_base**` was given, whether `**all**` was given,
--- and the names as an array in the order given. An empty or nil list means all base
--- fields: a copy of base_fields_list and all_base = true.
function M.field_map(fields_str)
    local set, order, all_base, all = {}, {}, false, false
    if fields_str == nil or not string.find(fields_str, "%S") then
        for name in pairs(M.base_fields_list) do set[name] = true end
        return set, true, false, order
    end
    for name in string.gmatch(fields_str, "%S+") do
        if name == "**all_base**" then
            all_base = true
        elseif name == "**all**" then
            all = true
        elseif not set[name] then
            set[name] = true
            order[#order + 1] = name
        end
    end
    return set, all_base, all, order
end

--- Nanoseconds per unit of `timestamp_precision`: "n"/"ns", "u"/"us", "ms", "s", "m",
--- "h"; anything else (nil included) is "ms", the documented default.
function M.timestamp_divisor(timestamp_precision)
    return DIVISORS[timestamp_precision] or DIVISORS.ms
end

--- The current message's Timestamp in units of `timestamp_precision` (see
--- timestamp_divisor), rounded down; nil when the message has no Timestamp.
function M.message_timestamp(timestamp_precision)
    local ns = read_message("Timestamp")
    if type(ns) ~= "number" then return nil end
    return math.floor(ns / M.timestamp_divisor(timestamp_precision))
end

--- The base fields not named in the set `skip_fields` (nil: none skipped), as a set.
function M.used_base_fields(skip_fields)
    local used = {}
    for name in pairs(M.base_fields_list) do
        if not (skip_fields and skip_fields[name]) then used[name] = true end
    end
    return used
end

return M
