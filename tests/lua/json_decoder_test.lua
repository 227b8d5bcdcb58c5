-- Tests for lua/lua_decoders/json.lua (through h.plugin): Heka's documented example,
-- defaults, every header mapping, map_fields off, timestamps (ns, strftime, RFC 3339),
-- flattening, arrays, nulls and bad input.
local h = require "harness"

local PLUGIN = "lua/lua_decoders/json.lua"

local function decode(config, payload)
    local p = h.plugin(PLUGIN, config)
    return p.process({ Payload = payload })
end

local function one(config, payload, label)
    local rc, err, msgs = decode(config, payload)
    h.equal(rc, 0, label .. " rc")
    h.equal(err, nil, label .. " err")
    h.equal(#msgs, 1, label .. " one message")
    return msgs[1]
end

local function fails(config, payload, label)
    local rc, err, msgs = decode(config, payload)
    h.equal(rc, -1, label .. " rc")
    h.equal(type(err), "string", label .. " error text")
    h.equal(#msgs, 0, label .. " nothing injected")
end

-- Heka's documented example (Payload kept as payload_keep says; the documented sample
-- message shows no Timestamp/Hostname set by the decoder).
local artemis = [[{
  "msg": "Start Request",
  "event": "artemis.web.ensure-running",
  "extra": {
    "workspace-id": "cN907xLngi"
  },
  "time": "2015-05-06T20:40:05.509926234Z",
  "severity": 1
}]]
h.equal(one({ type = "artemis", payload_keep = true, map_fields = true, Severity = "severity" },
    artemis, "example"), {
    Type = "artemis", Payload = artemis, Severity = 1,
    Fields = { msg = "Start Request", event = "artemis.web.ensure-running",
        ["extra.workspace-id"] = "cN907xLngi", time = "2015-05-06T20:40:05.509926234Z" },
}, "documented example")

-- defaults: Type "json", no Payload, no mapping
h.equal(one({}, artemis, "defaults"), {
    Type = "json",
    Fields = { msg = "Start Request", event = "artemis.web.ensure-running",
        ["extra.workspace-id"] = "cN907xLngi", time = "2015-05-06T20:40:05.509926234Z",
        severity = 1 },
}, "defaults")

-- mappings are ignored without map_fields
h.equal(one({ Severity = "severity", Type = "event" }, artemis, "no map_fields"), {
    Type = "json",
    Fields = { msg = "Start Request", event = "artemis.web.ensure-running",
        ["extra.workspace-id"] = "cN907xLngi", time = "2015-05-06T20:40:05.509926234Z",
        severity = 1 },
}, "mappings need map_fields")

-- every header mapping
local full = [[{"uuid":"8e414f01-9d7f-4a48-a5e1-ae92e5954df5","kind":"app.log","src":"myapp",
"host":"test.example.com","sev":3,"ver":"1.2","pid":1234,"ts":1430944805509926234,
"text":"hello","rest":"r"}]]
h.equal(one({ map_fields = true, Uuid = "uuid", Type = "kind", Logger = "src", Hostname = "host",
    Severity = "sev", EnvVersion = "ver", Pid = "pid", Timestamp = "ts", Payload = "text",
    type = "ignored" }, full, "all mappings"), {
    Uuid = "8e414f01-9d7f-4a48-a5e1-ae92e5954df5", Type = "app.log", Logger = "myapp",
    Hostname = "test.example.com", Severity = 3, EnvVersion = "1.2", Pid = 1234,
    Timestamp = 1430944805509926234, Payload = "hello",
    Fields = { rest = "r" },
}, "all header mappings")

-- a mapped Payload overrides payload_keep; an object is stored as JSON
h.equal(one({ map_fields = true, Payload = "text", payload_keep = true }, '{"text":"t","a":1}',
    "payload map").Payload, "t", "Payload mapping overrides payload_keep")
h.equal(one({ map_fields = true, Payload = "body" }, '{"body":{"k":"v"},"a":1}', "payload obj"),
    { Type = "json", Payload = '{"k":"v"}', Fields = { a = 1 } }, "Payload object -> JSON")

-- Type falls back to `type` when the mapped member is missing
h.equal(one({ map_fields = true, type = "fallback", Type = "kind" }, '{"a":1}', "type fallback"),
    { Type = "fallback", Fields = { a = 1 } }, "missing mapped member")

-- numeric strings and numbers for numeric headers; numbers for string headers
h.equal(one({ map_fields = true, Severity = "s", Pid = "p", Hostname = "h", EnvVersion = "v" },
    '{"s":"4","p":"99","h":42,"v":2}', "conversions"),
    { Type = "json", Severity = 4, Pid = 99, Hostname = "42", EnvVersion = "2", Fields = {} },
    "header conversions")

-- two headers may map the same member
h.equal(one({ map_fields = true, Type = "k", Logger = "k" }, '{"k":"v","a":1}', "same member"),
    { Type = "v", Logger = "v", Fields = { a = 1 } }, "two headers, one member")

-- a mapping may name a flattened member
h.equal(one({ map_fields = true, Hostname = "meta.host" }, '{"meta":{"host":"h1","dc":"x"}}',
    "nested mapping"), { Type = "json", Hostname = "h1", Fields = { ["meta.dc"] = "x" } },
    "nested member mapping")

-- Timestamp: ns number, numeric string, strftime format, RFC 3339 fallback
local ts_ns = 1430944805 * 1e9 + 509926234
h.equal(one({ map_fields = true, Timestamp = "t" }, '{"t":1430944805509926234}', "ts ns").Timestamp,
    1430944805509926234, "Timestamp ns")
h.equal(one({ map_fields = true, Timestamp = "t" }, '{"t":"1430944805000000000"}', "ts str").Timestamp,
    1430944805 * 1e9, "Timestamp numeric string")
h.equal(one({ map_fields = true, Timestamp = "time", timestamp_format = "%Y-%m-%dT%H:%M:%S.%fZ" },
    artemis, "ts strftime").Timestamp, ts_ns, "Timestamp with timestamp_format and %f")
h.equal(one({ map_fields = true, Timestamp = "time", timestamp_format = "%Y-%m-%dT%H:%M:%S" },
    artemis, "ts prefix").Timestamp, 1430944805 * 1e9, "timestamp_format matching a prefix")
h.equal(one({ map_fields = true, Timestamp = "@timestamp", timestamp_format = "%d/%b/%Y:%H:%M:%S %z" },
    '{"@timestamp":"10/Oct/2000:13:55:36 -0700","x":1}', "ts clf"),
    { Type = "json", Timestamp = 971211336 * 1e9, Fields = { x = 1 } }, "Timestamp CLF format")
h.equal(one({ map_fields = true, Timestamp = "time" }, artemis, "ts rfc3339").Timestamp, ts_ns,
    "Timestamp RFC 3339 without timestamp_format")
h.equal(one({ map_fields = true, Timestamp = "t", timestamp_format = "%s" }, '{"t":1430944805}',
    "ts %s").Timestamp, 1430944805 * 1e9, "timestamp_format %s on a number")
h.equal(one({ Timestamp = "time", timestamp_format = "%Y" }, artemis, "ts no map").Timestamp, nil,
    "Timestamp needs map_fields")
fails({ map_fields = true, Timestamp = "t" }, '{"t":"yesterday"}', "bad timestamp")
fails({ map_fields = true, Timestamp = "t", timestamp_format = "%Y-%m-%d" }, '{"t":"10/10/2014"}',
    "timestamp not matching the format")
fails({ map_fields = true, Severity = "s" }, '{"s":"high"}', "non-numeric Severity")
fails({ map_fields = true, Pid = "p" }, '{"p":true}', "non-numeric Pid")
fails({ map_fields = true, Hostname = "h" }, '{"h":{"a":1}}', "object Hostname")

-- arrays, booleans, nulls, numbers
h.equal(one({}, '{"tags":["a","b"],"n":[1,2.5],"ok":true,"no":false,"nothing":null,"f":1.5,' ..
    '"objs":[{"id":1},{"id":2}],"mixed":[1,"x"],"empty":{}}', "types").Fields, {
    tags = { "a", "b" }, n = { 1, 2.5 }, ok = true, no = false, f = 1.5,
    ["objs.1.id"] = 1, ["objs.2.id"] = 2, ["mixed.1"] = 1, ["mixed.2"] = "x",
}, "value types")
h.equal(one({}, '{"a":{"b":{"c":{"d":"deep"}}}}', "deep").Fields, { ["a.b.c.d"] = "deep" },
    "deep nesting")
h.equal(one({}, '{}', "empty object"), { Type = "json", Fields = {} }, "empty object")
h.equal(one({}, '{"unicode":"h\\u00e9llo \\"q\\""}', "escapes").Fields,
    { unicode = "h\195\169llo \"q\"" }, "JSON escapes")

-- one decoder, many messages: no state leaks between messages
do
    local p = h.plugin(PLUGIN, { map_fields = true, Severity = "s" })
    local rc1, _, m1 = p.process({ Payload = '{"s":1,"a":1}' })
    local rc2, _, m2 = p.process({ Payload = '{"b":2}' })
    h.equal({ rc1, rc2 }, { 0, 0 }, "two messages rc")
    h.equal(m1[1], { Type = "json", Severity = 1, Fields = { a = 1 } }, "first message")
    h.equal(m2[1], { Type = "json", Fields = { b = 2 } }, "second message")
end

-- bad input
fails({}, "not json", "plain text")
fails({}, '{"a":1', "truncated object")
fails({}, "", "empty payload")
fails({}, "42", "a JSON number")
fails({}, '"str"', "a JSON string")
fails({}, "{'a':1}", "single quotes")
