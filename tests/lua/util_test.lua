-- Tests for lua/lua_modules/util.lua: table_to_fields (flattening, separator, parent,
-- max_depth, arrays, dropped values) and table_to_message (header/field maps, casts).
local h = require "harness"
local cjson = require "cjson"
local util = require "util"

-- flat tables are copied unchanged
h.equal(util.table_to_fields({ a = "x", b = 1, c = true, d = false }, {}),
    { a = "x", b = 1, c = true, d = false }, "flat")

-- nested tables are flattened with "."
local nested = { msg = "Start Request", extra = { ["workspace-id"] = "cN907xLngi",
    deeper = { n = 2 } }, severity = 1 }
h.equal(util.table_to_fields(nested, {}),
    { msg = "Start Request", ["extra.workspace-id"] = "cN907xLngi", ["extra.deeper.n"] = 2,
        severity = 1 }, "nested")
-- the input is not modified
h.equal(nested, { msg = "Start Request", extra = { ["workspace-id"] = "cN907xLngi",
    deeper = { n = 2 } }, severity = 1 }, "input untouched")

-- custom separator and parent prefix
h.equal(util.table_to_fields({ a = { b = { c = 1 } } }, {}, nil, "_"), { a_b_c = 1 }, "separator")
h.equal(util.table_to_fields({ a = { b = 1 }, c = 2 }, {}, "top"), { ["top.a.b"] = 1, ["top.c"] = 2 },
    "parent")
h.equal(util.table_to_fields({ a = { b = 1 } }, {}, "p", "/"), { ["p/a/b"] = 1 }, "parent + separator")

-- output goes into the given table, keeping what is there; it is also returned
local out = { existing = "yes" }
local ret = util.table_to_fields({ a = 1 }, out)
h.equal(out, { existing = "yes", a = 1 }, "in-place")
h.equal(ret == out, true, "returns fields")
h.equal(util.table_to_fields({ a = 1 }), { a = 1 }, "fields created when nil")

-- arrays of scalars of one type stay arrays; others are flattened by index
h.equal(util.table_to_fields({ list = { 1, 2, 3 } }, {}), { list = { 1, 2, 3 } }, "number array")
h.equal(util.table_to_fields({ list = { "a", "b" } }, {}), { list = { "a", "b" } }, "string array")
h.equal(util.table_to_fields({ list = { true, false } }, {}), { list = { true, false } }, "bool array")
h.equal(util.table_to_fields({ list = { 1, "a" } }, {}), { ["list.1"] = 1, ["list.2"] = "a" },
    "mixed array")
h.equal(util.table_to_fields({ list = { { x = 1 }, { x = 2 } } }, {}),
    { ["list.1.x"] = 1, ["list.2.x"] = 2 }, "array of objects")
-- the array value is a copy
do
    local src = { list = { 1, 2 } }
    local f = util.table_to_fields(src, {})
    h.equal(f.list ~= src.list, true, "array copied")
end

-- empty tables and non-scalar values are dropped
h.equal(util.table_to_fields({ e = {}, f = function() end, n = cjson.null, k = 1 }, {}), { k = 1 },
    "dropped values")

-- max_depth: deeper tables become JSON text
h.equal(util.table_to_fields({ a = { b = { c = 1 } }, d = 1 }, {}, nil, nil, 1),
    { a = '{"b":{"c":1}}', d = 1 }, "max_depth 1")
h.equal(util.table_to_fields({ a = { b = { c = 1 } }, d = 1 }, {}, nil, nil, 2),
    { ["a.b"] = '{"c":1}', d = 1 }, "max_depth 2")
h.equal(util.table_to_fields({ a = { b = { c = 1 } } }, {}, nil, nil, 3), { ["a.b.c"] = 1 },
    "max_depth 3 (not reached)")
h.equal(util.table_to_fields({ a = { 1, 2 } }, {}, nil, nil, 1), { a = "[1,2]" },
    "max_depth applies to arrays")

-- numeric keys of a top-level array
h.equal(util.table_to_fields({ { a = 1 }, { a = 2 } }, {}), { ["1.a"] = 1, ["2.a"] = 2 },
    "top-level array")
-- non-table input leaves fields alone
h.equal(util.table_to_fields("x", {}), {}, "non-table input")

----------------------------------------------------------------------------------------------
-- table_to_message
local tmap = {
    time = { header = "Timestamp" },
    host = { header = "Hostname" },
    sev = { header = "Severity" },
    size = { field = "size", type = "int", representation = "MiB" },
    ratio = { field = "ratio", type = "double" },
    flag = { field = "flag", type = "boolean" },
    code = { field = "code", type = "string" },
    ["req.path"] = { field = "path", representation = "uri" },
}
local msg = util.table_to_message({ time = 1389337496000000000, host = "web1", sev = "3",
    size = "12.7", ratio = "0.5", flag = "true", code = 404, req = { path = "/x", verb = "GET" },
    other = "o" }, tmap)
h.equal(msg, {
    Timestamp = 1389337496000000000, Hostname = "web1", Severity = 3,
    Fields = {
        size = { value = 12, representation = "MiB", value_type = 2 },
        ratio = { value = 0.5, value_type = 3 },
        flag = { value = true, value_type = 4 },
        code = { value = "404", value_type = 0 },
        path = { value = "/x", representation = "uri" },
        ["req.verb"] = "GET",
        other = "o",
    },
}, "table_to_message")

-- without a map everything becomes fields
h.equal(util.table_to_message({ a = 1, b = { c = "x" }, l = { 1, 2 } }),
    { Fields = { a = 1, ["b.c"] = "x", l = { 1, 2 } } }, "table_to_message without map")
-- into an existing message, with a parent prefix
local m2 = { Type = "t", Fields = { keep = 1 } }
util.table_to_message({ a = 1 }, nil, m2, "p")
h.equal(m2, { Type = "t", Fields = { keep = 1, ["p.a"] = 1 } }, "table_to_message msg + parent")
