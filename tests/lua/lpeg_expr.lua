-- A tiny expression language for LPeg patterns, used by the differential test
-- (tests/lua/lpeg_differential_test.lua) and its generator (tests/lua/gen/lpeg_differential.lua):
-- patterns are written as text (no loadstring: sandboxes lack it), built by `build`, and
-- match results are turned into comparable text by `result`.
--
-- Syntax: expr := "string" | number | true | false | nil | name(expr, ...)
--   P S R V B C Cc Cg Cb Ct Cs Cp Carg   the lpeg functions of that name
--   Cf(p, "fname") Cmt(p, "fname")        with a fixed function of FUNCTIONS by name
--   mul add sub pow(a, b)                 a * b, a + b, a - b, a ^ b
--   len(a) unm(a)                         #a, -a
--   div(a, x)                             a / x (x a string or a number)
--   divt(a, "tname") divf(a, "fname")     a / TABLES[tname], a / FUNCTIONS[fname]
--   tbl(k1, v1, k2, v2, ...)              a plain table { [k1] = v1, ... } (grammars)
--   fn("fname")                           the function FUNCTIONS[fname] itself
-- Strings use "..." with \" \\ and \ddd escapes only.
local lpeg = require "lpeg"

local M = {}

------------------------------------------------------------------------ values as text
-- Deterministic text of a value: tables with their keys sorted, numbers as %.14g.
local function ser(v)
    local t = type(v)
    if t == "string" then return string.format("%q", v) end
    if t == "number" then return string.format("%.14g", v) end
    if t == "nil" or t == "boolean" then return tostring(v) end
    if t == "table" then
        local keys = {}
        for k in pairs(v) do keys[#keys + 1] = k end
        local text = {}
        for i, k in ipairs(keys) do text[i] = { ser(k), k } end
        table.sort(text, function(a, b) return a[1] < b[1] end)
        local out = {}
        for i, e in ipairs(text) do out[i] = "[" .. e[1] .. "]=" .. ser(v[e[2]]) end
        return "{" .. table.concat(out, ",") .. "}"
    end
    if lpeg.type(v) == "pattern" then return "pattern" end
    return t
end
M.ser = ser

-- Text of all the values given, with their count: "n:v1,v2".
function M.values(...)
    local out = {}
    for i = 1, select("#", ...) do out[i] = ser((select(i, ...))) end
    return select("#", ...) .. ":" .. table.concat(out, ",")
end

-- The core of an error message: C LPeg's "bad argument #n to 'f' (text)" gives "text";
-- a "file:line: " prefix is dropped.
function M.core(err)
    err = tostring(err)
    local inner = string.match(err, "^.-bad argument #%d+ to '[^']*' %((.*)%)$")
    if inner then return inner end
    return (string.gsub(err, "^[^%s:]+:%d+: ", ""))
end

------------------------------------------------------------------------ fixed functions
-- Shows arguments compactly (strings bare, other values as ser).
local function show(...)
    local out = {}
    for i = 1, select("#", ...) do
        local v = select(i, ...)
        out[i] = type(v) == "string" and v or ser(v)
    end
    return table.concat(out, ",")
end

M.FUNCTIONS = {
    -- folds and function captures
    fold = function(acc, ...) return "(" .. show(acc, ...) .. ")" end,
    cat = function(...) return "<" .. show(...) .. ">" end,
    count = function(...) return select("#", ...), ... end,
    none = function() end,
    ["nil"] = function() return nil end,
    two = function(a) return a, "2" end,
    tab = function(...) return { n = select("#", ...), ... } end,
    -- match-time functions: (subject, position, captures...)
    t = function() return true end,
    f = function() return false end,
    pos = function(_, i) return i end,
    next = function(_, i) return i + 1 end,
    back = function(_, i) return i - 1 end,
    vals = function(_, _, ...)
        local n = select("#", ...)
        local out = {}
        for k = 1, n do out[k] = (select(n - k + 1, ...)) end
        return true, unpack(out, 1, n)
    end,
    args = function(s, i, ...) return true, #s, i, select("#", ...) end,
    even = function(_, i) return i % 2 == 0 end,
}

M.TABLES = {
    t1 = { a = "A", b = 1, ab = "AB", c = false },
    t2 = { [1] = "one", [2] = false, ["1"] = "str1", x = "X" },
}

------------------------------------------------------------------------ parser
local function parse_error(text, at, what)
    error("lpeg_expr: " .. what .. " at " .. at .. " in " .. text, 0)
end

-- Parses the expression at `at`; returns a node and the next position.
-- Nodes: { k = "value", v = ... } or { k = "call", name = "...", args = { ... } }.
local function parse(text, at)
    at = string.find(text, "%S", at) or #text + 1
    local c = string.sub(text, at, at)
    if c == '"' then
        local out, i = {}, at + 1
        while true do
            local ch = string.sub(text, i, i)
            if ch == "" then parse_error(text, at, "unfinished string") end
            if ch == '"' then break end
            if ch == "\\" then
                local nx = string.sub(text, i + 1, i + 1)
                local digits = string.match(text, "^%d%d?%d?", i + 1)
                if digits then
                    out[#out + 1] = string.char(tonumber(digits))
                    i = i + 1 + #digits
                else
                    out[#out + 1] = nx == "n" and "\n" or nx
                    i = i + 2
                end
            else
                out[#out + 1] = ch
                i = i + 1
            end
        end
        return { k = "value", v = table.concat(out) }, i + 1
    end
    local num = string.match(text, "^%-?%d+%.?%d*", at)
    if num then return { k = "value", v = tonumber(num) }, at + #num end
    local name = string.match(text, "^[%a_][%w_]*", at)
    if not name then parse_error(text, at, "unexpected character") end
    local after = at + #name
    if name == "true" then return { k = "value", v = true }, after end
    if name == "false" then return { k = "value", v = false }, after end
    if name == "nil" then return { k = "value", v = nil, is_nil = true }, after end
    if string.sub(text, after, after) ~= "(" then parse_error(text, after, "expected (") end
    local node = { k = "call", name = name, args = {} }
    local i = string.find(text, "%S", after + 1) or #text + 1
    if string.sub(text, i, i) == ")" then return node, i + 1 end
    while true do
        local arg
        arg, i = parse(text, i)
        node.args[#node.args + 1] = arg
        i = string.find(text, "%S", i) or #text + 1
        local sep = string.sub(text, i, i)
        if sep == ")" then return node, i + 1 end
        if sep ~= "," then parse_error(text, i, "expected , or )") end
        i = i + 1
    end
end

local function named(map, key, what)
    local v = map[key]
    if v == nil then error("lpeg_expr: unknown " .. what .. " " .. tostring(key), 0) end
    return v
end

local OPS = {
    P = lpeg.P, S = lpeg.S, R = lpeg.R, V = lpeg.V, B = lpeg.B, C = lpeg.C, Cc = lpeg.Cc,
    Cg = lpeg.Cg, Cb = lpeg.Cb, Ct = lpeg.Ct, Cs = lpeg.Cs, Cp = lpeg.Cp, Carg = lpeg.Carg,
    Cf = function(p, f) return lpeg.Cf(p, named(M.FUNCTIONS, f, "function")) end,
    Cmt = function(p, f) return lpeg.Cmt(p, named(M.FUNCTIONS, f, "function")) end,
    mul = function(a, b) return a * b end,
    add = function(a, b) return a + b end,
    sub = function(a, b) return a - b end,
    pow = function(a, b) return a ^ b end,
    len = function(a) return #a end,
    unm = function(a) return -a end,
    div = function(a, x) return a / x end,
    divt = function(a, t) return a / named(M.TABLES, t, "table") end,
    divf = function(a, f) return a / named(M.FUNCTIONS, f, "function") end,
    fn = function(f) return named(M.FUNCTIONS, f, "function") end,
}

local function eval(node)
    if node.k == "value" then return node.v end
    local args, n = {}, #node.args
    for i = 1, n do args[i] = eval(node.args[i]) end
    if node.name == "tbl" then
        local t = {}
        for i = 1, n, 2 do t[args[i]] = args[i + 1] end
        return t
    end
    local op = named(OPS, node.name, "operation")
    return op(unpack(args, 1, n))
end

--- The syntax tree of the expression `text` (see parse).
function M.parse(text)
    local node, after = parse(text, 1)
    if string.find(text, "%S", after) then parse_error(text, after, "trailing text") end
    return node
end

--- The value (pattern, or plain value) the expression `text` describes; errors of the
--- lpeg functions it calls propagate.
function M.build(text)
    return eval(M.parse(text))
end

--- Text of what lpeg.match(p, subject, init, ...) gives: "n:values" or "!error core".
function M.result(p, subject, init, ...)
    local function pack_result(ok, ...)
        if not ok then return "!" .. M.core((...)) end
        return M.values(...)
    end
    return pack_result(pcall(lpeg.match, p, subject, init, ...))
end

--- Extra arguments every differential match gets (for Carg).
M.EXTRA = { "X1", "X2" }

return M
