-- lua-cjson reference cases for src/sandbox/cjson.rs (test `matches_lua_cjson_reference`).
--
-- cjson_cases.out is this script's output under the lua-cjson that Heka ran: trink/lua-cjson
-- 03189f8 ("Default to discarding NULL JSON values", the commit lua_sandbox pinned), built
-- against Lua 5.1.5 on x86-64 with a global `cjson`. Every call goes through pcall, so its
-- "bad argument" messages name the function '?'.

local out = {}
local function dump(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "table" then
    if depth > 50 then return "<deep>" end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return type(a) .. tostring(a) < type(b) .. tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = "[" .. dump(k, depth + 1) .. "]=" .. dump(v[k], depth + 1) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then return string.format("%q", v)
  elseif t == "number" then return t .. ":" .. string.format("%.17g", v)
  else return t .. ":" .. tostring(v) end
end
local function try(label, f, ...)
  local r = { pcall(f, ...) }
  local parts = {}
  for i = 2, select("#", unpack(r)) do parts[#parts + 1] = dump(r[i]) end
  out[#out + 1] = label .. " => " .. tostring(r[1]) .. " " .. table.concat(parts, " ")
end
local function D(s) try("decode " .. string.format("%q", s), cjson.decode, s) end
local function E(label, v) try("encode " .. label, cjson.encode, v) end

-- decode
local dec = {
  '', ' ', 'x', 'tru', 'true', 'false', 'null', 'nul', '{', '}', '[', ']', '{}', '[]', '[[]]', '{"a":{}}',
  '{1:2}', '{"a":1,}', '{"a" 1}', '{"a":1 "b":2}', '{"a":1,"a":2}', '{"a":1,"a":null}', '[1 2]', '[1,]', '[,1]', '[:]',
  '[1] x', '[1] [2]', '1 true', 'null null', '[truex]', '[true,false,null]', '[null]', '[null,null,1]', '{"x":null}',
  '"abc', '["a\\x"]', '"\\u12"', '"\\udc00"', '"ab\\ud800x"', '"\\ud800\\u0041"', '"\\ud800\\udbff"', '"\\ud83d\\ude00"',
  '"\\u0000"', '"\\u00e9\\u20ac"', '"\\/\\"\\\\\\b\\f\\n\\r\\t"', '"\\u00E9"', '"\\uD834\\uDD1E"', '"a\tb"', '"a\1b"', '"\127\255"',
  '-', '+x', '+1', '-1', '01', '-01', '00', '0x10', '0X1f', '-0x10', '0x', '0x.', '0x1.8p1', '0x1p-3', '0x.8', '1.', '1.e2', '-.5', '.5', '1e', '1e+', '1e5', '1E-2',
  '1e400', '-1e400', '1e-400', 'inf', 'Inf', '-inf', 'infinity', '-Infinity', 'INFINITY', 'infinit', 'nan', 'NaN', '-nan', 'nan(123)', 'nan(', 'NAN(abc_1)', 'nil', 'n',
  '123456789012345678901234567890', '0.1', '3.14159', '-0', '-0.0', '1.5e300', '[1e]', '[-]', '[1,-]', '[0x]', '[1.2.3]', '1 2',
  ' \t\r\n[ 1 , 2 ] \n', '[1\0]', '"a\0b"', '\0', 'a\0', '\0\0', '{"a":[1,{"b":[2,{"c":3}]}]}', '[[[[[[1]]]]]]',
  '{"k": "v", "n": 5, "arr": [1, 2.5, "s", true, false, null, {"z": null}]}', '{"":1}', '["\\u0041\\u0042"]', '"\\u004"', '"\\u004G"', '"\\', '"\\"',
  '{"a":1}}', '[1]]', '"x"y', '\239\187\191[1]', '[1,\n2,\n3 4]', '\f[1]', '\v1',
}
for _, s in ipairs(dec) do D(s) end
D(string.rep("[", 1000) .. string.rep("]", 1000))
D(string.rep("[", 1001) .. string.rep("]", 1001))
D(string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001))
try("decode number arg", cjson.decode, 42)
try("decode table arg", cjson.decode, {})
try("decode nil arg", cjson.decode, nil)
try("decode no arg", cjson.decode)
try("decode two args", cjson.decode, "1", "2")

-- encode
local nums = { 0, 1, -1, 200, 0.1, 0.1 + 0.2, 1/3, 2/3, 1392050801123.5, 1e14, 1e15, 1e20, 1e21, 1e-4, 1e-5, 5e-324, 1.7976931348623157e308,
  123456789012345678, 2^53, 2^63, -2^63, 2^64, 0.5, 2.5, 1e100, 9.99999999999995, 99999999999999.5, 1234567.891, -0.0 }
for _, n in ipairs(nums) do E(string.format("%.17g", n), n); E("[" .. string.format("%.17g", n) .. "]", { n }) end
E("nan", 0/0) E("inf", math.huge) E("-inf", -math.huge) E("{inf}", {math.huge})
E("key inf", {[math.huge] = 1}) E("key -inf", {[-math.huge] = 1})
E("nil", nil) E("true", true) E("false", false) E("null", cjson.null) E("{}", {}) E("str", "hello")
local all = {} for i = 0, 255 do all[#all + 1] = string.char(i) end
E("all bytes", table.concat(all))
E("sparse 1", {[1]=1,[2]=2,[4]=4}) E("sparse 10", {[10]=1}) E("sparse 11", {[11]=1}) E("sparse 20", {[20]=1})
E("sparse 3of6", {[1]=1,[2]=1,[6]=1}) E("sparse 11 items 6", {1,2,3,4,5,[11]=1})
E("key 0", {[0]=1}) E("key -1", {[-1]=1}) E("key 1.5", {[1.5]=1}) E("key 2^40", {[2^40]=1}) E("key 1e300", {[1e300]=1})
E("mixed", {1, 2, x = 3}) E("key bool", {[true]=1}) E("function", print) E("thread", coroutine.create(function() end))
E("{function}", {print}) E("userdata", newproxy and newproxy() or io.stdout) E("nested", {a = {b = {c = {1, 2, {d = "e"}}}}})
E("{nil,2}", {nil, 2}) E("{1,nil,3}", {1, nil, 3}) E("{n=cjson.null}", {n = cjson.null})
local selfref = {} selfref[1] = selfref E("selfref array", selfref)
local selfobj = {} selfobj.me = selfobj E("selfref object", selfobj)
try("encode no arg", cjson.encode)
try("encode two args", cjson.encode, 1, 2)

-- config
try("sparse()", cjson.encode_sparse_array)
try("sparse(true)", cjson.encode_sparse_array, true)
E("sparse 20 convert", {[20]=1})
E("sparse 2^40 convert", {[2^40]=1})
try("sparse(false, 0)", cjson.encode_sparse_array, false, 0)
E("sparse 12 ratio0", {[12]=1})
try("sparse('on', 3, 5)", cjson.encode_sparse_array, "on", 3, 5)
try("sparse('maybe')", cjson.encode_sparse_array, "maybe")
try("sparse(1)", cjson.encode_sparse_array, 1)
try("sparse({})", cjson.encode_sparse_array, {})
try("sparse(nil, -1)", cjson.encode_sparse_array, nil, -1)
try("sparse(nil, 'x')", cjson.encode_sparse_array, nil, "x")
try("sparse(nil, '7')", cjson.encode_sparse_array, nil, "7")
try("sparse(nil, 2.9)", cjson.encode_sparse_array, nil, 2.9)
try("sparse 4 args", cjson.encode_sparse_array, 1, 2, 3, 4)
try("sparse reset", cjson.encode_sparse_array, false, 2, 10)
try("emd()", cjson.encode_max_depth)
try("emd(3)", cjson.encode_max_depth, 3)
E("depth 3", {{{1}}}) E("depth 4", {{{{1}}}})
try("emd(0)", cjson.encode_max_depth, 0)
try("emd(1000)", cjson.encode_max_depth, 1000)
try("dmd(2)", cjson.decode_max_depth, 2)
D('{"a":[{"b":1}]}') D('[[1]]') D('[[[1]]]')
try("dmd(1000)", cjson.decode_max_depth, 1000)
try("enp()", cjson.encode_number_precision)
try("enp(3)", cjson.encode_number_precision, 3)
E("pi p3", math.pi) E("1234.5 p3", 1234.5) E("0.0001234 p3", 0.0001234) E("key 1.2345 p3", {[1.2345] = 1})
try("enp(15)", cjson.encode_number_precision, 15)
try("enp(0)", cjson.encode_number_precision, 0)
try("enp(1)", cjson.encode_number_precision, 1)
E("pi p1", math.pi) E("15 p1", 15) E("0.95 p1", 0.95)
try("enp(14)", cjson.encode_number_precision, 14)
try("eiv()", cjson.encode_invalid_numbers)
try("eiv(true)", cjson.encode_invalid_numbers, true)
E("inv on", {0/0, math.huge, -math.huge, [math.huge] = 1})
try("eiv('null')", cjson.encode_invalid_numbers, "null")
E("inv null", {0/0, math.huge})
try("eiv('bad')", cjson.encode_invalid_numbers, "bad")
try("eiv(false)", cjson.encode_invalid_numbers, false)
try("div()", cjson.decode_invalid_numbers)
try("div(false)", cjson.decode_invalid_numbers, false)
for _, s in ipairs({'01', '-01', '0x10', '+1', 'inf', 'NaN', '-Infinity', '1.', '-.5', '[1,-inf]', 'nan'}) do D(s) end
try("div('on')", cjson.decode_invalid_numbers, "on")
try("dn()", cjson.decode_null)
try("dn(true)", cjson.decode_null, true)
D('[1,null,3]') D('{"a":null}') D('null')
try("dn('off')", cjson.decode_null, "off")
try("dn(1)", cjson.decode_null, 1)
out[#out + 1] = "fields " .. tostring(cjson._NAME) .. " " .. tostring(cjson.null) .. " " .. type(cjson.null)
return table.concat(out, "\n") .. "\n"
