-- hekad's ts_line_protocol module: turns the current message into time series lines,
-- InfluxDB line protocol (schema_influx_line) or Graphite/Carbon plaintext
-- (schema_carbon_line). Every base field and every dynamic field becomes one point
-- named `<name_prefix><name_prefix_delimiter><field name>` (just the field name when
-- name_prefix is empty), unless skip_fields names it; `**all_base**` in skip_fields
-- skips all base fields. A field with several values gives one point per value, named
-- `<field name>.<0-based index>`. BYTES fields are never emitted. With
-- source_value_field only that one field is emitted, under name_prefix alone.
--
-- Points come in a fixed order: base fields (Type, Payload, Hostname, Pid, Logger,
-- Severity, EnvVersion), then dynamic fields in message order. (Heka's own order came
-- from Lua table iteration and is not reproduced.)
--
-- InfluxDB: `<measurement>[,<tag>=<value>...] <value_field_key>=<value> [<timestamp>]`.
-- Numbers are always written as floats with decimal_precision digits ("%.6f"), strings
-- double-quoted (`"` and `\` escaped), booleans as true/false; NaN and infinities are
-- dropped. Measurement: `,`, space and `\` escaped with `\`; tag keys, tag values and
-- the field key: `,`, `=`, space and `\` escaped (a `\` left alone could escape the
-- separator after it). Tags (tag_fields, default `**all_base**`):
-- `**all_base**` = Hostname, Logger, Severity, Type; `**all**` = those plus every dynamic
-- field (first value); other names in the order given. Tags with no value or an empty
-- value are left out (InfluxDB rejects them). The timestamp is omitted when the message
-- has none.
--
-- Carbon: `<metric path> <value> <timestamp>`; only numbers (printed as Lua 5.1 prints
-- them: 0.12, 11) and booleans (1/0) are emitted; whitespace in the path becomes `_`.
--
-- Config (a table given to set_config; defaults in DEFAULTS): decimal_precision,
-- name_prefix (supports msg_interpolate `%{...}`, strftime codes at the message time),
-- name_prefix_delimiter, skip_fields, source_value_field, tag_fields,
-- timestamp_precision (n, u, ms, s, m, h), value_field_key.
--
-- Uses the sandbox API read_message and decode_message (looked up at call time).
--
-- API: set_config(client_config), influxdb_line_msg(config), carbon_line_msg(config)

local field_util = require "field_util"
local interp = require "msg_interpolate"
local math = require "math"
local os = require "os"
local string = require "string"
local table = require "table"

local M = {}

local DEFAULTS = {
    decimal_precision = "6",
    name_prefix = "",
    name_prefix_delimiter = "",
    skip_fields = "",
    source_value_field = nil,
    tag_fields = "**all_base**",
    timestamp_precision = "ms",
    value_field_key = "value",
}

local BYTES = 1 -- value_type of BYTES fields
local HUGE = math.huge

local function escape_measurement(s)
    return (string.gsub(s, "[, \\]", "\\%0"))
end

local function escape_tag(s)
    return (string.gsub(s, "[,= \\]", "\\%0"))
end

local function carbon_path(s)
    return (string.gsub(s, "%s", "_"))
end

local function finite(v)
    return v == v and v ~= HUGE and v ~= -HUGE
end

-- InfluxDB field value text, nil for values that cannot be written.
local function influx_value(v, number_format)
    local t = type(v)
    if t == "number" then
        if finite(v) then return string.format(number_format, v) end
    elseif t == "string" then
        return '"' .. string.gsub(v, '[\\"]', "\\%0") .. '"'
    elseif t == "boolean" then
        return v and "true" or "false"
    end
    return nil
end

-- Carbon value text, nil for values that cannot be written.
local function carbon_value(v)
    local t = type(v)
    if t == "number" then
        if finite(v) then return tostring(v) end
    elseif t == "boolean" then
        return v and "1" or "0"
    end
    return nil
end

-- Tag value text, nil for no tag (missing or empty values).
local function tag_value(v)
    local t = type(v)
    if t == "string" then
        if v ~= "" then return v end
    elseif t == "number" or t == "boolean" then
        return tostring(v)
    end
    return nil
end

--- Returns a new config table: `client_config` (nil or a table whose nil entries take the
--- defaults) merged over the defaults, plus what the line functions precompute from it.
--- Call it once, at load time, and pass its result to the line functions.
function M.set_config(client_config)
    local c = {}
    for k, v in pairs(DEFAULTS) do c[k] = v end
    for k, v in pairs(client_config or {}) do c[k] = v end
    local digits = tostring(c.decimal_precision or "")
    if not string.match(digits, "^%d+$") then digits = DEFAULTS.decimal_precision end
    c.number_format = "%." .. digits .. "f"
    c.name_prefix = c.name_prefix or ""
    c.name_prefix_delimiter = c.name_prefix_delimiter or ""
    c.value_key = escape_tag(c.value_field_key or DEFAULTS.value_field_key)
    if c.source_value_field == "" then c.source_value_field = nil end
    -- skip_fields: an empty list skips nothing (field_map would mean "all base fields")
    if c.skip_fields and string.find(c.skip_fields, "%S") then
        c.skip, c.skip_all_base = field_util.field_map(c.skip_fields)
    else
        c.skip, c.skip_all_base = {}, false
    end
    local _, all_base, all, names = field_util.field_map(c.tag_fields)
    c.tag_all_base, c.tag_all, c.tag_names = all_base or all, all, names
    return c
end

-- The prefix of every point name, interpolated for the current message.
local function name_prefix(config, ns)
    local prefix = config.name_prefix
    if prefix == "" then return "" end
    return interp.interpolate_from_msg(prefix, ns and ns / 1e9 or nil)
end

local function point_name(prefix, config, field)
    if prefix == "" then return field end
    return prefix .. config.name_prefix_delimiter .. field
end

-- The current message's dynamic fields in decode_message's array form.
local function message_fields()
    local raw = read_message("raw")
    if not raw then return {} end
    local msg = decode_message(raw)
    return msg and msg.Fields or {}
end

-- Calls emit(name, value) for every point of the current message (see the header).
local function each_point(config, prefix, emit)
    local skip = config.skip
    local source = config.source_value_field
    if source then
        local v = read_message(field_util.field_interp(source))
        if v ~= nil then emit(prefix ~= "" and prefix or source, v) end
        return nil
    end
    if not config.skip_all_base then
        for _, name in ipairs(field_util.base_fields_order) do
            if not skip[name] then
                local v = read_message(name)
                if v ~= nil then emit(point_name(prefix, config, name), v) end
            end
        end
    end
    local fields = message_fields()
    for _, f in ipairs(fields) do
        local name, values = f.name, f.value
        if not skip[name] and f.value_type ~= BYTES and type(values) == "table" then
            local n = #values
            if n == 1 then
                emit(point_name(prefix, config, name), values[1])
            else
                for i = 1, n do
                    emit(point_name(prefix, config, name .. "." .. (i - 1)), values[i])
                end
            end
        end
    end
    return fields
end

-- The tag set text (",k=v,k2=v2" or "") of the current message.
local function tag_set(config, fields)
    local parts, seen = {}, {}
    local function add(key, v)
        if seen[key] then return end
        local text = tag_value(v)
        if not text then return end
        seen[key] = true
        parts[#parts + 1] = "," .. escape_tag(key) .. "=" .. escape_tag(text)
    end
    if config.tag_all_base then
        for _, name in ipairs(field_util.base_fields_tag_order) do add(name, read_message(name)) end
    end
    if config.tag_all then
        fields = fields or message_fields()
        for _, f in ipairs(fields) do
            if f.value_type ~= BYTES and type(f.value) == "table" then add(f.name, f.value[1]) end
        end
    end
    for _, name in ipairs(config.tag_names) do
        add(name, read_message(field_util.field_interp(name)))
    end
    return table.concat(parts)
end

--- InfluxDB line protocol lines (without newlines) for the current message, as an
--- array (empty when the message has nothing to emit). `config` comes from set_config.
function M.influxdb_line_msg(config)
    local ns = read_message("Timestamp")
    local ts = field_util.message_timestamp(config.timestamp_precision)
    -- "%.0f", not "%d": Lua 5.1 formats %d through a C long, 32 bits on armv7, which
    -- clamps a millisecond timestamp to 2147483647 (ts is whole already).
    local suffix = ts and string.format(" %.0f", ts) or ""
    local prefix = name_prefix(config, ns)
    local points = {}
    local fields = each_point(config, prefix, function(name, v)
        local text = influx_value(v, config.number_format)
        if text then points[#points + 1] = { escape_measurement(name), text } end
    end)
    local lines = {}
    if #points == 0 then return lines end
    local tags = tag_set(config, fields)
    local key = " " .. config.value_key .. "="
    for i, p in ipairs(points) do
        lines[i] = p[1] .. tags .. key .. p[2] .. suffix
    end
    return lines
end

--- Carbon plaintext lines (without newlines) for the current message, as an array
--- (empty when the message has nothing to emit). The timestamp is always in seconds
--- (the current time if the message has none). `config` comes from set_config.
function M.carbon_line_msg(config)
    local ns = read_message("Timestamp")
    local ts = field_util.message_timestamp("s") or os.time()
    local suffix = string.format(" %.0f", ts)
    local prefix = name_prefix(config, ns)
    local lines = {}
    each_point(config, prefix, function(name, v)
        local text = carbon_value(v)
        if text then lines[#lines + 1] = carbon_path(name) .. " " .. text .. suffix end
    end)
    return lines
end

return M
