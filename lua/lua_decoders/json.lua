-- JSON decoder (hekad's version of Heka's lua_decoders/json.lua, written from its
-- documentation): parses a payload holding one JSON object; its members become message
-- Fields, nested objects flattened with "." (util.table_to_fields: {"extra": {"id": 1}}
-- gives the field "extra.id"), arrays of scalars kept as array fields.
--
-- Config:
-- - type (string, default "json"): the message Type (overridden by the Type mapping).
-- - payload_keep (bool, default false): keep the original JSON text as the Payload.
-- - map_fields (bool, default false): enables the header mappings below; each names the
--   JSON member (top level, or a flattened name such as "extra.id") whose value sets the
--   header; a mapped member is removed from Fields.
--   - Payload (string value; overrides payload_keep; an object/array is stored as JSON)
--   - Uuid, Type, Logger, Hostname (string values)
--   - Severity, Pid (numeric values), EnvVersion (stored as text)
--   - Timestamp: ns since the epoch, unless timestamp_format is set.
-- - timestamp_format (string, default nil): strftime format (date_time
--   build_strftime_grammar) the Timestamp value is parsed with. Without it a numeric value
--   (or numeric string) is taken as ns since the epoch; as an extension a non-numeric
--   string is tried as an RFC 3339 timestamp.
--
-- A payload that is not a JSON object, or a mapped value of the wrong kind, fails the
-- message (-1 and an error text).
local cjson = require "cjson"
local lpeg = require "lpeg"
local dt = require "date_time"
local util = require "util"

local type, tostring, tonumber, pcall, pairs = type, tostring, tonumber, pcall, pairs

local msg_type = read_config("type") or "json"
local payload_keep = read_config("payload_keep") == true
local map_fields = read_config("map_fields") == true

local STRING_HEADERS = { "Payload", "Uuid", "Type", "Logger", "Hostname", "EnvVersion" }
local NUMERIC_HEADERS = { "Severity", "Pid" }

-- header name -> JSON member name, for the configured mappings only
local mapping = {}
if map_fields then
    for _, list in pairs({ STRING_HEADERS, NUMERIC_HEADERS, { "Timestamp" } }) do
        for _, name in pairs(list) do
            local key = read_config(name)
            if type(key) == "string" and key ~= "" then mapping[name] = key end
        end
    end
end

local timestamp_grammar
do
    local fmt = read_config("timestamp_format")
    if type(fmt) == "string" and fmt ~= "" then
        timestamp_grammar = dt.build_strftime_grammar(fmt)
    end
end

local NUMERIC = {}
for _, name in pairs(NUMERIC_HEADERS) do NUMERIC[name] = true end

-- Nanoseconds for a Timestamp value, or nil.
local function to_timestamp(v)
    if timestamp_grammar then
        if type(v) ~= "string" then v = tostring(v) end
        local t = lpeg.match(timestamp_grammar, v)
        return t and dt.time_to_ns(t)
    end
    local n = tonumber(v)
    if n then return n end
    if type(v) == "string" then
        local t = lpeg.match(dt.rfc3339, v)
        return t and dt.time_to_ns(t)
    end
end

-- Converts a mapped value for header `name`; returns the value or nil, error text.
local function header_value(name, v)
    if name == "Timestamp" then
        local ns = to_timestamp(v)
        if not ns then return nil, "invalid Timestamp value: " .. tostring(v) end
        return ns
    elseif NUMERIC[name] then
        local n = tonumber(v)
        if not n then return nil, "invalid " .. name .. " value: " .. tostring(v) end
        return n
    elseif type(v) == "table" then
        if name == "Payload" then return cjson.encode(v) end
        return nil, "invalid " .. name .. " value: not a string"
    elseif type(v) == "string" then
        return v
    elseif type(v) == "number" or type(v) == "boolean" then
        return tostring(v)
    end
    return nil, "invalid " .. name .. " value"
end

function process_message()
    local raw = read_message("Payload")
    local ok, json = pcall(cjson.decode, raw)
    if not ok then return -1, "invalid JSON: " .. tostring(json) end
    if type(json) ~= "table" then return -1, "JSON payload is not an object" end

    local msg = { Type = msg_type }
    if payload_keep then msg.Payload = raw end

    -- mapped top-level members are taken out before flattening
    local headers = {}
    for name, key in pairs(mapping) do headers[name] = json[key] end
    for _, key in pairs(mapping) do json[key] = nil end

    local fields = util.table_to_fields(json, {}, nil, ".")

    -- other mappings may name a flattened member ("extra.id")
    for name, key in pairs(mapping) do
        if headers[name] == nil then headers[name] = fields[key] end
    end
    for _, key in pairs(mapping) do fields[key] = nil end

    for name, v in pairs(headers) do
        if v ~= cjson.null then
            local value, err = header_value(name, v)
            if value == nil then return -1, err end
            msg[name] = value
        end
    end

    msg.Fields = fields
    if not pcall(inject_message, msg) then return -1, "failed to inject message" end
    return 0
end
