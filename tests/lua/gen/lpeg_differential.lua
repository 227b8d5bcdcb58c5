-- Generates tests/lua/lpeg_differential_test.lua: random LPeg patterns (in the expression
-- language of tests/lua/lpeg_expr.lua) matched under C LPeg against random short subjects,
-- with the results C LPeg gives. Run from the repository root:
--   lua5.1 tests/lua/gen/lpeg_differential.lua > tests/lua/lpeg_differential_test.lua
-- Deterministic: its own random generator, fixed seed; an optional argument sets the number
-- of patterns. Leaves out what depends on C LPeg's optimizer or hits its bugs (see
-- `optimizer_dependent`, the predicate rule in gen_pattern and the notes at the end of
-- tests/lua/lpeg_test.lua): patterns are small, subjects short. LPEG_GEN_TRACE=1 prints each
-- pattern to stderr before it is built (to find one that crashes C LPeg).
local here = string.match(arg and arg[0] or "", "^(.*)/gen/[^/]*$") or "tests/lua"
package.path = here .. "/?.lua;" .. package.path
local lpeg = require "lpeg"
local X = require "lpeg_expr"

local PATTERNS = tonumber(arg and arg[1]) or 5000
local SUBJECTS = 6

------------------------------------------------------------------------ random
local seed = 20240607
-- Park-Miller minimal standard generator: an integer in 1..n.
local function rand(n)
    seed = (seed * 16807) % 2147483647
    return seed % n + 1
end
local function pick(list) return list[rand(#list)] end
local function chance(percent) return rand(100) <= percent end

local ALPHABET = { "a", "b", "c" }

local function word(min, max)
    local n = min + rand(max - min + 1) - 1
    local t = {}
    for i = 1, n do t[i] = pick(ALPHABET) end
    return table.concat(t)
end

local function q(s) return string.format("%q", s) end

------------------------------------------------------------------------ patterns
local gen_pattern

-- A pattern with no captures and a fixed length (for B).
local function fixed()
    return pick {
        function() return "P(" .. q(word(1, 2)) .. ")" end,
        function() return "S(" .. q(word(1, 3)) .. ")" end,
        function() return "P(" .. rand(2) .. ")" end,
        function() return "add(P(" .. q(pick(ALPHABET)) .. ")," .. q(pick(ALPHABET)) .. ")" end,
        function() return "unm(P(" .. q(word(1, 2)) .. "))" end,
    }()
end

local function constant()
    return pick { "nil", "1", "2.5", q("k"), "true", "false", q("") }
end

local function leaf(ctx)
    local r = rand(100)
    if r <= 22 then return "P(" .. q(word(1, 3)) .. ")" end
    if r <= 32 then return "S(" .. q(word(0, 3)) .. ")" end
    if r <= 37 then return "R(" .. q(pick(ALPHABET) .. pick(ALPHABET)) .. ")" end
    if r <= 45 then return "P(" .. pick { "0", "1", "2", "-1", "-2" } .. ")" end
    if r <= 48 then return "P(" .. pick { "true", "false" } .. ")" end
    if r <= 55 then return "Cp()" end
    if r <= 63 then
        local n, vals = rand(3) - 1, {}
        for i = 1, n do vals[i] = constant() end
        return "Cc(" .. table.concat(vals, ",") .. ")"
    end
    if r <= 67 then return "Carg(" .. pick { 1, 1, 2, 3 } .. ")" end
    if r <= 70 then return "Cb(" .. q(pick { "n1", "n2" }) .. ")" end
    if r <= 75 and not ctx.no_cmt then
        return "P(fn(" .. q(pick { "t", "f", "pos", "next", "even" }) .. "))"
    end
    if ctx.rules and r <= 92 then return "V(" .. q(pick(ctx.rules)) .. ")" end
    if r == 100 and chance(30) then return "V(" .. q("Z") .. ")" end
    return "P(" .. q(pick(ALPHABET)) .. ")"
end

-- An operand of a binary operator: usually a pattern, sometimes a plain Lua value.
local function operand(ctx, depth)
    local r = rand(100)
    if r <= 80 then return gen_pattern(ctx, depth) end
    if r <= 88 then return q(word(0, 2)) end
    if r <= 93 then return pick { "0", "1", "2", "-1" } end
    if r <= 96 then return pick { "true", "false" } end
    if r <= 98 and not ctx.no_cmt then return "fn(" .. q(pick { "t", "pos", "even" }) .. ")" end
    return "tbl(1," .. gen_pattern({ no_cmt = ctx.no_cmt }, depth) .. ")"
end

local function binary(name, ctx, depth)
    -- p1 - p2 is -p2 * p1: p2 is under a predicate
    local a, b = operand(ctx, depth), operand(name == "sub" and { no_cmt = true } or ctx, depth)
    -- at least one side must be a pattern for the operator to apply
    local function is_plain(e)
        return string.find(e, '^"') or string.find(e, "^%-?%d") or e == "true"
            or e == "false" or string.find(e, "^fn%(") or string.find(e, "^tbl%(")
    end
    if is_plain(a) and is_plain(b) then a = "P(" .. a .. ")" end
    return name .. "(" .. a .. "," .. b .. ")"
end

local STRINGS = { "%0", "%1", "<%1|%2>", "%2%1", "x", "%%", "[%0]", "%1%1", "" }

gen_pattern = function(ctx, depth)
    if depth <= 0 or chance(20) then return leaf(ctx) end
    local d = depth - 1
    local r = rand(100)
    if r <= 16 then return binary("mul", ctx, d) end
    if r <= 28 then return binary("add", ctx, d) end
    if r <= 32 then return binary("sub", ctx, d) end
    if r <= 40 then
        return "pow(" .. gen_pattern(ctx, d) .. "," .. pick { 0, 0, 1, -1, -2, 3, 2 } .. ")"
    end
    -- No Cmt (nor rule calls, which may reach one) under a predicate: C LPeg 1.0.2 fails an
    -- assertion when a Cmt returning values succeeds inside #p, and whether C calls a Cmt
    -- there depends on its optimizer (it may skip a predicate by its first and follow sets).
    if r <= 43 then return "len(" .. gen_pattern({ no_cmt = true }, d) .. ")" end
    if r <= 46 then return "unm(" .. gen_pattern({ no_cmt = true }, d) .. ")" end
    if r <= 52 then return "C(" .. gen_pattern(ctx, d) .. ")" end
    if r <= 57 then
        local name = pick { "", "", ',"n1"', ',"n2"' }
        return "Cg(" .. gen_pattern(ctx, d) .. name .. ")"
    end
    if r <= 62 then return "Ct(" .. gen_pattern(ctx, d) .. ")" end
    if r <= 66 then return "Cs(" .. gen_pattern(ctx, d) .. ")" end
    if r <= 69 then return "Cf(" .. gen_pattern(ctx, d) .. ',"fold")' end
    if r <= 74 and not ctx.no_cmt then
        local f = pick { "t", "f", "pos", "next", "back", "vals", "args", "even", "t", "vals" }
        return "Cmt(" .. gen_pattern(ctx, d) .. "," .. q(f) .. ")"
    end
    if r <= 78 then return "div(" .. gen_pattern(ctx, d) .. "," .. q(pick(STRINGS)) .. ")" end
    if r <= 81 then return "div(" .. gen_pattern(ctx, d) .. "," .. pick { 0, 1, 2, 3 } .. ")" end
    if r <= 84 then return "divt(" .. gen_pattern(ctx, d) .. "," .. q(pick { "t1", "t2" }) .. ")" end
    if r <= 88 then
        local f = pick { "cat", "count", "none", "nil", "two", "tab" }
        return "divf(" .. gen_pattern(ctx, d) .. "," .. q(f) .. ")"
    end
    if r <= 91 then
        -- B: usually of a fixed-length pattern, sometimes of anything
        if chance(80) then return "B(" .. fixed() .. ")" end
        return "B(" .. gen_pattern(ctx, d) .. ")"
    end
    if r <= 95 and not ctx.rules then
        -- a small grammar: rules A, B (and C), A the initial rule, by name or at [1]
        local names = { "A", "B" }
        if chance(30) then names[3] = "C" end
        local inner = { rules = names, no_cmt = ctx.no_cmt }
        local function rule()
            local body = gen_pattern(inner, 2)
            -- mostly consume before the body, so left recursion stays the exception
            if chance(75) then return "mul(P(" .. q(pick(ALPHABET)) .. ")," .. body .. ")" end
            return body
        end
        local parts = {}
        if chance(70) then
            parts[1] = '1,"A"'
            for _, n in ipairs(names) do parts[#parts + 1] = q(n) .. "," .. rule() end
        else
            parts[1] = "1," .. rule()
            for i = 2, #names do parts[#parts + 1] = q(names[i]) .. "," .. rule() end
            -- rule A is at [1]: references to "A" must be V(1)
            for i = 1, #parts do parts[i] = parts[i]:gsub('V%("A"%)', "V(1)") end
        end
        return "P(tbl(" .. table.concat(parts, ",") .. "))"
    end
    return leaf(ctx)
end

------------------------------------------------------------------------ dead branches
-- C LPeg builds p1 + p2 as p1 alone when p1 cannot fail, so it never sees a V in p2 (no
-- "undefined", "left recursive" or "used outside a grammar" error): an optimisation, left
-- out of the test. `nofail` follows C LPeg's analysis at construction time (conservative:
-- grammars count as "cannot fail").
local nofail

local function value_nofail(v)
    if type(v) == "string" then return v == "" end
    if type(v) == "number" then return v == 0 end
    return v == true
end

local NOFAIL = {
    P = function(args) return args[1].k == "value" and value_nofail(args[1].v)
        or args[1].k == "call" and nofail(args[1]) end,
    Cc = function() return true end, Cp = function() return true end,
    Carg = function() return true end, Cb = function() return true end,
    C = function(args) return nofail(args[1]) end, Cg = function(args) return nofail(args[1]) end,
    Ct = function(args) return nofail(args[1]) end, Cs = function(args) return nofail(args[1]) end,
    Cf = function(args) return nofail(args[1]) end, div = function(args) return nofail(args[1]) end,
    divt = function(args) return nofail(args[1]) end, divf = function(args) return nofail(args[1]) end,
    len = function(args) return nofail(args[1]) end,
    mul = function(args) return nofail(args[1]) and nofail(args[2]) end,
    add = function(args) return nofail(args[1]) or nofail(args[2]) end,
    pow = function(args) return args[2].v <= 0 end,
    tbl = function() return true end,
}

nofail = function(node)
    if node.k == "value" then return value_nofail(node.v) end
    local f = NOFAIL[node.name]
    return f ~= nil and f(node.args) or false
end

local function has_open_v(node)
    if node.k ~= "call" or node.name == "tbl" then return false end
    if node.name == "V" then return true end
    for _, a in ipairs(node.args) do
        if has_open_v(a) then return true end
    end
    return false
end

-- Whether some p1 + p2 in the expression has a p1 that cannot fail and a V in p2.
local function dead_v(node)
    if node.k ~= "call" then return false end
    if node.name == "add" and nofail(node.args[1]) and has_open_v(node.args[2]) then
        return true
    end
    for _, a in ipairs(node.args) do
        if dead_v(a) then return true end
    end
    return false
end

-- Whether the expression has a p1 + p2 with a p1 that cannot fail anywhere below `node`
-- (under B, C LPeg's fixed length and capture checks see p1 alone).
local function has_nofail_choice(node)
    if node.k ~= "call" then return false end
    if node.name == "add" and nofail(node.args[1]) then return true end
    for _, a in ipairs(node.args) do
        if has_nofail_choice(a) then return true end
    end
    return false
end

local function dead_b(node)
    if node.k ~= "call" then return false end
    -- (and a V under B trips an assertion in C LPeg 1.0.2's capture check)
    if node.name == "B" and (has_nofail_choice(node.args[1]) or has_open_v(node.args[1])) then
        return true
    end
    for _, a in ipairs(node.args) do
        if dead_b(a) then return true end
    end
    return false
end

-- C LPeg does not check the rules of a grammar that no V refers to (an empty loop there
-- goes unnoticed): grammars must use all their rules.
local function calls(node, out)
    if node.k ~= "call" then return out end
    if node.name == "V" and node.args[1].k == "value" then out[node.args[1].v] = true end
    if node.name ~= "tbl" then
        for _, a in ipairs(node.args) do calls(a, out) end
    end
    return out
end

local function unused_rule(node)
    if node.k ~= "call" then return false end
    if node.name == "tbl" then
        local used = {}
        for i = 2, #node.args, 2 do calls(node.args[i], used) end
        local initial = 1
        if node.args[2].k == "value" and type(node.args[2].v) == "string" then
            initial = node.args[2].v
        end
        for i = 1, #node.args, 2 do
            local key = node.args[i].v
            if key ~= 1 and key ~= initial and not used[key] then return true end
        end
    end
    for _, a in ipairs(node.args) do
        if unused_rule(a) then return true end
    end
    return false
end

-- C LPeg 1.0.2's left recursion check stops at a grammar nested in a rule (-g * V"A" is
-- not seen as left recursive): no grammars inside grammars.
local function has_grammar(node)
    if node.k ~= "call" then return false end
    if node.name == "tbl" then return true end
    for _, a in ipairs(node.args) do
        if has_grammar(a) then return true end
    end
    return false
end

local function nested_grammar(node)
    if node.k ~= "call" then return false end
    if node.name == "tbl" then
        for i = 2, #node.args, 2 do
            if has_grammar(node.args[i]) then return true end
        end
    end
    for _, a in ipairs(node.args) do
        if nested_grammar(a) then return true end
    end
    return false
end

-- Patterns whose C LPeg result depends on what its constructors leave out, or that hit
-- C LPeg bugs.
local function optimizer_dependent(text)
    local node = X.parse(text)
    return dead_v(node) or dead_b(node) or unused_rule(node) or nested_grammar(node)
end

------------------------------------------------------------------------ cases
local function subject()
    local n = pick { 0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 6 }
    return word(n, n)
end

local function build(text)
    local ok, p = pcall(X.build, text)
    if not ok then return nil, "!" .. X.core(p) end
    return p
end

local cases, kept, construct_errors = {}, 0, 0
local seen = {}
while kept < PATTERNS do
    local text = gen_pattern({}, 1 + rand(4))
    if not seen[text] and not optimizer_dependent(text) then
        seen[text] = true
        if os.getenv("LPEG_GEN_TRACE") then io.stderr:write(text, "\n") end
        local p, err = build(text)
        -- keep some construction errors, not too many
        if p or chance(15) then
            local entry = { q(text) }
            if not p then
                construct_errors = construct_errors + 1
                entry[2] = "false"
                entry[3] = q(err)
            else
                -- prefer subjects the pattern matches (and different results), then
                -- fill up with random ones; the last one has an init
                local tried, matched, others, results = {}, {}, {}, {}
                for _ = 1, 100 do
                    local s = subject()
                    if not tried[s] then
                        tried[s] = true
                        local r = X.result(p, s, nil, X.EXTRA[1], X.EXTRA[2])
                        if r ~= "1:nil" and not results[r] then
                            results[r] = true
                            matched[#matched + 1] = { s, r }
                        else
                            others[#others + 1] = { s, r }
                        end
                    end
                end
                local chosen = {}
                for i = 1, math.min(#matched, SUBJECTS - 2) do chosen[#chosen + 1] = matched[i] end
                for i = 1, #others do
                    if #chosen >= SUBJECTS - 1 then break end
                    chosen[#chosen + 1] = others[i]
                end
                for _, c in ipairs(chosen) do
                    entry[#entry + 1] = q(c[1])
                    entry[#entry + 1] = q(c[2])
                end
                local s, init = subject(), pick { -2, 0, 2, 3, 8 }
                local r = X.result(p, s, init, X.EXTRA[1], X.EXTRA[2])
                entry[#entry + 1] = "{" .. q(s) .. "," .. init .. "}"
                entry[#entry + 1] = q(r)
            end
            cases[#cases + 1] = "{" .. table.concat(entry, ",") .. "}"
            kept = kept + 1
        end
    end
end

io.write([[
-- GENERATED by tests/lua/gen/lpeg_differential.lua under C LPeg 1.0.2 (do not edit):
--   lua5.1 tests/lua/gen/lpeg_differential.lua > tests/lua/lpeg_differential_test.lua
-- Random patterns in the expression language of tests/lua/lpeg_expr.lua, each with the
-- results C LPeg gives for a few subjects ({subject, init} when init is given; every match
-- also gets the extra arguments "X1", "X2"). A result is "count:values" or "!error core";
-- a pattern C LPeg refuses to build has false and the error instead.
local X = require "lpeg_expr"

local failures, shown, checked = 0, {}, 0

local function fail(text, what)
    failures = failures + 1
    if #shown < 60 then shown[#shown + 1] = text .. "\n    " .. what end
end

-- Compares our result with C LPeg's: equal text, or both errors with C's core text in ours.
local function check(text, subject, init, want, got)
    checked = checked + 1
    if string.sub(want, 1, 1) == "!" then
        if string.sub(got, 1, 1) == "!" and string.find(got, string.sub(want, 2), 2, true) then
            return
        end
    elseif got == want then
        return
    end
    got = string.match(got, "^[^\n]*") -- no traceback
    fail(text, string.format("match(%q, %s): got %s, want %s", subject, tostring(init), got, want))
end

local function run(case)
    local text = case[1]
    local ok, p = pcall(X.build, text)
    if case[2] == false then
        if ok then
            fail(text, "built, want error " .. case[3])
        elseif not string.find(tostring(p), string.sub(case[3], 2), 1, true) then
            fail(text, "build error " .. tostring(p) .. ", want " .. case[3])
        end
        return
    end
    if not ok then
        fail(text, "build error " .. tostring(p))
        return
    end
    for i = 2, #case, 2 do
        local s, init = case[i], nil
        if type(s) == "table" then s, init = s[1], s[2] end
        check(text, s, init, case[i + 1], X.result(p, s, init, X.EXTRA[1], X.EXTRA[2]))
    end
end

local CASES = {
]])
io.write(table.concat(cases, ",\n"))
io.write([[

}

for _, case in ipairs(CASES) do run(case) end
if failures > 0 then
    error(failures .. " of " .. checked .. " differential checks failed (first "
        .. #shown .. "):\n" .. table.concat(shown, "\n"), 0)
end
]])
io.stderr:write(string.format("%d patterns (%d construction errors)\n", kept, construct_errors))
