-- Test harness for hekad's Lua library (lua/): runs the same test files under Debian's
-- lua5.1 with C LPeg (the reference: tests/lua/run-reference) and inside hekad's sandbox
-- with hekad's Rust LPeg (tests/lua_library.rs). Needs a global `load_file(path)` that
-- returns the compiled chunk of a file (loadfile, or the Rust test's equivalent).
local M = {}

local function describe(v)
    if type(v) == "string" then return string.format("%q", v) end
    return tostring(v)
end

local function compare(actual, expected, path, diffs)
    if type(expected) == "table" and type(actual) == "table" then
        for k, v in pairs(expected) do
            compare(actual[k], v, path .. "." .. tostring(k), diffs)
        end
        for k, v in pairs(actual) do
            if expected[k] == nil then
                diffs[#diffs + 1] = path .. "." .. tostring(k) .. ": unexpected " .. describe(v)
            end
        end
    elseif actual ~= expected then
        diffs[#diffs + 1] = path .. ": got " .. describe(actual) .. ", want " .. describe(expected)
    end
end

--- Fails with every difference between `actual` and `expected` (deep, keys both ways).
function M.equal(actual, expected, label)
    local diffs = {}
    compare(actual, expected, label or "value", diffs)
    if #diffs > 0 then error(table.concat(diffs, "\n"), 2) end
end

local function copy(v)
    if type(v) ~= "table" then return v end
    local t = {}
    for k, x in pairs(v) do t[k] = copy(x) end
    return t
end

local HEADERS = { Type = true, Logger = true, Payload = true, Hostname = true, Uuid = true,
    Timestamp = true, Severity = true, Pid = true, EnvVersion = true }

-- Added for the encoders (lua/lua_encoders) and their modules. Messages given to
-- `process` may write Fields in two forms, as inject_message takes them:
--   hash form  { name = value, ... } (value: scalar, array, or { value = scalar or array,
--              value_type = n, representation = "r" }); its order is by name;
--   array form { { name = "n", value = scalar or array, value_type = n,
--              representation = "r" }, ... }; names may repeat; order kept.
-- value_type when not given: string 0 (STRING), number 3 (DOUBLE), boolean 4 (BOOL).

-- value_type of a Lua value when the test does not give one.
local function value_type_of(v)
    if type(v) == "number" then return 3 end
    if type(v) == "boolean" then return 4 end
    return 0
end

-- One field in decode_message's shape from a name and a Fields entry (any form).
local function decoded_field(name, v)
    local value, value_type, representation = v, nil, nil
    if type(v) == "table" and (v.value ~= nil or v.value_type ~= nil or v.name ~= nil) then
        value, value_type, representation = v.value, v.value_type, v.representation
    end
    local values = {}
    if type(value) == "table" then
        for i = 1, #value do values[i] = value[i] end
    elseif value ~= nil then
        values[1] = value
    end
    local f = { name = name, value = values, value_type = value_type or value_type_of(values[1]) }
    if representation and representation ~= "" then f.representation = representation end
    return f
end

-- The Fields of `msg` in decode_message's shape: an array of { name, value (array),
-- value_type, representation (only when not empty) }.
local function decoded_fields(msg)
    local fields, out = msg.Fields or {}, {}
    if fields[1] ~= nil then
        for i, f in ipairs(fields) do out[i] = decoded_field(f.name, f) end
        return out
    end
    local names = {}
    for name in pairs(fields) do names[#names + 1] = name end
    table.sort(names)
    for i, name in ipairs(names) do out[i] = decoded_field(name, fields[name]) end
    return out
end

-- decode_message's table for `msg`: the headers it has, and Fields (see above).
local function decode(msg)
    local t = {}
    for name in pairs(HEADERS) do t[name] = msg[name] end
    t.Fields = decoded_fields(msg)
    return t
end

-- The value read_message("Fields[name]", fi, ai) gives for an array-form message, or
-- when a field or array index is given (0-based, as in the sandbox).
local function field_value(msg, name, fi, ai)
    local seen = 0
    for _, f in ipairs(decoded_fields(msg)) do
        if f.name == name then
            if seen == fi then return f.value[ai + 1] end
            seen = seen + 1
        end
    end
    return nil
end

--- The bytes of a fixture file (path relative to the repository root), through the
--- runner's global `read_file` (sandboxes have no io).
function M.read_file(path)
    return assert(read_file(path))
end

--- Loads the sandbox plugin at `path` (relative to the repository root) with `config`
--- (what read_config returns). Returns an object with `process(msg)` (msg: a message as an
--- inject_message table) giving rc, error text and the list of messages injected, and
--- `timer(ns)` giving rc, error text and the list of injected payloads/messages.
---
--- Added (encoders): read_message("raw") gives a token string that the fake
--- decode_message turns back into the message it was read from (headers plus Fields in
--- decode_message's array form, see decoded_fields); read_message("Fields[name]", fi, ai)
--- takes field and array indexes (0-based) and reads array-form Fields too. While the
--- plugin runs (loading, process, timer) the fake API functions (read_config,
--- read_message, decode_message, inject_message, add_to_payload, inject_payload) are also
--- set as globals in _G, and restored afterwards, so that modules the plugin requires
--- (which run in _G, not in the plugin's environment) reach them: such modules must look
--- the API up when called, not keep it in locals at load time.
function M.plugin(path, config)
    local chunk = assert(load_file(path))
    local current, injected = {}, {}
    local payload = {}
    local env = setmetatable({}, { __index = _G })
    env.read_config = function(key) return config[key] end
    local raw = {}
    env.read_message = function(name, fi, ai)
        if HEADERS[name] then return current[name] end
        if name == "raw" then
            local token = "harness raw message " .. tostring(#raw + 1)
            raw[#raw + 1] = current
            raw[token] = current
            return token
        end
        local field = string.match(name, "^Fields%[(.-)%]$")
        if not field then return nil end
        local fields = current.Fields or {}
        if fields[1] ~= nil or (fi or 0) > 0 or (ai or 0) > 0 then
            return field_value(current, field, fi or 0, ai or 0)
        end
        local v = fields[field]
        if type(v) == "table" then
            v = v.value
            if type(v) == "table" then v = v[1] end
        end
        return v
    end
    env.inject_message = function(t) injected[#injected + 1] = copy(t) end
    env.add_to_payload = function(...)
        for i = 1, select("#", ...) do payload[#payload + 1] = tostring((select(i, ...))) end
    end
    env.inject_payload = function(kind, name, ...)
        env.add_to_payload(...)
        injected[#injected + 1] = { payload_type = kind or "txt", payload_name = name or "",
            Payload = table.concat(payload) }
        payload = {}
    end
    env.decode_message = function(token)
        local msg = raw[token]
        if not msg then error("decode_message() invalid protobuf string", 2) end
        return decode(msg)
    end
    local API = { "read_config", "read_message", "decode_message", "inject_message",
        "add_to_payload", "inject_payload" }
    -- Calls f with the fake API also in _G (for required modules), then restores _G.
    local function with_api(f, ...)
        local saved = {}
        for _, name in ipairs(API) do
            saved[name] = rawget(_G, name)
            rawset(_G, name, env[name])
        end
        local results = { pcall(f, ...) }
        for _, name in ipairs(API) do rawset(_G, name, saved[name]) end
        if not results[1] then error(results[2], 0) end
        return unpack(results, 2, table.maxn(results))
    end
    setfenv(chunk, env)
    with_api(chunk)
    local plugin = {}
    function plugin.process(msg)
        injected = {}
        current = msg
        local rc, err = with_api(env.process_message)
        return rc, err, injected
    end
    function plugin.timer(ns)
        injected = {}
        local rc, err = with_api(env.timer_event, ns)
        return rc, err, injected
    end
    plugin.env = env
    return plugin
end

return M
