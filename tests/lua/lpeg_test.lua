-- LPeg 1.0 semantics, case by case from the LPeg manual, with C LPeg 1.0.2 (Debian's
-- lua-lpeg under lua5.1) as the reference: every function, every operator with every kind
-- of operand, the exact values each capture gives (nil vs no value), grammars, look-behind,
-- locale classes, limits and error messages. Runs under tests/lua/run-reference (C LPeg)
-- and inside hekad's sandbox with the Rust engine (src/sandbox/lpeg/).
--
-- Every case runs even when an earlier one fails; the file then fails with the list of all
-- failing cases. Error messages are checked on the core text of C LPeg's message (no
-- "file:line:" prefix, no "bad argument #n to 'f'" part: function names differ).
-- Cases that depend on C LPeg's optimizer, or crash C LPeg, are left out (listed at the end).
local h = require "harness"
local lpeg = require "lpeg"

local P, S, R, V, B = lpeg.P, lpeg.S, lpeg.R, lpeg.V, lpeg.B
local C, Cc, Cg, Cb, Ct, Cf, Cs, Cp, Cmt, Carg =
    lpeg.C, lpeg.Cc, lpeg.Cg, lpeg.Cb, lpeg.Ct, lpeg.Cf, lpeg.Cs, lpeg.Cp, lpeg.Cmt, lpeg.Carg

local function pack(...) return { n = select("#", ...), ... } end

-- All results of lpeg.match(...), counted.
local function M(...) return pack(lpeg.match(...)) end

local failures = {}
local current, count = "?", 0

-- Records a failed check of the current case (named by the case and the check's number).
local function record(msg)
    failures[#failures + 1] = current .. " #" .. count .. ": " .. msg
end

-- Runs one case; a failed check is recorded and the case goes on; an error raised by the
-- case itself ends it (recorded too) and the next case runs.
local function case(name, f)
    current, count = name, 0
    local ok, err = pcall(f)
    if not ok then record("raised " .. tostring(err)) end
end

-- Checks that `got` (a pack) equals the values given.
local function is(got, ...)
    count = count + 1
    local ok, err = pcall(h.equal, got, pack(...), "result")
    if not ok then record(tostring(err)) end
end

-- Checks a single value.
local function same(got, want, label)
    count = count + 1
    local ok, err = pcall(h.equal, got, want, label or "value")
    if not ok then record(tostring(err)) end
end

-- Checks that f(...) raises an error whose text contains `core`.
local function fails(core, f, ...)
    count = count + 1
    local ok, err = pcall(f, ...)
    if ok then
        record("no error, want one containing " .. string.format("%q", core))
        return
    end
    err = tostring(err)
    if not string.find(err, core, 1, true) then
        record("error " .. string.format("%q", err) .. ", want one containing "
            .. string.format("%q", core))
    end
end

-- Checks that lpeg.match(...) raises an error containing `core`.
local function match_fails(core, ...)
    fails(core, lpeg.match, ...)
end

-- A fold/function that shows exactly what it was called with: "(a,b,...)".
local function show(...)
    local t = {}
    for i = 1, select("#", ...) do
        local v = select(i, ...)
        t[i] = type(v) == "string" and v or tostring(v)
    end
    return "(" .. table.concat(t, ",") .. ")"
end

------------------------------------------------------------------------ module
case("version", function()
    is(pack(lpeg.version()), "1.0.2")
end)

case("type", function()
    is(pack(lpeg.type(P"a")), "pattern")
    is(pack(lpeg.type("a")), nil)
    is(pack(lpeg.type(1)), nil)
    is(pack(lpeg.type({})), nil)
    is(pack(lpeg.type(nil)), nil)
    is(pack(lpeg.type(print or type)), nil)
    is(pack(lpeg.type(C"a" / "x")), "pattern")
end)

------------------------------------------------------------------------ lpeg.P
case("P string", function()
    is(M(P"abc", "abcd"), 4)
    is(M(P"abc", "ab"), nil)
    is(M(P"abc", "xabc"), nil)
    is(M(P"", ""), 1)
    is(M(P"", "xyz"), 1)
    is(M(P"a\0b", "a\0bc"), 4)
    is(M(P"a\0b", "a\0c"), nil)
    is(M(P"\255\128", "\255\128"), 3)
end)

case("P number", function()
    is(M(P(3), "abc"), 4)
    is(M(P(3), "abcd"), 4)
    is(M(P(3), "ab"), nil)
    is(M(P(0), ""), 1)
    is(M(P(0), "abc"), 1)
    is(M(P(1), ""), nil)
    is(M(P(-1), ""), 1)
    is(M(P(-1), "a"), nil)
    is(M(P(-3), "ab"), 1)
    is(M(P(-3), "abc"), nil)
    is(M(P(1) * P(-1), "a"), 2)
    is(M(P(2.0), "abc"), 3)
end)

case("P boolean", function()
    is(M(P(true), ""), 1)
    is(M(P(true), "abc"), 1)
    is(M(P(false), ""), nil)
    is(M(P(false), "abc"), nil)
end)

case("P pattern returns it unmodified", function()
    local p = P"abc"
    same(P(p) == p, true)
    is(M(P(p), "abc"), 4)
end)

case("P function is a match-time capture", function()
    -- P(f) == Cmt(true, f): f gets the subject, the position and the (empty) match.
    is(M(P(function(s, i, ...) return true, s, i, select("#", ...), ... end), "ab"),
        "ab", 1, 1, "")
    is(M(P"a" * P(function(s, i) return i + 1 end), "abc"), 3)
    is(M(P"a" * P(function() return false end), "abc"), nil)
    is(M(P(function(s, i) return i end) * "x", "xy"), 2)
end)

case("P errors", function()
    fails("lpeg-pattern expected", P, nil)
    fails("value expected", P)
    fails("lpeg-pattern expected", lpeg.match, nil, "a")
end)

------------------------------------------------------------------------ lpeg.S / lpeg.R
case("S", function()
    local p = S"abc"
    is(M(p, "a"), 2)
    is(M(p, "c"), 2)
    is(M(p, "d"), nil)
    is(M(p, ""), nil)
    is(M(S"", "a"), nil)
    is(M(S"", ""), nil)
    is(M(S"aaa", "a"), 2)
    is(M(S"\0\255", "\0"), 2)
    is(M(S"\0\255", "\255"), 2)
    is(M(S"\0\255", "\1"), nil)
    is(M(S"+-", "-"), 2)
    is(M(S(123), "2"), 2)
    fails("string expected", S, nil)
    fails("string expected", S, {})
end)

case("R", function()
    is(M(R"az", "m"), 2)
    is(M(R"az", "a"), 2)
    is(M(R"az", "z"), 2)
    is(M(R"az", "A"), nil)
    is(M(R("az", "AZ", "09")^1, "aZ09-"), 5)
    is(M(R(), "a"), nil)
    is(M(R"za", "z"), nil)
    is(M(R"za", "a"), nil)
    is(M(R"aa", "a"), 2)
    is(M(R"aa", "b"), nil)
    is(M(R"\128\255", "\200"), 2)
    is(M(R"\128\255", "\127"), nil)
    is(M(R"\0\0", "\0"), 2)
    fails("range must have two characters", R, "abc")
    fails("range must have two characters", R, "a")
    fails("range must have two characters", R, "az", "")
end)

------------------------------------------------------------------------ match / init
case("match init", function()
    local p = C(P(1)^0)
    is(M(p, "abc"), "abc")
    is(M(p, "abc", 1), "abc")
    is(M(p, "abc", 2), "bc")
    is(M(p, "abc", 3), "c")
    is(M(p, "abc", 4), "")
    is(M(p, "abc", 5), "")
    is(M(p, "abc", 100), "")
    is(M(p, "abc", 0), "")
    is(M(p, "abc", -1), "c")
    is(M(p, "abc", -3), "abc")
    is(M(p, "abc", -4), "abc")
    is(M(p, "abc", -100), "abc")
    is(M(p, "abc", nil), "abc")
    is(M(p, "abc", "2"), "bc")
    is(M(Cp(), "abc", 2), 2)
    is(M(Cp(), "abc", 0), 4)
    is(M(Cp(), "abc", 10), 4)
    is(M(Cp(), "abc", -10), 1)
    is(M(Cp(), "", 5), 1)
    is(M(Cp(), "", -5), 1)
    is(M(P"b", "abc", 2), 3)
    is(M(P"a", "abc", 2), nil)
    is(M(P(1), "abc", 4), nil)
    is(M(P(-1), "abc", 4), 4)
    is(M(P(-1), "abc", 0), 4)
end)

case("match subject and method form", function()
    is(M(C(1), 123), "1")
    is(M(C(P(1)^0), 1.5), "1.5")
    is(pack(P"ab":match("abc")), 3)
    is(pack(P"ab":match("xabc", 2)), 4)
    is(pack(C(1):match("abc", -1)), "c")
    match_fails("string expected", P"a")
    match_fails("string expected", P"a", {})
    match_fails("string expected", P"a", nil)
end)

case("match converts its pattern argument", function()
    is(M("ab", "abc"), 3)
    is(M(2, "abc"), 3)
    is(M(-1, ""), 1)
    is(M(true, "x"), 1)
    is(M(false, "x"), nil)
    is(M({ P"a" * V(1) + P"b" }, "aab"), 4)
    is(M(function(s, i) return i + 2 end, "abc"), 3)
end)

case("match returns the end position when no capture gives a value", function()
    is(M(P"ab" * Cc(), "ab"), 3)
    is(M(Cg(C"a", "n") * "b", "ab"), 3)
    is(M(P"ab" / 0, "abc"), 3)
    is(M(P"ab" / {}, "abc"), 3)
    is(M(P"ab" / function() end, "abc"), 3)
    is(M(Cmt(P"ab", function() return true end), "abc"), 3)
end)

------------------------------------------------------------------------ operators
case("sequence", function()
    is(M(P"a" * P"b", "abc"), 3)
    is(M(P"a" * P"b", "acb"), nil)
    is(M(P"a" * "b", "ab"), 3)
    is(M("a" * P"b", "ab"), 3)
    is(M(P"a" * 2, "abc"), 4)
    is(M(2 * P"c", "abc"), 4)
    is(M(P"a" * -1, "a"), 2)
    is(M(P"a" * -1, "ab"), nil)
    is(M(P"a" * true, "a"), 2)
    is(M(true * P"a", "a"), 2)
    is(M(P"a" * false, "a"), nil)
    is(M(false * P"a", "a"), nil)
    is(M(P"a" * { P"b" * V(1) + P"c" }, "abbc"), 5)
    is(M({ P"b" * V(1) + P"c" } * P"a", "bca"), 4)
    is(M(P"a" * function(s, i) return i + 1 end, "axy"), 3)
    is(M(function(s, i) return i end * P"a", "a"), 2)
    is(M(C"a" * C"b" * C"c", "abc"), "a", "b", "c")
end)

case("ordered choice", function()
    is(M(P"a" + P"b", "b"), 2)
    is(M(P"a" + P"b", "c"), nil)
    is(M(P"ab" + P"a", "ab"), 3)
    is(M(P"a" + P"ab", "ab"), 2)
    is(M(P"a" + "b", "b"), 2)
    is(M("a" + P"b", "a"), 2)
    is(M(P"a" + 2, "xy"), 3)
    is(M(3 + P"a", "a"), 2)
    is(M(P"a" + true, "x"), 1)
    is(M(false + P"a", "a"), 2)
    is(M(P"a" + -1, ""), 1)
    is(M(P"a" + { P"b" }, "b"), 2)
    is(M({ P"b" } + P"a", "a"), 2)
    is(M(P"a" + function(s, i) return i + 2 end, "xyz"), 3)
    -- captures of a failed alternative are discarded
    is(M(C"a" * "x" + C"ab", "ab"), "ab")
    is(M((C"a" * C"b" * "x") + C(1), "abc"), "a")
    -- no backtracking into a succeeded choice
    is(M((P"a" + P"ab") * "c", "abc"), nil)
end)

case("difference", function()
    is(M(P(1) - "b", "a"), 2)
    is(M(P(1) - "b", "b"), nil)
    is(M(R"az" - S"aeiou", "b"), 2)
    is(M(R"az" - S"aeiou", "e"), nil)
    is(M(P"abc" - P"ab", "abc"), nil)
    is(M(P"abc" - P"abd", "abc"), 4)
    is(M("abc" - P"x", "abc"), 4)
    is(M(P"abc" - "ab", "abc"), nil)
    is(M(P(2) - 3, "ab"), 3)
    is(M(P(2) - 3, "abc"), nil)
    is(M(P(1) - true, "a"), nil)
    is(M(P(1) - false, "a"), 2)
    is(M(P"a" - { P"b" }, "a"), 2)
    -- p1 - p2 never produces the captures of p2
    is(M(C(1) - C"b", "a"), "a")
    is(M(-C"b" * C(1), "a"), "a")
end)

case("repetition ^n", function()
    local a = P"a"
    is(M(a^0, ""), 1)
    is(M(a^0, "aaab"), 4)
    is(M(a^1, "b"), nil)
    is(M(a^1, "aab"), 3)
    is(M(a^3, "aa"), nil)
    is(M(a^3, "aaa"), 4)
    is(M(a^3, "aaaaa"), 6)
    is(M(P"ab"^2, "ababab"), 7)
    is(M(P"ab"^2, "abac"), nil)
    is(M(S"ab"^0 * "b", "abab"), nil) -- greedy, no backtracking
    is(M(C(a)^0, "aaa"), "a", "a", "a")
    is(M(C(a)^2, "a"), nil)
    is(M(a^"2", "aa"), 3)
    is(M(a^2.0, "aa"), 3)
end)

case("repetition ^-n", function()
    local a = P"a"
    is(M(a^-1, ""), 1)
    is(M(a^-1, "a"), 2)
    is(M(a^-1, "aa"), 2)
    is(M(a^-2, "aaaa"), 3)
    is(M(a^-2 * "a", "aa"), nil) -- greedy
    is(M(a^-3 * -1, "aaa"), 4)
    is(M(P"ab"^-2, "ababab"), 5)
    is(M(P"ab"^-2, "abac"), 3)
    is(M(C(a)^-2, "aaa"), "a", "a")
    is(M((C(a) * "b")^-2, "abac"), "a")
    is(M(P(true)^-2, "x"), 1) -- at most n never loops
end)

case("repetition with other operands", function()
    is(M(("a" * P"b")^1, "abab"), 5)
    is(M(P(2)^1, "abcde"), 5)
    is(M(P{ P"x" }^0, "xxy"), 3)
end)

case("loop body may accept empty string", function()
    local core = "loop body may accept empty string"
    fails(core, function() return P(true)^0 end)
    fails(core, function() return P""^1 end)
    fails(core, function() return P(0)^5 end)
    fails(core, function() return (#P"a")^0 end)
    fails(core, function() return (-P"a")^0 end)
    fails(core, function() return (P"a"^0)^0 end)
    fails(core, function() return (P"a"^-1)^1 end)
    fails(core, function() return (P"a" + true)^0 end)
    fails(core, function() return Cc(1)^0 end)
    fails(core, function() return Cp()^0 end)
    fails(core, function() return C(P"")^0 end)
    fails(core, function() return B"a"^0 end)
    fails(core, function() return P(function() return true end)^0 end)
    fails(core, function() return P{ P"a"^0 }^0 end)
    -- predicates always count as possibly empty, whatever they test
    fails(core, function() return (-P(true))^0 end)
    fails(core, function() return (#P(false))^0 end)
    -- checked when built, even with V inside (an open V itself is not empty)
    fails(core, function() return (V"x" + true)^0 end)
    fails(core, function() return (V"x"^0)^0 end)
    fails(core, function() return C(V"x"^0)^3 end)
    is(M((P"a" - true)^0, "aa"), 1)
    same(lpeg.type(V"x"^0), "pattern")
end)

case("and predicate #p", function()
    is(M(#P"a", "a"), 1)
    is(M(#P"a", "b"), nil)
    is(M(#P"a" * "a", "a"), 2)
    is(M(#P"ab" * C(1), "ab"), "a")
    is(M(#P(-1), ""), 1)
    is(M(#P(1), ""), nil)
    -- #p produces no captures
    is(M(#C"a", "a"), 1)
    is(M(#C"a" * C(1), "a"), "a")
    is(M(#(C"a" / error), "a"), 1)
    is(M(#Ct(C"a"), "a"), 1)
end)

case("not predicate -p", function()
    is(M(-P"a", "b"), 1)
    is(M(-P"a", "a"), nil)
    is(M(-P"a", ""), 1)
    is(M(-P(1), ""), 1)
    is(M(-P(1), "x"), nil)
    is(M(-P"ab" * C(2), "ac"), "ac")
    is(M(-C"b" * C(1), "a"), "a")
    is(M(-(-P"a") * C(1), "a"), "a")
end)

------------------------------------------------------------------------ lpeg.B
case("B look-behind", function()
    is(M(P"a" * B"a", "a"), 2)
    is(M(P"ab" * B"ab", "ab"), 3)
    is(M(P"ab" * B"b", "ab"), 3)
    is(M(P"ab" * B"a", "ab"), nil)
    is(M(B"a", "a"), nil)
    is(M(B"a", "ab", 2), 2)
    is(M(B"ab", "abc", 3), 3)
    is(M(B"ab", "abc", 2), nil)
    is(M(B(P(2)), "abc", 3), 3)
    is(M(B(P(2)), "abc", 2), nil)
    is(M(P(1) * B(S"ab"), "b"), 2)
    is(M(P(1) * B(P"a" + "b"), "b"), 2)
    is(M(P(2) * B(P"ab" + "cd"), "cd"), 3)
    is(M(P(1) * -B"a", "b"), 2)
    is(M(P(1) * -B"a", "a"), nil)
    is(M(B(P(true)), ""), 1)
    is(M(B(-P"x"), "a"), 1)
    is(M(B(#P"a"), "a"), 1)
    is(M(P(3) * B(P(3)), "abc"), 4)
    is(M(P(255) * B(P(255)), string.rep("x", 255)), 256)
    is(M(C(P"ab" * B"b"), "ab"), "ab")
end)

case("B of a grammar of fixed length", function()
    is(M(P"ab" * B(P{ P"a" * V(2), P"b" }), "ab"), 3)
    is(M(P"ab" * B(P{ "A", A = V"B" * V"B", B = P(1) }), "ab"), 3)
end)

case("B of Cc() (no capture in LPeg: Cc with no values is P(true))", function()
    is(M(P"a" * B(P"a" * Cc()), "a"), 2)
end)

case("B of a repetition ^-n of fixed length 0", function()
    is(M(P"a" * B((#P"a")^-1), "a"), 2)
    is(M(P"a" * B((-P"b")^-3), "a"), 2)
    fails("pattern have captures", B, Cc(1)^-2)
end)

case("B errors", function()
    fails("pattern may not have fixed length", B, P"a"^1)
    fails("pattern may not have fixed length", B, P"a" + "bc")
    fails("pattern may not have fixed length", B, P"a"^-1)
    fails("pattern may not have fixed length", B, Cmt(P"a", function() return true end))
    fails("pattern may not have fixed length", B, V"x")
    fails("pattern have captures", B, C"a")
    fails("pattern have captures", B, P"a" * Cp())
    fails("pattern have captures", B, Cc(1))
    fails("pattern have captures", B, #C"a")
    fails("pattern have captures", B, -C"a")
    fails("pattern have captures", B, P"a" / "x")
    fails("pattern may not have fixed length", B, #P(false) + "c")
    fails("pattern too long to look behind", B, P(256))
    fails("pattern too long to look behind", B, P(string.rep("x", 300)))
end)

------------------------------------------------------------------------ simple captures
case("C", function()
    is(M(C"abc", "abcd"), "abc")
    is(M(C"abc", "ab"), nil)
    is(M(C(P""), "x"), "")
    is(M(C(P(1)^0), ""), "")
    is(M(C(C"a" * C"b"), "ab"), "ab", "a", "b")
    is(M(C(C(C"a")), "a"), "a", "a", "a")
    is(M(C(Cc(1, 2) * "x"), "x"), "x", 1, 2)
    is(M(C"a" * C"b" + C"c", "c"), "c")
    is(M(P"x" * C(P"a"^0) * P"y", "xaay"), "aa")
end)

case("captures and backtracking", function()
    is(M((C"a" * "b" + C"a" * "c")^0, "acabac"), "a", "a", "a")
    is(M(Ct((Cg(C"a", "k") * "b" + C"a" * "c")^0), "acab"), { "a", k = "a" })
    is(M(Cs((P"a" / "1" * "b" + P"a" / "2" * "c" + 1)^0), "acabx"), "2c1bx")
    is(M((C(1) * C(1) * "x")^-2 * C(1), "abxcdxef"), "a", "b", "c", "d", "e")
    is(M((C(1) * C(1) * "x")^-2 * C(1), "abxcdef"), "a", "b", "c")
    is(M(-(C"a" * Cmt(P(true), function() return true end)) * C(1), "b"), "b")
    is(M((#C"a" * C(1))^0, "aab"), "a", "a")
    is(M((C(1) * "x")^0 * C(1), "axbxcd"), "a", "b", "c")
end)

case("Cc", function()
    is(M(Cc(), ""), 1)
    is(M(Cc() * "ab", "abc"), 3)
    is(M(Cc(nil), ""), nil)
    is(M(Cc(nil, nil), ""), nil, nil)
    is(M(Cc(1, nil, 3), "x"), 1, nil, 3)
    is(M(Cc("a", 2, true, false), "x"), "a", 2, true, false)
    is(M(P"x" * Cc(1), "y"), nil)
    local t = {}
    local f = function() end
    is(M(Cc(t, f), ""), t, f)
    is(M(Cc(1) * Cc(2), ""), 1, 2)
    is(M(Cc(1) ^ -3, ""), 1, 1, 1) -- each turn matches empty
end)

case("Cp", function()
    is(M(Cp(), "abc"), 1)
    is(M(P"ab" * Cp(), "abc"), 3)
    is(M(Cp() * P"ab" * Cp(), "abc"), 1, 3)
    is(M((P(1) * Cp())^0, "abc"), 2, 3, 4)
    is(M(P"b" * Cp(), "abc", 2), 3)
    is(M(C(Cp() * "a"), "a"), "a", 1)
end)

case("Carg", function()
    is(M(Carg(1), "x", 1, "v"), "v")
    is(M(Carg(2) * Carg(1), "x", 1, "a", "b"), "b", "a")
    is(M(Carg(1), "x", nil, 42), 42)
    is(M(Carg(1), "x", 1, nil), nil)
    is(M(Carg(1) * Carg(1), "x", 1, "a"), "a", "a")
    local t = {}
    is(M(Carg(1), "x", 1, t), t)
    is(M(Ct(Carg(1) * Carg(2)), "x", 1, "a", "b"), { "a", "b" })
    is(M(P"a" * Carg(1), "b", 1, "v"), nil)
    match_fails("reference to absent extra argument #1", Carg(1), "x")
    match_fails("reference to absent extra argument #1", Carg(1), "x", 1)
    match_fails("reference to absent extra argument #2", Carg(2), "x", 1, "a")
    fails("invalid argument index", Carg, 0)
    fails("invalid argument index", Carg, -1)
end)

------------------------------------------------------------------------ groups
case("Cg anonymous", function()
    is(M(Cg(C"a" * C"b"), "ab"), "a", "b")
    is(M(Cg(P"ab"), "ab"), "ab") -- no nested captures: the match
    is(M(Cg(P"ab" / 0), "ab"), "ab")
    is(M(Cg(P"ab" * Cc(nil)), "ab"), nil)
    is(M(Cg(Cc(1, 2)) * Cg(Cc(3)), ""), 1, 2, 3)
    is(M(Cg(Cg(C"a") * C"b"), "ab"), "a", "b")
    is(M(Cg(P"a", nil), "a"), "a")
end)

case("Cg named", function()
    -- a named group gives no values outside a table (or a back reference)
    is(M(Cg(C"a", "n"), "a"), 2)
    is(M(Cg(C"a", "n") * C"b", "ab"), "b")
    is(M(C(Cg(C"a", "n")), "a"), "a")
    is(M(Cg(C"a", 1), "a"), 2)
    is(M(Cg(C"a", "n") / function(...) return select("#", ...), ... end, "a"), 1, "a")
end)

case("Cb", function()
    is(M(Cg(C"a", "x") * Cb"x", "a"), "a")
    is(M(Cg(C"a" * C"b", "x") * Cb"x", "ab"), "a", "b")
    is(M(Cg(P"ab", "x") * Cb"x", "ab"), "ab")
    is(M(Cg(P"ab" / 0, "x") * Cb"x", "ab"), "ab")
    is(M(Cg(C"a", "x") * Cb"x" * Cb"x", "a"), "a", "a")
    -- the most recent group of that name
    is(M(Cg(C"a", "x") * Cg(C"b", "x") * Cb"x", "ab"), "b")
    is(M(Cg(C"a", "x") * Cg(C"b", "y") * Cb"x", "ab"), "a")
    -- the outermost: a group nested in a later complete capture is not seen...
    match_fails("back reference 'x' not found", Cg(Cg(C"a", "x") * C"b", "y") * Cb"x", "ab")
    match_fails("back reference 'x' not found", C(Cg(C"a", "x")) * Cb"x", "a")
    -- ...but that capture itself is, with its own values
    is(M(Cg(C"a", "x") * Cg(C"b" * Cg(C"c", "x"), "x") * Cb"x", "abc"), "b")
    -- enclosing captures are transparent
    is(M(Cg(C"a", "x") * Ct(Cb"x"), "a"), { "a" })
    is(M(Ct(Cg(C"a", "x") * Cb"x"), "a"), { "a", x = "a" })
    is(M(Cg(C"a", "x") * C(Cb"x" * "b"), "ab"), "b", "a")
    -- a group may refer to an earlier one of its own name
    is(M(Cg(C"a", "x") * Cg(Cb"x" * C"b", "x") * Cb"x", "ab"), "a", "b")
    -- numeric names
    is(M(Cg(C"a", 1) * Cb(1), "a"), "a")
    is(M(Cg(C"a", 1) * Cb(1.0), "a"), "a")
    -- anonymous groups have no name
    match_fails("back reference 'x' not found", Cg(C"a") * Cb"x", "a")
    match_fails("back reference 'x' not found", Cb"x", "a")
    match_fails("back reference 'x' not found", Cb"x" * Cg(C"a", "x"), "a")
    match_fails("back reference '1' not found", Cg(C"a", "1") * Cb(1), "a")
    match_fails("back reference 'y' not found", Cg(C"a", "x") * Cb"y", "a")
    -- a failed alternative leaves no group behind
    match_fails("back reference 'x' not found", (Cg(C"a", "x") * "z" + P"a") * Cb"x", "a")
end)

------------------------------------------------------------------------ Ct
case("Ct", function()
    is(M(Ct(P"ab"), "ab"), {})
    is(M(Ct(C(1)^0), "abc"), { "a", "b", "c" })
    is(M(Ct(C"a" * Cg(C"b", "k") * C"c"), "abc"), { "a", "c", k = "b" })
    is(M(Ct(Cg(C"a" * C"b", "k")), "ab"), { k = "a" }) -- first value only
    is(M(Ct(Cg(P"ab", "k")), "ab"), { k = "ab" })
    is(M(Ct(Cg(P"ab" / 0, "k")), "ab"), { k = "ab" })
    is(M(Ct(Cg(C"a", "k") * Cg(C"b", "k")), "ab"), { k = "b" })
    is(M(Ct(Cg(Cc(nil), "k")), ""), {})
    is(M(Ct(Cc(1, nil, 3)), ""), { 1, nil, 3 })
    is(M(Ct(Cg(C"a" * C"b")), "ab"), { "a", "b" })
    is(M(Ct(Ct(C"a") * C"b"), "ab"), { { "a" }, "b" })
    is(M(Ct(Cg(C"a", 1) * C"b"), "ab"), { "b" }) -- the group first, then the values
    is(M(Ct(C"b" * Cg(C"a", 1)), "ba"), { "a" })
    is(M(Ct(Cg(C"a", 2) * C"b"), "ab"), { "b", "a" })
    is(M(Ct(C"a" / 0 * Cp()), "a"), { 2 })
end)

case("Ct with a back reference group and failed captures", function()
    match_fails("back reference 'x' not found", Ct(Cb"x"), "a")
    is(M(Ct((C"a" * "x" + C"ab") * C(1)), "abc"), { "ab", "c" })
end)

------------------------------------------------------------------------ Cf
case("Cf", function()
    is(M(Cf(C(1) * C(1) * C(1), show), "abc"), "((a,b),c)")
    is(M(Cf(C(1)^1, function(a, b) return b .. a end), "abc"), "cba")
    is(M(Cf(Cc(1, 2) * Cc(3, 4), show), ""), "(1,3,4)") -- extra initial values dropped
    is(M(Cf(C"a" * (P"b" / 0) * C"c", show), "abc"), "((a),c)") -- no values: f(acc)
    is(M(Cf(C"a" * Cg(C"b", "n"), show), "ab"), "(a)")
    is(M(Cf(Cc(nil) * C"a", show), "a"), "(nil,a)")
    is(M(Cf(C"a", show), "a"), "a") -- one capture: no call
    is(M(Cf(C"a" * C"b", function() end), "ab"), nil)
    is(M(Cf(C"a" * C"b" * C"c", function(a, b) return (a or "nil") .. b end), "abc"), "abc")
    is(M(Cf(Ct(C"a") * C"b", function(t, v) t[#t + 1] = v return t end), "ab"),
        { "a", "b" })
    is(M(Cf(C"a" * (C"b" * C"c"), show), "abc"), "((a,b),c)")
    is(M(Cf(C"a" * Cg(C"b" * C"c"), show), "abc"), "(a,b,c)")
    -- each capture is one call, whatever the sequence looks like
    is(M(Cf(C(1) * (Cc"," * C(1))^0, function(a, b) return a .. b end), "abc"), "a,b,c")
end)

case("Cf with Cc() first (no capture in LPeg)", function()
    is(M(Cf(Cc() * C"a" * C"b", show), "ab"), "(a,b)")
end)

case("Cf no initial value", function()
    local core = "no initial value for fold capture"
    match_fails(core, Cf(P"a", show), "a")
    match_fails(core, Cf(P"a" * P"b"^0, show), "abb")
    match_fails(core, Cf((P"a" / 0) * C"b", show), "ab")
    match_fails(core, Cf(Cg(C"a", "n") * C"b", show), "ab")
    match_fails(core, Cf(P"a" / {} * C"b", show), "ab")
end)

------------------------------------------------------------------------ Cs
case("Cs", function()
    is(M(Cs(P"abc"), "abcd"), "abc")
    is(M(Cs((P"a" / "x" + 1)^0), "banana"), "bxnxnx")
    is(M(Cs((S"aeiou" / "" + 1)^0), "banana"), "bnn")
    is(M(Cs((P"a" / "%0%0" + 1)^0), "cab"), "caab")
    is(M(Cs(C"a" * "b"), "ab"), "ab") -- C's value is its own match
    is(M(Cs(C(C"a" * "b") * "c"), "abc"), "abc")
    is(M(Cs(Cc"x" * "ab"), "ab"), "xab")
    is(M(Cs("a" * Cc"x" * "b"), "ab"), "axb")
    is(M(Cs(P"a" / function() return 1 end * "b"), "ab"), "1b")
    is(M(Cs(P"a" / function() return 1.5 end), "a"), "1.5")
    is(M(Cs(P"a" / function() end * "b"), "ab"), "ab") -- no value: text kept
    is(M(Cs(P"a" / function() return "x", "y" end), "a"), "x") -- first value
    is(M(Cs(Cg(C"a", "n") * "b"), "ab"), "ab")
    is(M(Cs((P"a" / 0) * "b"), "ab"), "ab")
    is(M(Cs(P"a" / { a = "A" } * (P"b" / { a = "A" })), "ab"), "Ab")
    is(M(Cs(Cs(P"a" / "x") * "b" / "y"), "ab"), "y")
    is(M(Cs(Cs(P"a" / "x") * "b"), "ab"), "xb")
    is(M(Cs((Cs(P"a" / "x" * "b") + 1)^0), "abab"), "xbxb")
    is(M(Cs(Cp() * "ab"), "ab"), "1ab")
    is(M(Cs(P"a" / "" * Cs(P"b" / "")), "ab"), "")
    is(M(Cs(P"x"^0), "abc"), "")
    is(M(Cs(Cmt(P"a", function() return true, "X" end) * "b"), "ab"), "Xb")
end)

case("Cs replacement values must be strings", function()
    local core = "invalid replacement value (a "
    match_fails(core .. "nil)", Cs(P"a" / function() return nil end), "a")
    match_fails(core .. "boolean)", Cs(P"a" / function() return false end), "a")
    match_fails(core .. "boolean)", Cs(Cc(true)), "")
    match_fails(core .. "table)", Cs(Ct(C"a")), "a")
    match_fails(core .. "nil)", Cs(Cc(nil)), "")
    match_fails(core .. "table)", Cs(P"a" / { a = {} }), "a")
end)

------------------------------------------------------------------------ p / string
case("string capture", function()
    is(M(P"abc" / "%0", "abc"), "abc")
    is(M(P"abc" / "x", "abc"), "x")
    is(M(P"abc" / "", "abc"), "")
    is(M(P"abc" / "[%0]", "abcd"), "[abc]")
    is(M(C"a" * C"b" / "%2%1", "ab"), "ba")
    is(M((C"a" * C"b") / "%2-%1-%0", "abc"), "b-a-ab")
    is(M(C(C"a" * C"b") / "%1|%2|%3", "ab"), "ab|a|b") -- nested captures in order
    is(M(P"a" / "%%", "a"), "%")
    is(M(P"a" / "100%%", "a"), "100%")
    is(M(P"a" / "%x%.%a", "a"), "x.a") -- %<non-digit> is that character
    is(M(Cc(1, 2) * "a" / "%1", "a"), "1") -- a capture's first value
    is(M(Cc(1.5) * "a" / "%1", "a"), "1.5")
    is(M(Cp() * "a" * Cp() / "%1-%2", "a"), "1-2")
    is(M((P"a" / "x") * (P"b" / "y") / "%2%1", "ab"), "yx")
    is(M((Cs(P"a" / "x") * "b") / "%1", "ab"), "x")
    is(M(C(C"a" / "x") / "%1%2", "a"), "ax")
    is(M(Cmt(C"a", function(_, _, c) return true, c .. "!" end) / "%1", "a"), "a!")
    local nine = C"a" * C"b" * C"c" * C"d" * C"e" * C"f" * C"g" * C"h" * C"i" * C"j"
    is(M(nine / "%9%1", "abcdefghij"), "ia")
    is(M(nine / "%0", "abcdefghij"), "abcdefghij")
end)

case("string capture errors", function()
    match_fails("invalid capture index (2)", C"a" / "%2", "a")
    match_fails("invalid capture index (1)", P"abc" / "%1", "abc")
    match_fails("invalid capture index (9)", C"a" * C"b" / "%9", "ab")
    match_fails("invalid capture value (a nil)", (Cc(nil) * "a") / "%1", "a")
    match_fails("invalid capture value (a table)", Ct(C"a") / "%1", "a")
    match_fails("invalid capture value (a boolean)", Cc(true) / "%1", "")
    match_fails("no values in capture index 1", Cg(C"a", "n") * "b" / "%1", "ab")
    match_fails("no values in capture index 1", (P"a" / 0) * "b" / "%1", "ab")
end)

case("string capture evaluates only the captures it uses, each time used", function()
    local calls = 0
    local f = function(x) calls = calls + 1 return x .. "!" end
    is(M((C"a" * (C"b" / f)) / "%1", "ab"), "a")
    same(calls, 0)
    is(M((C"a" * (C"b" / f)) / "%2%2", "ab"), "b!b!")
    same(calls, 2)
end)

case("string capture does not evaluate an unused back reference", function()
    is(M((C"a" * Cb"nothing") / "%1", "a"), "a")
end)

------------------------------------------------------------------------ p / number
case("numbered capture", function()
    is(M(P"ab" / 0, "ab"), 3)
    is(M(C"a" * C"b" / 0, "ab"), 3)
    is(M(C"a" * C"b" / 1, "ab"), "a")
    is(M(C"a" * C"b" / 2, "ab"), "b")
    is(M(P"ab" / 1, "ab"), "ab") -- no captures: the match is capture 1
    is(M(C(C"a" * C"b") / 3, "ab"), "b")
    is(M((Cc(nil) * "a") / 1, "a"), nil)
    is(M((Cc(1, nil) * "a") / 2, "a"), nil)
    is(M(Cg(C"a", "n") * "b" / 1, "ab"), "ab")
    match_fails("no capture '2'", C"a" / 2, "a")
    match_fails("no capture '3'", C"a" * C"b" / 3, "ab")
    fails("invalid number", function() return P"a" / -1 end)
    is(M(P"a" / 32767, "b"), nil)
end)

------------------------------------------------------------------------ p / table
case("query capture", function()
    local t = { a = 1, b = false, ab = "AB", [1] = "one" }
    is(M(C(1) / t, "a"), 1)
    is(M(C(1) / t, "b"), false)
    is(M(C(1) / t, "c"), 2) -- miss: no value
    is(M(P"ab" / t, "ab"), "AB") -- no captures: the match is the key
    is(M(C"a" * C"b" / t, "ab"), 1) -- the first value is the key
    is(M(Cc(1) / t, ""), "one")
    is(M(Cc(nil) / t, ""), 1)
    is(M((C(1) / t)^0, "abca"), 1, false, 1)
    local meta = setmetatable({}, { __index = function(_, k) return k .. "?" end })
    is(M(C(1) / meta, "z"), "z?")
    is(M(Ct((C(1) / t)^0), "xay"), { 1 })
end)

------------------------------------------------------------------------ p / function
case("function capture", function()
    local count = function(...) return select("#", ...), ... end
    is(M(P"ab" / count, "ab"), 1, "ab")
    is(M(C"a" * C"b" / count, "ab"), 2, "a", "b")
    is(M(Cc(nil) * "a" / count, "a"), 1, nil)
    is(M(Cg(C"a", "n") * "b" / count, "ab"), 1, "ab")
    is(M(P"a" / function() end, "a"), 2)
    is(M(P"a" / function() end * C"b", "ab"), "b")
    is(M(P"a" / function() return nil end, "a"), nil)
    is(M(P"a" / function() return nil, nil end, "a"), nil, nil)
    is(M(P"a" / function() return 1, 2, 3 end, "a"), 1, 2, 3)
    is(M(Ct(P"a" / function() return 1, nil, 3 end), "a"), { 1, nil, 3 })
    is(M((C(1) / string.upper)^0, "ab"), "A", "B")
    match_fails("boom", P"a" / function() error("boom") end, "a")
end)

case("invalid replacement", function()
    fails("invalid replacement value", function() return P"a" / true end)
    fails("invalid replacement value", function() return P"a" / nil end)
end)

------------------------------------------------------------------------ Cmt
case("Cmt arguments", function()
    local args = function(s, i, ...) return true, s, i, select("#", ...), ... end
    -- no captures: the match itself is passed
    is(M(Cmt(P"ab", args), "abc"), "abc", 3, 1, "ab")
    is(M(P"x" * Cmt(P"ab", args), "xabc"), "xabc", 4, 1, "ab")
    is(M(Cmt(C"a" * C"b", args), "ab"), "ab", 3, 2, "a", "b")
    is(M(Cmt(Cc(nil) * "a", args), "a"), "a", 2, 1, nil)
    is(M(Cmt(Cg(C"a", "n") * "b", args), "ab"), "ab", 3, 1, "ab")
    is(M(Cmt(P"b", args), "abc", 2), "abc", 3, 1, "b")
    is(M(Cmt(P"b", args), "abc", -2), "abc", 3, 1, "b")
    is(M(Cg(C"a", "x") * Cmt(Cb"x", args), "a"), "a", 2, 1, "a")
    is(M(Cmt(Cp() * P"a" * Cp(), args), "a"), "a", 2, 2, 1, 2)
end)

case("Cmt values and groups", function()
    -- the values a Cmt returns replace its nested captures
    match_fails("back reference 'x' not found",
        Cmt(Cg(C"a", "x"), function() return true end) * Cb"x", "a")
    is(M(Cg(Cmt(P"a", function() return true, "v" end), "x") * Cb"x", "a"), "v")
    is(M(Cg(Cmt(P"a", function() return true, "v", "w" end), "x") * Cb"x", "a"), "v", "w")
    is(M(Cmt(P"a", function() return true, "v", "w" end) / 2, "a"), "w")
    is(M(Ct(Cg(Cmt(P"a", function() return true, "v", "w" end), "k")), "a"), { k = "v" })
end)

case("Cmt results", function()
    is(M(Cmt(P"ab", function() return true end), "abc"), 3)
    is(M(Cmt(P"ab", function() return true end) * C(1), "abc"), "c")
    is(M(Cmt(P"ab", function() return false end), "abc"), nil)
    is(M(Cmt(P"ab", function() return nil end), "abc"), nil)
    is(M(Cmt(P"ab", function() end), "abc"), nil)
    is(M(Cmt(P"ab", function() return 3 end), "abc"), 3)
    is(M(Cmt(P"ab", function() return 4 end), "abc"), 4)
    is(M(Cmt(P"ab", function(_, i) return i end) * C(1), "abc"), "c")
    is(M(Cmt(P"a", function() return 4 end) * -1, "abc"), 4)
    is(M(Cmt(P"a", function() return 3 end) * C(1), "abc"), "c")
    is(M(Cmt(P"ab", function() return 3, nil end), "abc"), nil)
    is(M(Cmt(P"ab", function() return 3, nil, nil end), "abc"), nil, nil)
    is(M(Cmt(P"ab", function() return true, 1, 2 end), "abc"), 1, 2)
    is(M(Cmt(C"a", function() return true end) * C"b", "ab"), "b") -- consumes its captures
    is(M(C(Cmt(C"a", function() return true end)), "a"), "a")
    is(M(Ct(Cmt(C"a", function(_, _, c) return true, c, c end)), "a"), { "a", "a" })
    is(M(Cmt(P"ab", function() return 2.0 + 1 end), "abc"), 3)
    -- a failing Cmt backtracks like any pattern
    is(M(Cmt(P"a", function() return false end) + C"ab", "ab"), "ab")
    -- its values take part in the enclosing captures
    is(M(Cf(Cmt(P"a", function() return true, 1 end) * Cc(2), show), "a"), "(1,2)")
end)

case("Cmt runs whenever its pattern matches, even at the end of the subject", function()
    local calls = {}
    local log = function(_, i) calls[#calls + 1] = i return true end
    local function run(p, s, ...)
        calls = {}
        is(M(p, s), ...)
        return calls
    end
    same(run(Cmt(P(true), log) * "c" + P(true), "", 1), { 1 })
    same(run((Cmt(P(true), log) * "c")^0, "", 1), { 1 })
    same(run((Cmt(P(true), log) * "c")^-1, "", 1), { 1 })
    same(run(Ct(P(log)) * "c" + "x", "", nil), { 1 })
    same(run(Cmt(P"b"^-1, log) * "c" + P(true), "", 1), { 1 })
    same(run(Cmt(P"b"^-1, log) * "c" + P(true), "ab", 1), { 1 })
    same(run(P"a" * (Cmt(P(true), log) * "c" + P(true)), "a", 2), { 2 })
end)

case("Cmt bad positions", function()
    local core = "invalid position returned by match-time capture"
    match_fails(core, Cmt(P"ab", function() return 2 end), "abc")
    match_fails(core, Cmt(P"ab", function() return 5 end), "abc")
    match_fails(core, Cmt(P"ab", function() return 0 end), "abc")
    match_fails(core, Cmt(P"ab", function() return -1 end), "abc")
    match_fails(core, Cmt(P"b", function() return 1 end), "abc", 2)
end)

case("Cmt runs at match time", function()
    local calls = {}
    local log = function(_, i) calls[#calls + 1] = i return true end
    -- called even when the enclosing pattern fails later
    is(M(Cmt(P"a", log) * "x", "ab"), nil)
    same(calls, { 2 })
    calls = {}
    is(M((Cmt(P(1), log))^0, "abc"), 4)
    same(calls, { 2, 3, 4 })
    calls = {}
    is(M(#Cmt(P"a", log) * "a", "a"), 2)
    same(calls, { 2 })
    -- nested Cmt: the inner one's values reach the outer one
    is(M(Cmt(Cmt(C"a", function(_, _, c) return true, c .. "1" end),
        function(_, _, c) return true, c .. "2" end), "a"), "a12")
    match_fails("boom", Cmt(P"a", function() error("boom") end), "a")
    fails("function expected", Cmt, P"a", nil)
    fails("function expected", Cmt, P"a", "f")
end)

------------------------------------------------------------------------ grammars
case("grammar initial rule", function()
    is(M(P{ "S", S = P"a" * V"S" + P"b" }, "aab"), 4)
    is(M(P{ P"a" * V(1) + P"b" }, "aab"), 4)
    is(M(P{ V(2), P"x" }, "x"), 2)
    is(M(P{ 2, [2] = P"x" }, "x"), 2)
    is(M(P{ "A", A = V"B" * V"C", B = P"b", C = P"c" }, "bc"), 3)
    is(M(P{ "B", A = P"a", B = P"b" }, "b"), 2) -- rules not reached are fine
    is(M(P{ "A", A = C(V"B") * V"B", B = P"x" }, "xx"), "x")
    -- rule keys of other types
    is(M(P{ "A", A = V(2) * V(3.5), [2] = P"b", [3.5] = P"c" }, "bc"), 3)
    local key = {}
    is(M(P{ "A", A = V(key), [key] = P"k" }, "k"), 2)
    is(M(P{ "A", A = V(true), [true] = P"t" }, "t"), 2)
end)

case("grammar examples", function()
    -- balanced parentheses (LPeg manual)
    local bal = P{ "(" * ((1 - S"()") + V(1))^0 * ")" }
    is(M(bal, "(a(b)c)"), 8)
    is(M(bal, "(a(b c)"), nil)
    -- a^n b^n
    local anbn = P{ "S", S = P"a" * V"S" * P"b" + P"" } * -1
    is(M(anbn, "aabb"), 5)
    is(M(anbn, "aab"), nil)
    is(M(anbn, ""), 1)
    -- captures through rules, and rules in captures
    local list = P{ "L", L = Ct(V"I" * ("," * V"I")^0), I = C(R"09"^1) / tonumber }
    is(M(list, "1,22,333"), { 1, 22, 333 })
    -- mutual recursion
    local even = P{ "E", E = P"a" * V"O" + -P(1), O = P"a" * V"E" }
    is(M(even, "aaaa"), 5)
    is(M(even, "aaa"), nil)
end)

case("grammars as operands and nested grammars", function()
    local g = P{ "A", A = P"a" * V"A" + P"b" }
    is(M(g * g, "abaab"), 6)
    is(M(g^1, "bbab"), 5)
    is(M(C(g) / "<%1>", "aab"), "<aab>")
    -- a grammar used as a rule of another; its rule names are its own
    local inner = P{ "A", A = P"x" * V"A" + P"y" }
    local outer = P{ "A", A = P"(" * inner * V"B", B = P")" }
    is(M(outer, "(xxy)"), 6)
    local outer2 = P{ "S", S = inner * V"S" + inner }
    is(M(outer2, "xyyxxy"), 7)
    -- an open V inside a grammar's rule that is an inner grammar must be defined there
    fails("rule 'B' undefined in given grammar", function()
        return P{ "A", A = P{ "C", C = V"B" }, B = P"b" }
    end)
end)

case("grammar errors", function()
    fails("grammar has no initial rule", P, {})
    fails("grammar has no initial rule", P, { "a" })
    fails("grammar has no initial rule", P, { "S", A = P"a" })
    fails("initial rule 'S' is not a pattern", P, { "S", S = "x" })
    fails("initial rule '1' is not a pattern", P, { true })
    fails("rule 'T' is not a pattern", P, { "S", S = P"x" * V"T", T = "y" })
    fails("rule 'B' undefined in given grammar", P, { "A", A = V"B" })
    fails("rule 'B' undefined in given grammar", P, { "A", A = P"a" * V"B" })
    fails("rule 'B' undefined in given grammar", P, { "A", A = P"a", C = V"B" })
    fails("rule '2' undefined in given grammar", P, { V(2) })
end)

case("left recursion", function()
    local core = "may be left recursive"
    fails("rule 'A' " .. core, P, { "A", A = V"A" })
    fails("rule 'A' " .. core, P, { "A", A = V"A" * "a" + "b" })
    fails("rule 'A' " .. core, P, { "A", A = P"x" + V"A" })
    fails("rule 'A' " .. core, P, { "A", A = C(V"A") })
    fails("rule 'A' " .. core, P, { "A", A = #P"x" * V"A" })
    fails("rule 'A' " .. core, P, { "A", A = -P"x" * V"A" })
    fails("rule 'A' " .. core, P, { "A", A = P"x"^0 * V"A" })
    fails("rule 'A' " .. core, P, { "A", A = P"x"^-1 * V"A" })
    fails("rule 'A' " .. core, P, { "A", A = B"x" * V"A" })
    fails("rule 'A' " .. core, P, { "A", A = V"B" * V"A", B = P"x"^-1 })
    fails("rule 'A' " .. core, P, { "A", A = Cmt(P(true), function() return true end) * V"A" })
    fails("rule 'A' " .. core, P, { "A", A = V"B" * "x", B = V"A" * "y" })
    fails("rule 'B' " .. core, P, { "A", A = P"a", B = V"B" })
    -- not left recursive: input is consumed before the call
    is(M(P{ "A", A = P"x" * V"A" + P"y" }, "xxy"), 4)
    is(M(P{ "A", A = V"B" * V"A" + P"y", B = P"x" }, "xxy"), 4)
end)

case("empty loops in grammars", function()
    fails("empty loop in rule 'A'", P, { "A", A = P"a" * V"B"^0, B = P(true) })
    fails("empty loop in rule 'A'", P, { "A", A = P"a" * V"B"^0, B = #P"x" })
    fails("empty loop in rule 'A'", P, { "A", A = P"a" * V"B"^1, B = P"x"^-1 })
    is(M(P{ "A", A = V"B"^0, B = P"x" }, "xxy"), 3)
end)

case("V outside a grammar", function()
    local core = "rule 'foo' used outside a grammar"
    match_fails(core, V"foo", "abc")
    match_fails(core, P"x" + V"foo", "x")
    match_fails(core, C(V"foo" * "a"), "a")
    match_fails("rule '1' used outside a grammar", V(1) * "x", "x")
    -- even where the pattern could never reach it
    match_fails(core, V"foo" - "", "x")
    match_fails(core, V"foo" - true, "x")
    match_fails(core, (P"a" * V"foo") - P(0), "a")
    -- building such patterns is fine
    same(lpeg.type(V"foo" * "a"), "pattern")
    fails("non-nil value expected", V, nil)
end)

case("deep recursion and the backtrack limit", function()
    local nest = function(d) return string.rep("(", d) .. "x" .. string.rep(")", d) end
    local g = P{ "S", S = "(" * V"S" * ")" + "x" }
    is(M(g, nest(100)), 202)
    match_fails("backtrack stack overflow (current limit is 400)", g, nest(1000))
    lpeg.setmaxstack(5000)
    is(M(g, nest(1000)), 2002)
    match_fails("backtrack stack overflow (current limit is 5000)", g, nest(10000))
    lpeg.setmaxstack(400)
    match_fails("backtrack stack overflow (current limit is 400)", g, nest(1000))
    -- the same with a choice entry per level too
    local g2 = P{ "S", S = "(" * V"S" * ")" + "(" * P"x" }
    is(M(g2, nest(100)), 201)
    match_fails("backtrack stack overflow", g2, nest(400))
    -- the matcher is usable after an overflow
    is(M(g, nest(3)), 8)
end)

case("setmaxstack errors", function()
    fails("out of range", lpeg.setmaxstack, 0)
    fails("out of range", lpeg.setmaxstack, -5)
    fails("number expected", lpeg.setmaxstack, "x")
    is(pack(lpeg.setmaxstack(400)))
end)

------------------------------------------------------------------------ locale
case("locale", function()
    local l = lpeg.locale()
    local names = { "alnum", "alpha", "cntrl", "digit", "graph", "lower", "print", "punct",
        "space", "upper", "xdigit" }
    local classes = 0
    for k, v in pairs(l) do
        classes = classes + 1
        same(lpeg.type(v), "pattern", tostring(k))
    end
    same(classes, #names, "classes")
    -- C locale: the expected members of each class
    local function within(b, lo, hi) return b >= string.byte(lo) and b <= string.byte(hi) end
    local expect = {
        alnum = function(b) return within(b, "0", "9") or within(b, "a", "z") or within(b, "A", "Z") end,
        alpha = function(b) return within(b, "a", "z") or within(b, "A", "Z") end,
        cntrl = function(b) return b < 32 or b == 127 end,
        digit = function(b) return within(b, "0", "9") end,
        graph = function(b) return b > 32 and b < 127 end,
        lower = function(b) return within(b, "a", "z") end,
        print = function(b) return b >= 32 and b < 127 end,
        punct = function(b)
            return b > 32 and b < 127 and not (within(b, "0", "9") or within(b, "a", "z")
                or within(b, "A", "Z"))
        end,
        space = function(b) return b == 32 or (b >= 9 and b <= 13) end,
        upper = function(b) return within(b, "A", "Z") end,
        xdigit = function(b) return within(b, "0", "9") or within(b, "a", "f") or within(b, "A", "F") end,
    }
    for _, name in ipairs(names) do
        local wrong = {}
        for b = 0, 255 do
            local got = lpeg.match(l[name], string.char(b)) == 2
            if got ~= expect[name](b) then wrong[#wrong + 1] = b end
        end
        same(wrong, {}, name .. " wrong bytes")
    end
    is(M(l.space, "\v"), 2)
    is(M(l.space^1, " \t\n\v\f\r"), 7)
end)

case("locale fills a given table", function()
    local t = { keep = 1 }
    local r = lpeg.locale(t)
    same(r == t, true)
    same(t.keep, 1)
    same(lpeg.type(t.digit), "pattern")
    is(M(t.digit^1, "123a"), 4)
    local a, b = lpeg.locale(), lpeg.locale()
    same(a ~= b, true)
end)

------------------------------------------------------------------------ operand errors
case("operand errors", function()
    fails("lpeg-pattern expected", function() return P"a" * nil end)
    fails("lpeg-pattern expected", function() return nil * P"a" end)
    fails("lpeg-pattern expected", function() return P"a" + nil end)
    fails("lpeg-pattern expected", function() return P"a" - nil end)
    fails("number expected", function() return P"a" ^ "x" end)
    fails("number expected", function() return P"a" ^ nil end)
    fails("lpeg-pattern expected", C, nil)
    fails("lpeg-pattern expected", Ct, nil)
    fails("lpeg-pattern expected", Cs, nil)
    fails("lpeg-pattern expected", Cg, nil)
    fails("lpeg-pattern expected", B, nil)
    fails("function expected", Cf, P"a", 1)
    fails("function expected", Cf, P"a")
end)

------------------------------------------------------------------------ big patterns
case("large repetition counts", function()
    is(M(P(1)^100000, string.rep("a", 100000)), 100001)
    is(M(P"abc"^70000, string.rep("abc", 70000)), 210001)
    is(M(P"abc"^70000, string.rep("abc", 69999)), nil)
end)

case("deeply nested patterns", function()
    -- 300 levels of ((y + x) * y + x) * y ...: C LPeg has no nesting limit here
    local p = P"y"
    for _ = 1, 300 do p = (p + "x") * "y" end
    is(M(p, string.rep("y", 301)), 302)
    local q = P"a"
    for _ = 1, 300 do q = C(P"a") * q + "b" end
    is(M(q, "b"), 2)
end)

------------------------------------------------------------------------ bigger subjects
case("long subjects", function()
    local s = string.rep("ab", 50000)
    is(M((P"ab")^0 * -1, s), #s + 1)
    is(M(C((P"ab")^0), s), s)
    local t = lpeg.match(Ct((C"ab")^0), s)
    same(#t, 50000)
    is(M(Cs((P"a" / "x" + 1)^0), s), string.rep("xb", 50000))
    is(M(Cf(Cc(0) * (P"ab" * Cc(1))^0, function(a, b) return a + b end), s), 50000)
    is(M((1 - P"c")^0 * "c", s .. "c"), #s + 2)
end)

-- Left out on purpose: C LPeg behaviour that depends on its optimizer or on accidents of
-- its implementation, or that crashes it:
--  * the exact depth at which "backtrack stack overflow" happens (C turns tail calls into
--    jumps and takes no choice entry when the alternatives' first bytes differ);
--  * errors C never sees in branches its constructors drop: p1 + p2 is built as p1 alone
--    when p1 cannot fail (P"a"^0 + V"undefined" is no error), also inside B and grammars;
--  * empty loops in grammar rules no V refers to (C does not check those rules);
--  * left recursion hidden behind a grammar nested in a rule (-g * V"A": C misses it);
--  * B of a pattern with a V (C LPeg 1.0.2 fails an assertion);
--  * a Cmt returning values inside #p (C LPeg 1.0.2 fails an assertion);
--  * more than ~100 nested captures (C LPeg 1.0.2 writes past the Lua stack and crashes);
--  * thousands of values from one match (C: "stack overflow (too many captures)");
--  * grammars with more than ~250 rules (C: "grammar has too many rules", a Lua stack limit);
--  * p / n for n > 32767 and Carg(n) for n > 32767 (C's limit, not the manual's);
--  * quirks beyond the manual: a trailing "%" in a string capture adds a "\0"; Cb(nil)
--    finds anonymous groups; a Cmt returning a string or table is taken as a position
--    (tonumber); lpeg.V() with no argument is accepted; patterns index the lpeg table
--    (P"a":C() works).

case("patterns index the lpeg table (patt:C(), patt:match())", function()
    is(pack(lpeg.P"ab":C():match("abc")), "ab")
    is(pack(#lpeg.P"a":Ct():match("a")), 0)
    is(pack(P(1):match("x")), 2)
end)

if #failures > 0 then
    error(#failures .. " lpeg case(s) failed:\n" .. table.concat(failures, "\n"), 0)
end
