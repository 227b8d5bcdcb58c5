-- Tests for the modules behind hekad's encoders: lua/lua_modules/{msg_interpolate,
-- field_util, ts_line_protocol, elasticsearch, alert}.lua. Module code runs inside the
-- fixture plugin tests/lua/fixtures/encoders/call.lua so it sees the harness's fake
-- sandbox API (read_message, decode_message, inject_payload).
local h = require "harness"

local field_util = require "field_util"
local interp = require "msg_interpolate"
local tsl = require "ts_line_protocol"
local es = require "elasticsearch"
local alert = require "alert"

-- Runs f() while `msg` is the current message; returns what f returned and the list of
-- payloads/messages injected meanwhile.
local function with_message(msg, f)
    local result
    local p = h.plugin("tests/lua/fixtures/encoders/call.lua", {
        run = function() result = { f() } return 0 end,
    })
    local rc, err, injected = p.process(msg)
    h.equal({ rc, err }, { 0 }, "fixture status")
    return result, injected
end

local function interpolate(msg, value, secs)
    return with_message(msg, function() return interp.interpolate_from_msg(value, secs) end)[1]
end

---------------------------------------------------------------------------------------
-- msg_interpolate

do
    local msg = {
        Type = "web", Payload = "text", Hostname = "host.example", Pid = 1234,
        Uuid = "8e414f01-9d7f-4a48-a5e1-ae92e5954df5", Logger = "nginx", EnvVersion = "0.8",
        Severity = 6, Timestamp = 1e18,
        Fields = {
            { name = "status", value = 200 },
            { name = "ratio", value = 0.25 },
            { name = "count", value = 3, value_type = 2 },
            { name = "ok", value = true },
            { name = "bad", value = false },
            { name = "host", value = { "first", "second" } },
            { name = "host", value = "other instance" },
            { name = "empty", value = "" },
        },
    }
    local cases = {
        { "%{Type}", "web" }, { "%{Payload}", "text" }, { "%{Hostname}", "host.example" },
        { "%{Pid}", "1234" }, { "%{UUID}", "8e414f01-9d7f-4a48-a5e1-ae92e5954df5" },
        { "%{Logger}", "nginx" }, { "%{EnvVersion}", "0.8" }, { "%{Severity}", "6" },
        { "%{status}", "200" }, { "%{ratio}", "0.25" }, { "%{count}", "3" },
        { "%{ok}", "true" }, { "%{bad}", "false" }, { "%{host}", "first" }, { "%{empty}", "" },
        -- Timestamp and Uuid name dynamic fields (none here): left as written
        { "%{Timestamp}", "%{Timestamp}" }, { "%{Uuid}", "%{Uuid}" },
        { "%{missing}", "%{missing}" }, { "%{}", "%{}" },
        { "no interpolation", "no interpolation" }, { "", "" },
        { "%{Type}-%{Hostname}/%{status}", "web-host.example/200" },
        { "100% {Type} %{Type", "100% {Type} %{Type" },
        { "%{%Y.%m.%d}", "2014.06.05" }, { "logs-%{%Y}%{%m}-%{Type}", "logs-201406-web" },
        { "%{%H:%M:%S}", "12:00:00" },
    }
    for _, c in ipairs(cases) do
        h.equal(interpolate(msg, c[1], 1401969600.75), c[2], "interpolate " .. c[1])
    end
    h.equal(interpolate(msg, nil), nil, "interpolate nil")
end

-- A header that is not set (Pid here) stays as written; the current time is used when
-- secs is nil.
do
    h.equal(interpolate({ Type = "t" }, "%{Pid}-%{Type}"), "%{Pid}-t", "unset header")
    local before = os.date("!%Y.%m.%d")
    local got = interpolate({}, "%{%Y.%m.%d}")
    local after = os.date("!%Y.%m.%d")
    h.equal(got == before or got == after, true, "current date: " .. got)
end

---------------------------------------------------------------------------------------
-- field_util

do
    local set, all_base, all, order = field_util.field_map("**all_base** FilePath  Env\tB FilePath")
    h.equal({ set, all_base, all, order },
        { { FilePath = true, Env = true, B = true }, true, false, { "FilePath", "Env", "B" } }, "field_map")
    set, all_base, all, order = field_util.field_map("**all** x")
    h.equal({ set, all_base, all, order }, { { x = true }, false, true, { "x" } }, "field_map **all**")
    local base = { EnvVersion = true, Hostname = true, Logger = true, Payload = true, Pid = true,
        Severity = true, Type = true }
    h.equal({ field_util.field_map(nil) }, { base, true, false, {} }, "field_map nil")
    h.equal({ field_util.field_map("  ") }, { base, true, false, {} }, "field_map blank")
    h.equal(field_util.used_base_fields({ Type = true, Payload = true, Other = true }),
        { EnvVersion = true, Hostname = true, Logger = true, Pid = true, Severity = true },
        "used_base_fields")
    h.equal(field_util.used_base_fields(nil), base, "used_base_fields nil")
    h.equal(field_util.field_interp("Hostname"), "Hostname", "field_interp base")
    h.equal(field_util.field_interp("status"), "Fields[status]", "field_interp dynamic")
    h.equal(field_util.field_interp("Timestamp"), "Fields[Timestamp]", "field_interp Timestamp")
    local divisors = { n = 1, u = 1e3, ms = 1e6, s = 1e9, m = 60e9, h = 3600e9, x = 1e6 }
    for p, d in pairs(divisors) do
        h.equal(field_util.timestamp_divisor(p), d, "timestamp_divisor " .. p)
    end
    h.equal(field_util.timestamp_divisor(nil), 1e6, "timestamp_divisor nil")
    local got = with_message({ Timestamp = 1434932024987654321 }, function()
        return field_util.message_timestamp("s"), field_util.message_timestamp(nil),
            field_util.message_timestamp("h")
    end)
    h.equal(got, { 1434932024, 1434932024987, 398592 }, "message_timestamp")
    got = with_message({}, function() return field_util.message_timestamp("s") end)
    h.equal(got, {}, "message_timestamp without Timestamp")
end

---------------------------------------------------------------------------------------
-- ts_line_protocol (API level; the encoders' tests cover the formats)

do
    local c = tsl.set_config(nil)
    h.equal({ c.decimal_precision, c.name_prefix, c.name_prefix_delimiter, c.tag_fields,
        c.timestamp_precision, c.value_field_key, c.source_value_field, c.number_format,
        c.skip_all_base, c.tag_all_base, c.tag_all },
        { "6", "", "", "**all_base**", "ms", "value", nil, "%.6f", false, true, false }, "set_config defaults")
    c = tsl.set_config({ skip_fields = "**all_base** a", tag_fields = "b c", decimal_precision = 3, source_value_field = "" })
    h.equal({ c.skip, c.skip_all_base, c.tag_names, c.tag_all_base, c.number_format, c.source_value_field },
        { { a = true }, true, { "b", "c" }, false, "%.3f", nil }, "set_config values")
    local msg = { Timestamp = 5e9, Hostname = "h", Fields = { { name = "a", value = 1 }, { name = "b", value = "x" } } }
    local lines = with_message(msg, function()
        local config = tsl.set_config({ skip_fields = "**all_base**", timestamp_precision = "s" })
        return tsl.influxdb_line_msg(config), tsl.carbon_line_msg(tsl.set_config({ skip_fields = "**all_base**" }))
    end)
    h.equal(lines, { { "a,Hostname=h value=1.000000 5", 'b,Hostname=h value="x" 5' }, { "a 1 5" } },
        "influxdb_line_msg and carbon_line_msg")
end

---------------------------------------------------------------------------------------
-- elasticsearch

do
    local msg = { Type = "T", Logger = "L", Hostname = "H" }
    local ns = 1401969600 * 1e9
    local got = with_message(msg, function()
        return es.bulkapi_index_json("Idx-%{Logger}-%{%Y}", "%{Type}", "%{Hostname}", ns),
            es.bulkapi_index_json(nil, nil, nil, ns),
            es.bulkapi_index_json(nil, "t", nil, nil),
            es.bulkapi_index_json(nil, nil, "a\n\"b\\", nil),
            es.bulkapi_index_json("X", nil, nil, ns)
    end)
    h.equal(got, {
        '{"index":{"_index":"idx-l-2014","_type":"T","_id":"H"}}',
        '{"index":{}}',
        '{"index":{"_type":"t"}}',
        '{"index":{"_id":"a\\n\\"b\\\\"}}',
        '{"index":{"_index":"x"}}',
    }, "bulkapi_index_json")
end

---------------------------------------------------------------------------------------
-- alert

do
    local HOUR = 3600e9
    _LAST_ALERT = nil
    local got, injected = with_message({}, function()
        local r = {}
        r[#r + 1] = alert.throttled(10 * HOUR)      -- false: never sent
        r[#r + 1] = alert.send(10 * HOUR, "one")     -- true
        r[#r + 1] = _LAST_ALERT                       -- 10 h
        r[#r + 1] = alert.throttled(10 * HOUR + 1)   -- true: default throttle one hour
        r[#r + 1] = alert.send(10.5 * HOUR, "two")   -- false
        r[#r + 1] = alert.send(0, "zero")            -- true: 0 overrides throttling
        r[#r + 1] = _LAST_ALERT                       -- still 10 h
        r[#r + 1] = alert.send(11 * HOUR, "three")   -- true: exactly one hour later
        alert.set_throttle(60e9)
        r[#r + 1] = alert.queue(11 * HOUR + 1e9, "q1") -- false: throttled
        r[#r + 1] = alert.queue(11 * HOUR + 60e9, "q1") -- true
        r[#r + 1] = alert.queue(11 * HOUR + 61e9, "q2") -- true
        r[#r + 1] = alert.send_queue(11 * HOUR + 62e9)  -- true
        r[#r + 1] = alert.send_queue(11 * HOUR + 200e9) -- false: queue empty
        r[#r + 1] = alert.queue(11 * HOUR + 200e9, "q3") -- true
        r[#r + 1] = alert.send_queue(11 * HOUR + 100e9) -- false: throttled, kept
        r[#r + 1] = alert.send_queue(11 * HOUR + 300e9) -- true
        alert.set_throttle(0)
        r[#r + 1] = alert.send(11 * HOUR + 300e9, "no throttle") -- true
        alert.set_throttle(3600e9)
        return unpack(r, 1, 17)
    end)
    h.equal(got, { false, true, 10 * HOUR, true, false, true, 10 * HOUR, true, false, true, true,
        true, false, true, false, true, true }, "alert results")
    local payloads = {}
    for i, m in ipairs(injected) do
        h.equal({ m.payload_type, m.payload_name }, { "alert", "" }, "alert payload type " .. i)
        payloads[i] = m.Payload
    end
    h.equal(payloads, { "one", "zero", "three", "q1\nq2", "q3", "no throttle" }, "alert payloads")
    h.equal(_LAST_ALERT, 11 * HOUR + 300e9, "_LAST_ALERT")
    _LAST_ALERT = nil
end
