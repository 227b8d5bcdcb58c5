-- re: LPeg's regex-like pattern syntax (the `re` module of the LPeg distribution), written
-- for hekad's sandbox over the `lpeg` API. A pattern string is parsed into a small syntax
-- tree (pure syntax, so syntax errors always win), then the tree is turned into an LPeg
-- pattern (where undefined names and bad grammars are reported).
--
-- Public API: re.compile(string [, defs]), re.match(subject, pattern [, init]),
-- re.find(subject, pattern [, init]), re.gsub(subject, pattern, replacement),
-- re.updatelocale(). Reads no configuration.
local lpeg = require "lpeg"

local P, S, R, V = lpeg.P, lpeg.S, lpeg.R, lpeg.V
local C, Cp, Cs, Ct, Cg, Cb, Cf, Cmt = lpeg.C, lpeg.Cp, lpeg.Cs, lpeg.Ct, lpeg.Cg, lpeg.Cb,
    lpeg.Cf, lpeg.Cmt
local find, match, sub, byte = string.find, string.match, string.sub, string.byte
local concat, tonumber, type, error, pairs = table.concat, tonumber, type, error, pairs
local setmetatable, tostring, unpack = setmetatable, tostring, unpack

local M = {}

local ANY = P(1)

-- Pre-defined classes (%a, %A, ..., %nl) and the compiled-pattern caches.
local predefined
local cache, find_cache, gsub_cache

local function weak()
    return setmetatable({}, { __mode = "v" })
end

local SHORT = { a = "alpha", c = "cntrl", d = "digit", g = "graph", l = "lower",
    p = "punct", s = "space", u = "upper", w = "alnum", x = "xdigit" }

--- Rebuilds the pre-defined classes from the current locale (and drops cached patterns,
--- which were compiled with the old classes).
function M.updatelocale()
    local classes = lpeg.locale()
    local t = {}
    for name, class in pairs(classes) do t[name] = class end
    for short, long in pairs(SHORT) do
        t[short] = classes[long]
        t[string.upper(short)] = ANY - classes[long]
    end
    t.nl = P("\n")
    predefined = t
    cache, find_cache, gsub_cache = weak(), weak(), weak()
end

M.updatelocale()

---------------------------------------------------------------------------------------
-- Parser: pattern string -> syntax tree. Every parse function takes the source and a
-- position and returns node, next position; or nil (consuming nothing) when it fails.
---------------------------------------------------------------------------------------

local NAME = "^[A-Za-z_][A-Za-z0-9_]*"

-- Skips spaces and Lua-style comments ("--" to the end of the line).
local function skip(s, i)
    while true do
        local _, e = find(s, "^[ \t\n\r\v\f]+", i)
        if e then i = e + 1 end
        if sub(s, i, i + 1) ~= "--" then return i end
        _, e = find(s, "^[^\n]*", i + 2)
        i = e + 1
    end
end

-- True when a rule definition (`name <-`) starts at i.
local function at_definition(s, i)
    local name = match(s, NAME, i)
    if not name then return false end
    local j = skip(s, i + #name)
    return sub(s, j, j + 1) == "<-"
end

local parse_exp -- forward declaration (expressions nest)

local function parse_string(s, i)
    local quote = sub(s, i, i)
    local close = find(s, quote, i + 1, true)
    if not close then return nil end
    return { tag = "string", value = sub(s, i + 1, close - 1) }, close + 1
end

-- One item of a character class: %name, a range x-y or a single character.
local function parse_class_item(s, i)
    if sub(s, i, i) == "%" then
        local name = match(s, NAME, i + 1)
        if name then return { kind = "defined", name = name }, i + 1 + #name end
    end
    local c = sub(s, i, i)
    if c == "" then return nil end
    if sub(s, i + 1, i + 1) == "-" then
        local last = sub(s, i + 2, i + 2)
        if last ~= "" and last ~= "]" then
            return { kind = "range", from = c, to = last }, i + 3
        end
    end
    return { kind = "char", char = c }, i + 1
end

-- '[' '^'? item (!']' item)* ']'
local function parse_class(s, i)
    i = i + 1
    local node = { tag = "class", negated = false, items = {} }
    if sub(s, i, i) == "^" then node.negated = true; i = i + 1 end
    repeat
        local item
        item, i = parse_class_item(s, i)
        if not item then return nil end
        node.items[#node.items + 1] = item
    until sub(s, i, i) == "]"
    return node, i + 1
end

-- The `{...}` forms: {}, {: p :}, {:name: p :}, {~ p ~}, {| p |} and { p }.
local function parse_brace(s, i)
    local two = sub(s, i, i + 1)
    if two == "{}" then return { tag = "position" }, i + 2 end
    local tag, close, j = "capture", "}", i + 1
    local node = {}
    if two == "{:" then
        tag, close, j = "group", ":}", i + 2
        local name = match(s, NAME, j)
        if name and sub(s, j + #name, j + #name) == ":" then
            node.name, j = name, j + #name + 1
        end
    elseif two == "{~" then
        tag, close, j = "substitution", "~}", i + 2
    elseif two == "{|" then
        tag, close, j = "table", "|}", i + 2
    end
    local body
    body, j = parse_exp(s, j)
    if sub(s, j, j + #close - 1) ~= close then return nil end
    node.tag, node.body = tag, body
    return node, j + #close
end

local function parse_primary(s, i)
    local c = sub(s, i, i)
    if c == "(" then
        local node, j = parse_exp(s, i + 1)
        if sub(s, j, j) ~= ")" then return nil end
        return node, j + 1
    elseif c == "'" or c == '"' then
        return parse_string(s, i)
    elseif c == "[" then
        return parse_class(s, i)
    elseif c == "%" then
        local name = match(s, NAME, i + 1)
        if not name then return nil end
        return { tag = "defined", name = name }, i + 1 + #name
    elseif c == "{" then
        return parse_brace(s, i)
    elseif c == "=" then
        local name = match(s, NAME, i + 1)
        if not name then return nil end
        return { tag = "backref", name = name }, i + 1 + #name
    elseif c == "." then
        return { tag = "any" }, i + 1
    elseif c == "<" then
        local name = match(s, NAME, i + 1)
        if not name or sub(s, i + 1 + #name, i + 1 + #name) ~= ">" then return nil end
        return { tag = "rule", name = name }, i + 2 + #name
    end
    local name = match(s, NAME, i)
    if not name or at_definition(s, i) then return nil end
    return { tag = "rule", name = name }, i + #name
end

local ARROW_TAGS = { ["->"] = "function", ["=>"] = "matchtime", ["~>"] = "fold" }

-- Parses one postfix operator applied to `node` at i (i is past spaces).
local function parse_postfix(s, i, node)
    local c = sub(s, i, i)
    if c == "+" or c == "*" or c == "?" then
        return { tag = "repeat", op = c, body = node }, i + 1
    elseif c == "^" then
        local sign, digits = match(s, "^([+-]?)(%d+)", i + 1)
        if not digits then return nil end
        return { tag = "repeat", op = "^" .. sign, count = tonumber(digits), body = node },
            i + 1 + #sign + #digits
    end
    local arrow = sub(s, i, i + 1)
    if arrow ~= "->" and arrow ~= "=>" and arrow ~= "~>" then return nil end
    local j = skip(s, i + 2)
    local k = sub(s, j, j)
    if arrow == "->" then
        if k == "'" or k == '"' then
            local str, e = parse_string(s, j)
            if not str then return nil end
            return { tag = "replace", value = str.value, body = node }, e
        elseif sub(s, j, j + 1) == "{}" then
            return { tag = "table", body = node }, j + 2
        end
        local digits = match(s, "^%d+", j)
        if digits then
            return { tag = "numbered", index = tonumber(digits), body = node }, j + #digits
        end
    end
    local name = match(s, NAME, j)
    if not name then return nil end
    return { tag = ARROW_TAGS[arrow], name = name, body = node }, j + #name
end

-- primary followed by any number of postfix operators.
local function parse_suffix(s, i)
    local node, j = parse_primary(s, i)
    if not node then return nil end
    j = skip(s, j)
    while true do
        local next_node, k = parse_postfix(s, j, node)
        if not next_node then return node, j end
        node, j = next_node, skip(s, k)
    end
end

-- '&' prefix / '!' prefix / suffix
local function parse_prefix(s, i)
    local c = sub(s, i, i)
    if c == "&" or c == "!" then
        local node, j = parse_prefix(s, skip(s, i + 1))
        if not node then return nil end
        return { tag = c == "&" and "and" or "not", body = node }, j
    end
    return parse_suffix(s, i)
end

-- prefix* (possibly empty)
local function parse_sequence(s, i)
    local list = {}
    while true do
        local node, j = parse_prefix(s, i)
        if not node then break end
        list[#list + 1] = node
        i = j
    end
    if #list == 1 then return list[1], i end
    return { tag = "sequence", list = list }, i
end

-- sequence ('/' sequence)*
local function parse_choice(s, i)
    local node
    node, i = parse_sequence(s, i)
    local list = { node }
    while sub(s, i, i) == "/" do
        node, i = parse_sequence(s, skip(s, i + 1))
        list[#list + 1] = node
    end
    if #list == 1 then return list[1], i end
    return { tag = "choice", list = list }, i
end

-- (name '<-' exp)+
local function parse_grammar(s, i)
    local rules = {}
    while at_definition(s, i) do
        local name = match(s, NAME, i)
        local j = skip(s, i + #name) + 2
        local body
        body, i = parse_exp(s, j)
        rules[#rules + 1] = { name = name, body = body }
    end
    return { tag = "grammar", rules = rules }, i
end

-- spaces, then a grammar or an ordered choice. Never fails (may match nothing).
parse_exp = function(s, i)
    i = skip(s, i)
    if at_definition(s, i) then return parse_grammar(s, i) end
    return parse_choice(s, i)
end

-- Raises the syntax error for position i of source s.
local function syntax_error(s, i)
    local line, column = 1, i
    for nl in string.gmatch(sub(s, 1, i - 1), "()\n") do line, column = line + 1, i - nl end
    local where = "position " .. i
    if find(s, "\n", 1, true) then
        where = where .. " (line " .. line .. ", column " .. column .. ")"
    end
    local near = match(s, "^[^\n]*", i)
    if #near > 30 then near = sub(near, 1, 30) .. "..." end
    error("pattern error at " .. where .. " near '" .. near .. "'", 0)
end

---------------------------------------------------------------------------------------
-- Builder: syntax tree -> LPeg pattern.
---------------------------------------------------------------------------------------

local build -- forward declaration

-- %name: defs[name], else a pre-defined class.
local function defined(name, defs)
    local value = defs and defs[name]
    if value == nil then value = predefined[name] end
    if value == nil then error("name '" .. name .. "' undefined", 0) end
    return P(value)
end

-- The Lua value defs[name] named after ->, => or ~>.
local function lua_value(name, defs)
    local value = defs and defs[name]
    if value == nil then error("undefined name: " .. name, 0) end
    return value
end

-- Items are joined in their order (a %name may be a longer pattern, so order can matter);
-- runs of single characters and ranges become one set.
local function build_class(node, defs)
    local set, chars, ranges = nil, {}, {}
    local function add(p) set = set and set + p or p end
    local function flush()
        if #chars > 0 then add(S(concat(chars))) end
        if #ranges > 0 then add(R(unpack(ranges))) end
        chars, ranges = {}, {}
    end
    local items = node.items
    for k = 1, #items do
        local item = items[k]
        if item.kind == "char" then
            chars[#chars + 1] = item.char
        elseif item.kind == "range" then
            -- a reversed range (like z-a) is empty
            if byte(item.from) <= byte(item.to) then ranges[#ranges + 1] = item.from .. item.to end
        else
            flush()
            add(defined(item.name, defs))
        end
    end
    flush()
    set = set or P(false)
    if node.negated then return ANY - set end
    return set
end

-- =name: matches the (first) string value of the latest group capture `name`.
local function backref(name)
    return Cmt(Cb(name), function(subject, i, value)
        if type(value) ~= "string" then return false end
        local j = i + #value
        if sub(subject, i, j - 1) ~= value then return false end
        return j
    end)
end

local function build_repeat(node, p)
    local op = node.op
    if op == "*" then return p ^ 0
    elseif op == "+" then return p ^ 1
    elseif op == "?" then return p ^ -1
    elseif op == "^+" then return p ^ node.count
    elseif op == "^-" then return p ^ -node.count
    end
    -- p^n: exactly n repetitions
    local result = P(true)
    for _ = 1, node.count do result = result * p end
    return result
end

local function build_grammar(node, defs)
    local scope = { defined = {}, used = {} }
    local rules = { node.rules[1].name }
    for k = 1, #node.rules do
        local rule = node.rules[k]
        if scope.defined[rule.name] then
            error("'" .. rule.name .. "' already defined as a rule", 0)
        end
        scope.defined[rule.name] = true
        rules[rule.name] = build(rule.body, defs, scope)
    end
    for k = 1, #scope.used do
        local name = scope.used[k]
        if not scope.defined[name] then
            error("rule '" .. name .. "' undefined in given grammar", 0)
        end
    end
    return P(rules)
end

local function build_list(list, defs, scope, combine)
    local result = build(list[1], defs, scope)
    for k = 2, #list do result = combine(result, build(list[k], defs, scope)) end
    return result
end

local function seq(a, b) return a * b end
local function alt(a, b) return a + b end

-- scope: the grammar being built ({defined, used}), nil outside any grammar.
build = function(node, defs, scope)
    local tag = node.tag
    if tag == "string" then return P(node.value)
    elseif tag == "any" then return ANY
    elseif tag == "class" then return build_class(node, defs)
    elseif tag == "defined" then return defined(node.name, defs)
    elseif tag == "position" then return Cp()
    elseif tag == "backref" then return backref(node.name)
    elseif tag == "rule" then
        if not scope then error("rule '" .. node.name .. "' used outside a grammar", 0) end
        scope.used[#scope.used + 1] = node.name
        return V(node.name)
    elseif tag == "grammar" then return build_grammar(node, defs)
    elseif tag == "sequence" then
        if #node.list == 0 then return P(true) end
        return build_list(node.list, defs, scope, seq)
    elseif tag == "choice" then return build_list(node.list, defs, scope, alt)
    end
    local p = build(node.body, defs, scope)
    if tag == "capture" then return C(p)
    elseif tag == "group" then
        if node.name then return Cg(p, node.name) end
        return Cg(p)
    elseif tag == "substitution" then return Cs(p)
    elseif tag == "table" then return Ct(p)
    elseif tag == "and" then return #p
    elseif tag == "not" then return -p
    elseif tag == "repeat" then return build_repeat(node, p)
    elseif tag == "replace" then return p / node.value
    elseif tag == "numbered" then return p / node.index
    elseif tag == "function" then return p / lua_value(node.name, defs)
    elseif tag == "matchtime" then return Cmt(p, lua_value(node.name, defs))
    elseif tag == "fold" then return Cf(p, lua_value(node.name, defs))
    end
    error("re: unknown node " .. tostring(tag))
end

---------------------------------------------------------------------------------------
-- Public functions
---------------------------------------------------------------------------------------

--- Compiles a pattern string (an expression or a grammar) into an LPeg pattern; `defs`
--- gives the values of %name, -> name, => name and ~> name. An LPeg pattern is returned
--- unchanged. Raises "pattern error at position N ... near '...'" on bad syntax.
function M.compile(pattern, defs)
    if lpeg.type(pattern) == "pattern" then return pattern end
    if type(pattern) == "number" then pattern = tostring(pattern) end
    if type(pattern) ~= "string" then
        error("re.compile: pattern must be a string or an LPeg pattern", 2)
    end
    local tree, i = parse_exp(pattern, 1)
    if i <= #pattern then syntax_error(pattern, i) end
    return build(tree, defs, nil)
end

-- compile() with a cache (for patterns given to match/find/gsub as strings).
local function cached(pattern)
    local p = cache[pattern]
    if not p then
        p = M.compile(pattern)
        cache[pattern] = p
    end
    return p
end

--- Matches `pattern` against `subject` (anchored at `init`, default 1): all captures,
--- or the position after the match; nil when it does not match.
function M.match(subject, pattern, init)
    return lpeg.match(cached(pattern), subject, init or 1)
end

--- Searches `pattern` anywhere in `subject` from `init` (negative counts from the end):
--- the start and end index of the first match, or nil.
function M.find(subject, pattern, init)
    local finder = find_cache[pattern]
    if not finder then
        local p = cached(pattern) / 0
        finder = P { Cp() * p * Cp() + ANY * V(1) }
        find_cache[pattern] = finder
    end
    local first, after = lpeg.match(finder, subject, init or 1)
    if not first then return nil end
    return first, after - 1
end

--- Replaces every match of `pattern` in `subject` by `replacement` (a string with %0-%9,
--- a table or a function, as for LPeg's `patt / value`); returns the new string.
function M.gsub(subject, pattern, replacement)
    local byrep = gsub_cache[pattern]
    if not byrep then
        byrep = {}
        gsub_cache[pattern] = byrep
    end
    local substitute = byrep[replacement]
    if not substitute then
        substitute = Cs((cached(pattern) / replacement + ANY) ^ 0)
        byrep[replacement] = substitute
    end
    return lpeg.match(substitute, subject)
end

return M
