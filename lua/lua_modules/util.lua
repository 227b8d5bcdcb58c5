-- util: helpers turning arbitrary Lua tables into Heka message fields (hekad's version of
-- lua_sandbox's `util` module; written from its documentation). Reads no configuration.
--
--   table_to_fields(hash, fields, parent, separator, max_depth)
--   table_to_message(t, tmap, msg, parent)
local cjson = require "cjson"
local math, string = math, string
local pairs, type, tostring, tonumber = pairs, type, tostring, tonumber

local M = {}

local SCALAR = { string = true, number = true, boolean = true }

-- Whether t is a non-empty array (keys 1..n) of scalars of one type: such a table is kept
-- as a Heka array field.
local function scalar_array(t)
    local n = #t
    if n == 0 then return false end
    local kind = type(t[1])
    if not SCALAR[kind] then return false end
    local count = 0
    for k, v in pairs(t) do
        if type(k) ~= "number" or type(v) ~= kind then return false end
        count = count + 1
    end
    return count == n
end

local function copy_array(t)
    local a = {}
    for i = 1, #t do a[i] = t[i] end
    return a
end

local function flatten(hash, fields, parent, sep, max_depth, depth)
    for k, v in pairs(hash) do
        local key = parent and parent .. sep .. tostring(k) or tostring(k)
        local kind = type(v)
        if SCALAR[kind] then
            fields[key] = v
        elseif kind == "table" then
            if max_depth and depth >= max_depth then
                local ok, json = pcall(cjson.encode, v)
                if ok then fields[key] = json end
            elseif scalar_array(v) then
                fields[key] = copy_array(v)
            else
                flatten(v, fields, key, sep, max_depth, depth + 1)
            end
        end
        -- other values (functions, userdata such as cjson.null) are dropped
    end
end

--- Flattens a Lua table so it can be used as message Fields: nested tables become keys
--- joined with `separator` (default ".", i.e. "foo.bar"); arrays of scalars of one type
--- are kept as array fields; other arrays are flattened with their index ("list.1");
--- tables nested deeper than `max_depth` (top-level keys are depth 1; default no limit)
--- are stored as their JSON text. `hash` is not modified; the output goes into `fields`
--- (created when nil) under the key prefix `parent` (optional). Returns `fields`.
function M.table_to_fields(hash, fields, parent, separator, max_depth)
    fields = fields or {}
    if type(hash) ~= "table" then return fields end
    if parent == "" then parent = nil end
    flatten(hash, fields, parent, separator or ".", tonumber(max_depth), 1)
    return fields
end

local HEADERS = { Uuid = true, Timestamp = true, Logger = true, Hostname = true, Type = true,
    Payload = true, EnvVersion = true, Pid = true, Severity = true }

local VALUE_TYPES = { string = 0, bytes = 1, int = 2, double = 3, boolean = 4 }

-- Converts v to the Heka field type named `kind`.
local function cast(v, kind)
    if kind == "string" or kind == "bytes" then
        return type(v) == "string" and v or tostring(v)
    elseif kind == "int" then
        local n = tonumber(v)
        if not n then return nil end
        return n < 0 and math.ceil(n) or math.floor(n)
    elseif kind == "double" then
        return tonumber(v)
    elseif kind == "boolean" then
        if type(v) == "string" then return v == "true" end
        return v and v ~= 0 and true or false
    end
    return v
end

local function set_header(msg, name, v)
    if name == "Pid" or name == "Severity" or name == "Timestamp" then
        v = tonumber(v)
    elseif type(v) ~= "string" then
        v = tostring(v)
    end
    msg[name] = v
end

--- Converts an arbitrary table into a Heka message table. `tmap` (optional) maps a key
--- (nested keys joined with ".") to {header = "Timestamp"} (a header name) or to
--- {field = "name", type = "string"|"bytes"|"int"|"double"|"boolean", representation =
--- "..."}; unmapped keys become fields named after the key (nested tables flattened with
--- "."). `msg` (optional) is the output table, `parent` the key prefix of `t`. Returns msg.
function M.table_to_message(t, tmap, msg, parent)
    msg = msg or {}
    msg.Fields = msg.Fields or {}
    if type(t) ~= "table" then return msg end
    for k, v in pairs(t) do
        local key = parent and parent .. "." .. tostring(k) or tostring(k)
        local m = tmap and tmap[key]
        if m and m.header and HEADERS[m.header] then
            if SCALAR[type(v)] then set_header(msg, m.header, v) end
        elseif m and m.field then
            local kind = m.type
            local value = v
            if type(v) == "table" then
                value = scalar_array(v) and copy_array(v) or cjson.encode(v)
            elseif kind then
                value = cast(v, kind)
            end
            if value ~= nil then
                if m.representation or (kind and VALUE_TYPES[kind]) then
                    msg.Fields[m.field] = { value = value, representation = m.representation,
                        value_type = kind and VALUE_TYPES[kind] or nil }
                else
                    msg.Fields[m.field] = value
                end
            end
        elseif type(v) == "table" then
            if scalar_array(v) then
                msg.Fields[key] = copy_array(v)
            else
                M.table_to_message(v, tmap, msg, key)
            end
        elseif SCALAR[type(v)] then
            msg.Fields[key] = v
        end
    end
    return msg
end

return M
