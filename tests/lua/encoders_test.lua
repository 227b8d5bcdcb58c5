-- Tests for hekad's encoders lua/lua_encoders/{schema_influx_line, schema_carbon_line,
-- es_payload, alert}.lua: the examples of Heka's documentation (exact bytes) and edge
-- cases. Fields are given in array form (see harness.lua) so their order is fixed.
local h = require "harness"

local INFLUX = "lua/lua_encoders/schema_influx_line.lua"
local CARBON = "lua/lua_encoders/schema_carbon_line.lua"
local ES = "lua/lua_encoders/es_payload.lua"
local ALERT = "lua/lua_encoders/alert.lua"

-- Runs one message through the encoder at `path`; returns rc and the output text (nil
-- when nothing was injected). Fails on an error status or more than one output.
local function encode(path, config, msg)
    local p = h.plugin(path, config or {})
    local rc, err, out = p.process(msg)
    if rc ~= 0 and rc ~= -2 then error("rc " .. tostring(rc) .. ": " .. tostring(err), 2) end
    h.equal(#out <= 1, true, "one output at most")
    if rc == -2 then
        h.equal(#out, 0, "nothing injected on -2")
        return rc, nil
    end
    h.equal(out[1].payload_type, "txt", "payload_type")
    return rc, out[1].Payload
end

local function split_lines(text)
    local lines = {}
    for line in string.gmatch(text, "([^\n]*)\n") do lines[#lines + 1] = line end
    return lines
end

local function set_of(list)
    local s = {}
    for _, v in ipairs(list) do s[v] = true end
    return s
end

-- A loadavg message as Heka's documentation examples have it: linux_loadavg decoder
-- output plus FilePollingInput's and a ScribbleDecoder's fields.
local function loadavg(ns, one, five, fifteen)
    return {
        Timestamp = ns, Type = "stats.loadavg", Hostname = "myhost", Logger = "LoadAvgPoller",
        Severity = 7, Pid = 0, Payload = "0.11 0.11 0.17 2/200 12345\n", EnvVersion = "",
        Fields = {
            { name = "1MinAvg", value = one },
            { name = "5MinAvg", value = five },
            { name = "15MinAvg", value = fifteen },
            { name = "NumProcesses", value = 2 },
            { name = "FilePath", value = "/proc/loadavg" },
            { name = "TickerInterval", value = 5, value_type = 2 },
            { name = "Environment", value = "dev" },
        },
    }
end

---------------------------------------------------------------------------------------
-- schema_influx_line

-- Heka's documented example (config and output lines). Heka printed the lines in Lua
-- table order (5MinAvg, 1MinAvg, 15MinAvg); hekad writes message field order.
do
    local config = {
        skip_fields = "**all_base** FilePath NumProcesses Environment TickerInterval",
        tag_fields = "Hostname Environment",
        timestamp_precision = "s",
    }
    local rc, out = encode(INFLUX, config, loadavg(1434932024 * 1e9 + 123456789, 0.11, 0.11, 0.17))
    h.equal(rc, 0, "influx doc rc")
    local documented = {
        "5MinAvg,Hostname=myhost,Environment=dev value=0.110000 1434932024",
        "1MinAvg,Hostname=myhost,Environment=dev value=0.110000 1434932024",
        "15MinAvg,Hostname=myhost,Environment=dev value=0.170000 1434932024",
    }
    h.equal(set_of(split_lines(out)), set_of(documented), "influx doc lines")
    h.equal(out,
        "1MinAvg,Hostname=myhost,Environment=dev value=0.110000 1434932024\n" ..
        "5MinAvg,Hostname=myhost,Environment=dev value=0.110000 1434932024\n" ..
        "15MinAvg,Hostname=myhost,Environment=dev value=0.170000 1434932024\n",
        "influx doc bytes")
end

-- Defaults: every base field and dynamic field is a point, tags are the taggable base
-- fields, timestamps in ms, numbers "%.6f", strings quoted and escaped, booleans bare.
do
    local msg = {
        Timestamp = 1434932024123456789, Type = "t", Hostname = "h", Logger = "l",
        Severity = 6, Pid = 42, Payload = 'hello "world"', EnvVersion = "1",
        Fields = {
            { name = "count", value = 3, value_type = 2 },
            { name = "ok", value = true },
            { name = "ratio", value = 0.5 },
            { name = "msg", value = 'say "hi" \\o/' },
            { name = "big", value = 12345678901 },
            { name = "neg", value = -0.25 },
        },
    }
    local tags = ",Hostname=h,Logger=l,Severity=6,Type=t"
    local ts = " 1434932024123"
    local _, out = encode(INFLUX, {}, msg)
    h.equal(out, table.concat({
        "Type" .. tags .. ' value="t"' .. ts,
        "Payload" .. tags .. ' value="hello \\"world\\""' .. ts,
        "Hostname" .. tags .. ' value="h"' .. ts,
        "Pid" .. tags .. " value=42.000000" .. ts,
        "Logger" .. tags .. ' value="l"' .. ts,
        "Severity" .. tags .. " value=6.000000" .. ts,
        "EnvVersion" .. tags .. ' value="1"' .. ts,
        "count" .. tags .. " value=3.000000" .. ts,
        "ok" .. tags .. " value=true" .. ts,
        "ratio" .. tags .. " value=0.500000" .. ts,
        "msg" .. tags .. ' value="say \\"hi\\" \\\\o/"' .. ts,
        "big" .. tags .. " value=12345678901.000000" .. ts,
        "neg" .. tags .. " value=-0.250000" .. ts,
    }, "\n") .. "\n", "influx defaults")
end

-- Special characters: measurement escapes ",", " " and "\"; tag keys/values and the
-- field key escape ",", "=", " " and "\"; name_prefix interpolation with a delimiter.
do
    local msg = {
        Timestamp = 1e9, Type = "web", Hostname = "my host,1", Logger = "a=b",
        Fields = {
            { name = "req time,ms", value = 1.5 },
            { name = "region", value = "us west=2,a" },
            { name = "path\\", value = "C:\\dir\\" },
        },
    }
    local config = {
        skip_fields = "**all_base** region",
        tag_fields = "Hostname Logger region",
        name_prefix = "%{Type} app",
        name_prefix_delimiter = ".",
        value_field_key = "the value",
        timestamp_precision = "s",
    }
    local _, out = encode(INFLUX, config, msg)
    h.equal(out,
        "web\\ app.req\\ time\\,ms,Hostname=my\\ host\\,1,Logger=a\\=b," ..
        "region=us\\ west\\=2\\,a the\\ value=1.500000 1\n" ..
        "web\\ app.path\\\\,Hostname=my\\ host\\,1,Logger=a\\=b," ..
        "region=us\\ west\\=2\\,a the\\ value=\"C:\\\\dir\\\\\" 1\n", "influx escaping")
    config.tag_fields = "path\\ Logger"
    config.skip_fields = "**all_base** region req time,ms"
    _, out = encode(INFLUX, config, msg)
    h.equal(out, 'web\\ app.req\\ time\\,ms,path\\\\=C:\\\\dir\\\\,Logger=a\\=b the\\ value=1.500000 1\n' ..
        'web\\ app.path\\\\,path\\\\=C:\\\\dir\\\\,Logger=a\\=b the\\ value="C:\\\\dir\\\\" 1\n',
        "influx backslashes in tags")
end

-- Arrays give one point per value (<name>.<index>); empty arrays and BYTES fields give
-- none; repeated names give one point each; NaN and infinities are dropped.
do
    local msg = {
        Timestamp = 2e9,
        Fields = {
            { name = "cpu", value = { 1, 2.5, 3 } },
            { name = "none", value = {}, value_type = 3 },
            { name = "blob", value = "\0\1", value_type = 1 },
            { name = "dup", value = "a" },
            { name = "dup", value = "b" },
            { name = "flags", value = { true, false } },
            { name = "nan", value = 0 / 0 },
            { name = "inf", value = math.huge },
            { name = "ninf", value = -math.huge },
        },
    }
    local _, out = encode(INFLUX, { skip_fields = "**all_base**", tag_fields = "nosuch" , timestamp_precision = "s" }, msg)
    h.equal(out, table.concat({
        "cpu.0 value=1.000000 2", "cpu.1 value=2.500000 2", "cpu.2 value=3.000000 2",
        'dup value="a" 2', 'dup value="b" 2', "flags.0 value=true 2", "flags.1 value=false 2",
    }, "\n") .. "\n", "influx arrays")
end

-- Nothing to write: skipped with -2 and no output.
do
    local rc, out = encode(INFLUX, { skip_fields = "**all_base**" }, { Timestamp = 1e9, Type = "x" })
    h.equal({ rc, out }, { -2 }, "influx no fields")
    rc, out = encode(INFLUX, { skip_fields = "**all_base** a" }, { Timestamp = 1e9, Fields = { { name = "a", value = 1 } } })
    h.equal({ rc, out }, { -2 }, "influx all fields skipped")
end

-- tag_fields: "**all**" adds every dynamic field (first value, no BYTES) after the base
-- tags; explicit names follow in the order given; missing and empty values are no tag;
-- numbers print as Lua does (integral doubles as integers); skip_fields do not matter.
do
    local msg = {
        Timestamp = 1e9, Type = "t", Hostname = "h", Logger = "", Severity = 7, Pid = 9,
        Fields = {
            { name = "zone", value = "eu" },
            { name = "code", value = 200 },
            { name = "frac", value = 0.25 },
            { name = "up", value = true },
            { name = "raw", value = "xx", value_type = 1 },
            { name = "list", value = { "first", "second" } },
            { name = "empty", value = "" },
            { name = "v", value = 1 },
        },
    }
    local config = { skip_fields = "**all_base** zone code frac up raw list empty", tag_fields = "**all** Pid", timestamp_precision = "s" }
    local _, out = encode(INFLUX, config, msg)
    h.equal(out, "v,Hostname=h,Severity=7,Type=t,zone=eu,code=200,frac=0.25,up=true," ..
        "list=first,v=1,Pid=9 value=1.000000 1\n", "influx tag_fields **all**")
    config.tag_fields = "**all_base** zone"
    _, out = encode(INFLUX, config, msg)
    h.equal(out, "v,Hostname=h,Severity=7,Type=t,zone=eu value=1.000000 1\n", "influx **all_base** plus a name")
    config.tag_fields = "up missing zone up"
    _, out = encode(INFLUX, config, msg)
    h.equal(out, "v,up=true,zone=eu value=1.000000 1\n", "influx explicit tags in order")
end

-- source_value_field: one point named name_prefix (the field name when there is no
-- prefix); a base field works too; a missing field writes nothing.
do
    local msg = {
        Timestamp = 3e9, Type = "stats", Hostname = "h", Severity = 3,
        Fields = { { name = "a", value = 1 }, { name = "load", value = 0.75 } },
    }
    local config = { source_value_field = "load", name_prefix = "%{Hostname}.%{Type}.load", tag_fields = "Hostname", timestamp_precision = "s" }
    local _, out = encode(INFLUX, config, msg)
    h.equal(out, "h.stats.load,Hostname=h value=0.750000 3\n", "influx source_value_field")
    _, out = encode(INFLUX, { source_value_field = "load", timestamp_precision = "s", tag_fields = "nosuch" }, msg)
    h.equal(out, "load value=0.750000 3\n", "influx source_value_field without prefix")
    _, out = encode(INFLUX, { source_value_field = "Severity", name_prefix = "sev", timestamp_precision = "s", tag_fields = "nosuch" }, msg)
    h.equal(out, "sev value=3.000000 3\n", "influx source_value_field base field")
    local rc = encode(INFLUX, { source_value_field = "nosuch" }, msg)
    h.equal(rc, -2, "influx source_value_field missing")
end

-- timestamp_precision: n, u, ms (default, also for unknown values), s, m, h; rounded
-- down; no timestamp when the message has none.
do
    local msg = { Timestamp = 1434932024987654321, Fields = { { name = "x", value = 1 } } }
    local want = {
        n = "1434932024987654400", u = "1434932024987654", ms = "1434932024987",
        s = "1434932024", m = "23915533", h = "398592", bogus = "1434932024987",
    }
    for precision, ts in pairs(want) do
        local _, out = encode(INFLUX, { skip_fields = "**all_base**", tag_fields = "nosuch", timestamp_precision = precision }, msg)
        h.equal(out, "x value=1.000000 " .. ts .. "\n", "influx precision " .. precision)
    end
    local _, out = encode(INFLUX, { skip_fields = "**all_base**", tag_fields = "nosuch" }, { Fields = { { name = "x", value = 1 } } })
    h.equal(out, "x value=1.000000\n", "influx without Timestamp")
end

-- decimal_precision: a string or a number of digits; anything else is the default 6.
do
    local msg = { Timestamp = 0, Fields = { { name = "x", value = 2 / 3 } } }
    local base = { skip_fields = "**all_base**", tag_fields = "nosuch", timestamp_precision = "s" }
    base.decimal_precision = "2"
    h.equal(select(2, encode(INFLUX, base, msg)), "x value=0.67 0\n", "decimal_precision 2")
    base.decimal_precision = 0
    h.equal(select(2, encode(INFLUX, base, msg)), "x value=1 0\n", "decimal_precision 0")
    base.decimal_precision = "x"
    h.equal(select(2, encode(INFLUX, base, msg)), "x value=0.666667 0\n", "decimal_precision bad")
end

-- name_prefix strftime codes use the message time.
do
    local msg = { Timestamp = 1401969600 * 1e9, Fields = { { name = "x", value = 1 } } }
    local config = { name_prefix = "%{%Y.%m.%d}", name_prefix_delimiter = "_", skip_fields = "**all_base**", tag_fields = "nosuch", timestamp_precision = "s" }
    h.equal(select(2, encode(INFLUX, config, msg)), "2014.06.05_x value=1.000000 1401969600\n", "influx prefix strftime")
end

---------------------------------------------------------------------------------------
-- schema_carbon_line

-- Heka's documented example. Heka printed the lines in Lua table order (1MinAvg,
-- 15MinAvg, 5MinAvg); hekad writes message field order.
do
    local config = {
        name_prefix = "%{Environment}.%{Hostname}.%{Type}",
        skip_fields = "**all_base** FilePath NumProcesses Environment TickerInterval",
    }
    local rc, out = encode(CARBON, config, loadavg(1434932023 * 1e9 + 500000000, 0.12, 0.11, 0.18))
    h.equal(rc, 0, "carbon doc rc")
    local documented = {
        "dev.myhost.stats.loadavg.1MinAvg 0.12 1434932023",
        "dev.myhost.stats.loadavg.15MinAvg 0.18 1434932023",
        "dev.myhost.stats.loadavg.5MinAvg 0.11 1434932023",
    }
    h.equal(set_of(split_lines(out)), set_of(documented), "carbon doc lines")
    h.equal(out,
        "dev.myhost.stats.loadavg.1MinAvg 0.12 1434932023\n" ..
        "dev.myhost.stats.loadavg.5MinAvg 0.11 1434932023\n" ..
        "dev.myhost.stats.loadavg.15MinAvg 0.18 1434932023\n", "carbon doc bytes")
end

-- Defaults: numeric base fields (Pid, Severity) and numeric/boolean dynamic fields;
-- strings and bytes left out; numbers as Lua 5.1 prints them.
do
    local msg = {
        Timestamp = 1e9 + 5e8, Type = "t", Hostname = "h", Severity = 7, Pid = 0, Payload = "p",
        Fields = {
            { name = "requests", value = 200 },
            { name = "int", value = 11, value_type = 2 },
            { name = "sum", value = 0.1 + 0.2 },
            { name = "huge", value = 1e15 },
            { name = "tiny", value = 1.5e-7 },
            { name = "ok", value = true },
            { name = "bad", value = false },
            { name = "text", value = "12" },
            { name = "blob", value = "12", value_type = 1 },
            { name = "per cpu", value = { 1, 2 } },
        },
    }
    local _, out = encode(CARBON, {}, msg)
    h.equal(out, table.concat({
        "Pid 0 1", "Severity 7 1", "requests 200 1", "int 11 1", "sum 0.3 1", "huge 1e+15 1",
        "tiny 1.5e-07 1", "ok 1 1", "bad 0 1", "per_cpu.0 1 1", "per_cpu.1 2 1",
    }, "\n") .. "\n", "carbon defaults")
end

-- name_prefix_delimiter, whitespace in paths, source_value_field, nothing to write.
do
    local msg = { Timestamp = 7e9, Type = "my type", Hostname = "h", Fields = { { name = "a b", value = 1 }, { name = "c", value = 2 } } }
    local _, out = encode(CARBON, { name_prefix = "%{Hostname}.%{Type}", name_prefix_delimiter = "_", skip_fields = "**all_base**" }, msg)
    h.equal(out, "h.my_type_a_b 1 7\nh.my_type_c 2 7\n", "carbon delimiter and spaces")
    _, out = encode(CARBON, { name_prefix = "servers.%{Hostname}.c", source_value_field = "c" }, msg)
    h.equal(out, "servers.h.c 2 7\n", "carbon source_value_field")
    local rc = encode(CARBON, { skip_fields = "**all_base**" }, { Timestamp = 7e9, Fields = { { name = "s", value = "x" } } })
    h.equal(rc, -2, "carbon nothing numeric")
end

---------------------------------------------------------------------------------------
-- es_payload

-- Heka's documented example.
do
    local config = {
        es_index_from_timestamp = true,
        index = "%{Logger}-%{%Y.%m.%d}",
        type_name = "%{Type}-%{Hostname}",
    }
    local msg = {
        Timestamp = 1401969600 * 1e9, Logger = "mylogger", Type = "mytype", Hostname = "host.domain.com",
        Payload = '{"json":"data","extracted":"from","message":"payload"}',
    }
    local _, out = encode(ES, config, msg)
    h.equal(out, '{"index":{"_index":"mylogger-2014.06.05","_type":"mytype-host.domain.com"}}\n' ..
        '{"json":"data","extracted":"from","message":"payload"}\n', "es_payload doc")
end

-- Defaults (index heka-%{%Y.%m.%d}, type message), the index lowercased (not the type),
-- an _id from the UUID header, JSON escaping as cjson does it, a Payload that already
-- ends in a newline, unknown %{names} left as written.
do
    local msg = {
        Timestamp = 1401969600 * 1e9 + 5e8, Logger = "MyLogger", Type = 'A"b/c',
        Uuid = "8e414f01-9d7f-4a48-a5e1-ae92e5954df5", Payload = "{}\n",
    }
    local _, out = encode(ES, { es_index_from_timestamp = true }, msg)
    h.equal(out, '{"index":{"_index":"heka-2014.06.05","_type":"message"}}\n{}\n', "es_payload defaults")
    local config = { es_index_from_timestamp = true, index = "%{Logger}-%{nosuch}", type_name = "%{Type}", id = "%{UUID}" }
    _, out = encode(ES, config, msg)
    h.equal(out, '{"index":{"_index":"mylogger-%{nosuch}","_type":"A\\"b\\/c",' ..
        '"_id":"8e414f01-9d7f-4a48-a5e1-ae92e5954df5"}}\n{}\n', "es_payload id, case, escaping")
end

-- Without es_index_from_timestamp the index date is the current (UTC) date.
do
    local before = os.date("!%Y.%m.%d")
    local _, out = encode(ES, {}, { Timestamp = 0, Payload = "{}" })
    local after = os.date("!%Y.%m.%d")
    local ok = out == '{"index":{"_index":"heka-' .. before .. '","_type":"message"}}\n{}\n' or
        out == '{"index":{"_index":"heka-' .. after .. '","_type":"message"}}\n{}\n'
    h.equal(ok, true, "es_payload current date: " .. out)
end

---------------------------------------------------------------------------------------
-- alert

-- Heka's documented example.
do
    local msg = {
        Timestamp = 1400077218 * 1e9, Type = "heka.sandbox-output", Hostname = "ip-10-226-204-51",
        Logger = "FxaBrowserIdHTTPStatus",
        Payload = "HTTP Status - algorithm: roc col: 1 msg: detected anomaly, standard deviation exceeds 1.5",
        Fields = { { name = "payload_type", value = "alert" }, { name = "payload_name", value = "" } },
    }
    local _, out = encode(ALERT, {}, msg)
    h.equal(out, "Timestamp: 2014-05-14T14:20:18Z\nHostname: ip-10-226-204-51\n" ..
        "Plugin: FxaBrowserIdHTTPStatus\n" ..
        "Alert: HTTP Status - algorithm: roc col: 1 msg: detected anomaly, standard deviation exceeds 1.5\n",
        "alert doc")
end

-- Sub-second timestamps round down; a heka.sandbox-terminated message names its plugin
-- from Fields[plugin]; missing headers print empty.
do
    local msg = {
        Timestamp = 1400077218 * 1e9 + 999999000, Type = "heka.sandbox-terminated", Logger = "hekad",
        Payload = "process_message() boom", Fields = { { name = "plugin", value = "MyFilter" } },
    }
    local _, out = encode(ALERT, {}, msg)
    h.equal(out, "Timestamp: 2014-05-14T14:20:18Z\nHostname: \nPlugin: MyFilter\n" ..
        "Alert: process_message() boom\n", "alert terminated")
end
