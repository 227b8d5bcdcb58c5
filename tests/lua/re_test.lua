-- Tests for the `re` module (src/sandbox/lpeg/re.lua): every example of LPeg's re manual,
-- every syntax element, the functions compile/match/find/gsub/updatelocale, error cases.
local h = require "harness"
local lpeg = require "lpeg"
local re = require "re"

local function pack(...) return { n = select("#", ...), ... } end

-- All results of matching `pattern` (string, compiled with `defs`) against `subject`.
local function m(pattern, subject, defs)
    return pack(lpeg.match(re.compile(pattern, defs), subject))
end

-- The error message raised by f(...), failing when f does not raise.
local function err(f, ...)
    local ok, msg = pcall(f, ...)
    if ok then error("expected an error", 2) end
    return msg
end

------------------------------------------------------------------ manual examples
-- A complete simple program
h.equal(pack(re.find("the number 423 is odd", "[0-9]+")), pack(12, 14), "find numeral")
h.equal(pack(re.find("the number 423 is odd", "{[0-9]+}")), pack(12, 14), "find drops captures")
h.equal(pack(re.match("the number 423 is odd", "({%a+} / .)*")),
    pack("the", "number", "is", "odd"), "all words")
h.equal(pack(re.match("the number 423 is odd", "s <- {%d+} / . s")), pack("423"), "first numeral")
h.equal(re.gsub("hello World", "[aeiou]", "."), "h.ll. W.rld", "gsub vowels")

-- Balanced parentheses
local b = re.compile [[  balanced <- "(" ([^()] / balanced)* ")"  ]]
h.equal(b:match("(a(b)c)"), 8, "balanced")
h.equal(b:match("(a(b)c)d)"), 8, "balanced prefix")
h.equal(b:match("(a(b c)"), nil, "unbalanced")
h.equal(b:match("()"), 3, "empty parens")

-- String reversal
local rev = re.compile [[ R <- (!.) -> '' / ({.} R) -> '%2%1']]
h.equal(rev:match("0123456789"), "9876543210", "reversal")
h.equal(rev:match(""), "", "reversal of empty")

-- CSV decoder
local record = re.compile [[
  record <- {| field (',' field)* |} (%nl / !.)
  field <- escaped / nonescaped
  nonescaped <- { [^,"%nl]* }
  escaped <- '"' {~ ([^"] / '""' -> '"')* ~} '"'
]]
h.equal(record:match('a,b,c\n'), { "a", "b", "c" }, "csv simple")
h.equal(record:match('1,"x,""y""",,z'), { "1", 'x,"y"', "", "z" }, "csv quoted")
h.equal(record:match('"open'), nil, "csv unterminated quote")

-- Lua's long strings
local long = re.compile([[
  longstring <- ('[' {:eq: '='* :} '[' close)
  close <- ']' =eq ']' / . close
]])
h.equal(long:match("[==[]]===]]]]==]===[]"), 17, "long string")
h.equal(long:match("[[abc]]"), 8, "long string level 0")
h.equal(long:match("[=[abc]]"), nil, "long string not closed")

-- Abstract syntax trees
local names = re.compile [[
      listname <- (name s)*
      name <- [a-z][a-z]*
      s <- %s*
]]
h.equal(names:match("hi hello bye"), 13, "list of names")
local c = re.compile [[
      listname <- {| (name s)* |}
      name <- {| {[a-z][a-z]*} |}
      s <- %s*
]]
h.equal(c:match("hi hello bye"), { { "hi" }, { "hello" }, { "bye" } }, "ast")
local x = re.compile [[
      listname <- {| {:tag: '' -> 'list':} (name s)* |}
      name <- {| {:tag: '' -> 'id':} {[a-z][a-z]*} |}
      s <- ' '*
]]
h.equal(x:match("hi hello bye"),
    { tag = "list", { tag = "id", "hi" }, { tag = "id", "hello" }, { tag = "id", "bye" } },
    "tagged ast")

-- Indented blocks
local blocks = re.compile [[
  block <- {| {:ident:' '*:} line
           ((=ident !' ' line) / &(=ident ' ') block)* |}
  line <- {[^%nl]*} %nl
]]
h.equal(blocks:match [[
first line
  subline 1
  subline 2
second line
third line
  subline 3.1
    subline 3.1.1
  subline 3.2
]], { "first line", { "subline 1", "subline 2", ident = "  " },
    "second line",
    "third line", { "subline 3.1", { "subline 3.1.1", ident = "    " },
        "subline 3.2", ident = "  " },
    ident = "" }, "indented blocks")

-- Macro expander
local macro = re.compile [[
      text <- {~ item* ~}
      item <- macro / [^()] / '(' item* ')'
      arg <- ' '* {~ (!',' item)* ~}
      args <- '(' arg (',' arg)* ')'
      -- now we define some macros
      macro <- ('apply' args) -> '%1(%2)'
             / ('add' args) -> '%1 + %2'
             / ('mul' args) -> '%1 * %2'
]]
h.equal(macro:match("add(mul(a,b), apply(f,x))"), "a * b + f(x)", "macros")

-- Arithmetic expressions (fold capture ~> and function capture -> name)
local function apply(acc, op, v)
    if op == "+" then return acc + v elseif op == "-" then return acc - v
    elseif op == "*" then return acc * v else return acc / v end
end
local calc = re.compile([[
  exp  <- S sum !.
  sum  <- (prod {: {[+-]} S prod :}*) ~> apply
  prod <- (atom {: {[*/]} S atom :}*) ~> apply
  atom <- ({%d+} S) -> tonumber / '(' S sum ')' S
  S    <- %s*
]], { apply = apply, tonumber = tonumber })
h.equal(calc:match("3 + 5*9 / (1+1) - 12"), 13.5, "calculator")
h.equal(calc:match(" 2 * (3 + 4) "), 14, "calculator parens")
h.equal(calc:match("2 +"), nil, "calculator syntax error")

-- Patterns: the self description of re's syntax must match itself
local self_description = [=[
pattern         <- exp !.
exp             <- S (grammar / alternative)

alternative     <- seq ('/' S seq)*
seq             <- prefix*
prefix          <- '&' S prefix / '!' S prefix / suffix
suffix          <- primary S (([+*?]
                            / '^' [+-]? num
                            / '->' S (string / '{}' / name / num)
                            / '=>' S name
                            / '~>' S name) S)*

primary         <- '(' exp ')' / string / class / defined
                 / '{:' (name ':')? exp ':}'
                 / '=' name
                 / '{}'
                 / '{~' exp '~}'
                 / '{|' exp '|}'
                 / '{' exp '}'
                 / '.'
                 / name S !arrow
                 / '<' name '>'          -- old-style non terminals

grammar         <- definition+
definition      <- name S arrow exp

class           <- '[' '^'? item (!']' item)* ']'
item            <- defined / range / .
range           <- . '-' [^]]

S               <- (%s / '--' [^%nl]*)*   -- spaces and comments
name            <- [A-Za-z_][A-Za-z0-9_]*
arrow           <- '<-'
num             <- [0-9]+
string          <- '"' [^"]* '"' / "'" [^']* "'"
defined         <- '%' name
]=]
h.equal(re.match(self_description, self_description), #self_description + 1, "self description")
h.equal(re.match("a <- 'x' / b", self_description), 13, "self description on a grammar")
h.equal(re.match("a <- ", self_description), 6, "self description, empty body")
h.equal(re.match("( x", self_description), nil, "self description rejects")

------------------------------------------------------------------ syntax elements
-- ( p ), 'string', "string", [class], .
h.equal(m("('a' 'b')", "abc"), pack(3), "grouping")
h.equal(m("(('a'))", "a"), pack(2), "nested grouping")
h.equal(m("'ab'", "abc"), pack(3), "single-quoted literal")
h.equal(m('"ab"', "abc"), pack(3), "double-quoted literal")
h.equal(m("\"it's\"", "it's"), pack(5), "quote inside other quotes")
h.equal(m("'\\n'", "\\n"), pack(3), "no escapes in literals")
h.equal(m("''", "x"), pack(1), "empty literal")
h.equal(m("'ab'", "ax"), pack(nil), "literal mismatch")
h.equal(m(".", "x"), pack(2), "any")
h.equal(m(".", ""), pack(nil), "any at end")
h.equal(m("...", "abcd"), pack(4), "three any")

-- character classes
h.equal(m("[a-c]+", "abcd"), pack(4), "range")
h.equal(m("[abc]+", "cabd"), pack(4), "set")
h.equal(m("[^a]+", "bca"), pack(3), "complement")
h.equal(m("[]a]+", "]a]b"), pack(4), "] first")
h.equal(m("[^]a]+", "xy]"), pack(3), "] first after ^")
h.equal(m("[a-]+", "a-a-b"), pack(5), "- last")
h.equal(m("[-a]+", "a-a-b"), pack(5), "- first")
h.equal(m("[a-c-e]+", "abc-e"), pack(6), "- after a range")
h.equal(m("[^^]+", "ab^"), pack(3), "^ not first")
h.equal(m("[]-a]+", "]^a"), pack(4), "range from ]")
h.equal(m("[%d]+", "12a"), pack(3), "predefined in class")
h.equal(m("[%a%d]+", "a1-"), pack(3), "two predefined in class")
h.equal(m("[%A]+", "12a"), pack(3), "complemented predefined in class")
h.equal(m("[^%a]+", "12a"), pack(3), "negated predefined in class")
h.equal(m("[%d-z]+", "5-z"), pack(4), "predefined then - then char")
h.equal(m("[%-]+", "%-a"), pack(3), "% not followed by a letter")
h.equal(m("[%nl]", "\n"), pack(2), "%nl in class")
h.equal(m("[%nl]", "n"), pack(nil), "%nl in class is not n")
h.equal(m("[b-a]?", "a"), pack(1), "reversed range is empty")

-- pre-defined classes
local classes = {
    { "a", "x", "1" }, { "c", "\1", "a" }, { "d", "7", "a" }, { "g", "!", " " },
    { "l", "q", "Q" }, { "p", ",", "a" }, { "s", "\t", "a" }, { "u", "Q", "q" },
    { "w", "9", "_" }, { "x", "f", "g" },
}
for _, t in ipairs(classes) do
    local name, yes, no = t[1], t[2], t[3]
    h.equal(m("%" .. name, yes), pack(2), "%" .. name .. " matches")
    h.equal(m("%" .. name, no), pack(nil), "%" .. name .. " rejects")
    h.equal(m("%" .. string.upper(name), no), pack(2), "%" .. string.upper(name) .. " matches")
    h.equal(m("%" .. string.upper(name), yes), pack(nil), "%" .. string.upper(name) .. " rejects")
end
h.equal(m("%s*", " \t\n\v\f\rx"), pack(7), "all spaces")
h.equal(m("%nl", "\n"), pack(2), "%nl")
h.equal(m("%nl", "n"), pack(nil), "%nl rejects")
h.equal(m("%alpha+", "abc1"), pack(4), "long class name")
h.equal(m("%digit+", "123a"), pack(4), "long class name digit")
h.equal(m("%A", ""), pack(nil), "complement needs a character")

-- %name from defs (defs win over pre-defined classes)
h.equal(m("%pat", "abc", { pat = lpeg.P("ab") }), pack(3), "%name pattern")
h.equal(m("%str+", "zzzy", { str = "z" }), pack(4), "%name string")
h.equal(m("%n", "abcd", { n = 3 }), pack(4), "%name number")
h.equal(m("%a", "x", { a = lpeg.P("z") }), pack(nil), "defs hide pre-defined")
h.equal(m("[^%pat]", "b", { pat = lpeg.P("a") }), pack(2), "%name in class")
h.equal(m("[a%pat]", "ab", { pat = lpeg.P("ab") }), pack(2), "class items keep their order")
h.equal(m("[%pat a]", "ab", { pat = lpeg.P("ab") }), pack(3), "class items keep their order 2")

-- non terminals: name and <name>
h.equal(m("a <- 'x' b  b <- 'y'", "xy"), pack(3), "non terminal")
h.equal(m("a <- 'x' <b>  b <- 'y'", "xy"), pack(3), "old-style non terminal")
h.equal(m("A1_b <- 'x'", "x"), pack(2), "name characters")
h.equal(m("_a <- 'x'", "x"), pack(2), "name starting with _")
h.equal(m("a<-b b<-'y'", "y"), pack(2), "no spaces around arrows")

-- captures: {}, { p }, {: p :}, {:name: p :}, {~ p ~}, {| p |}, =name
h.equal(m("{}", "a"), pack(1), "position capture")
h.equal(m("{}'a'{}", "a"), pack(1, 2), "two position captures")
h.equal(m("{ }", "a"), pack(""), "simple capture of nothing")
h.equal(m("{'a'*}", "aab"), pack("aa"), "simple capture")
h.equal(m("{'a' {'b'}}", "ab"), pack("ab", "b"), "nested simple captures")
h.equal(m("{: {'a'} {'b'} :}", "ab"), pack("a", "b"), "anonymous group")
h.equal(m("{:x: {'a'} :}", "a"), pack(2), "named group outside a table gives nothing")
h.equal(m("{| {:x: {'a'} :} {'b'} |}", "ab"), pack({ x = "a", "b" }), "named group in table")
h.equal(m("{~ ('a' -> 'b' / .)* ~}", "banana"), pack("bbnbnb"), "substitution capture")
h.equal(m("{~ {'a'} ~}", "a"), pack("a"), "substitution keeps the match")
h.equal(m("{| {'a'}* |}", "aab"), pack({ "a", "a" }), "table capture")
h.equal(m("{| |}", "x"), pack({}), "empty table capture")
h.equal(m("{:x: 'a'+ :} ' ' =x", "aa aa"), pack(6), "back reference")
h.equal(m("{:x: 'a'+ :} ' ' =x", "aa a"), pack(nil), "back reference mismatch")
h.equal(m("{:x: {'1'} {'2'} :} =x", "121"), pack(4), "back reference uses the first value")
h.equal(m("{:x: 'a' :} {:x: 'b' :} =x", "abb"), pack(4), "back reference to the latest group")

-- repetitions: ?, *, +, ^num, ^+num, ^-num
h.equal(m("'a'?", "aa"), pack(2), "optional present")
h.equal(m("'a'?", "b"), pack(1), "optional absent")
h.equal(m("'a'*", "aaab"), pack(4), "star")
h.equal(m("'a'*", "b"), pack(1), "star zero")
h.equal(m("'a'+", "aaab"), pack(4), "plus")
h.equal(m("'a'+", "b"), pack(nil), "plus needs one")
h.equal(m("'a'^2", "aaaa"), pack(3), "exactly 2")
h.equal(m("'a'^2", "a"), pack(nil), "exactly 2, too few")
h.equal(m("'a'^0", "aa"), pack(1), "exactly 0")
h.equal(m("[a-z]^2", "abc"), pack(3), "class exactly 2")
h.equal(m("'a'^+2", "aaaa"), pack(5), "at least 2")
h.equal(m("'a'^+2", "a"), pack(nil), "at least 2, too few")
h.equal(m("'a'^-2", "aaaa"), pack(3), "at most 2")
h.equal(m("'a'^-2", "b"), pack(1), "at most 2, none")
h.equal(m("'a' ^2", "aa"), pack(3), "space before ^")
h.equal(m("'a'+?", "aa"), pack(3), "stacked suffixes")

-- ->, => and ~>
h.equal(m("'a' -> 'x'", "a"), pack("x"), "string capture")
h.equal(m('\'a\' -> "x"', "a"), pack("x"), "string capture, double quotes")
h.equal(m("'a'->'x'", "a"), pack("x"), "string capture without spaces")
h.equal(m("{'a'} -> '<%1>'", "a"), pack("<a>"), "string capture %1")
h.equal(m("'a' -> 'x%0y'", "a"), pack("xay"), "string capture %0")
h.equal(m("'a' -> 'x' -> 'y%1'", "a"), pack("yx"), "chained string captures")
h.equal(m("({'a'} {'b'}) -> 2", "ab"), pack("b"), "numbered capture")
h.equal(m("({'a'} {'b'}) -> 1", "ab"), pack("a"), "numbered capture 1")
h.equal(m("{'a'} -> 0", "a"), pack(2), "numbered capture 0 drops values")
h.equal(m("{.}* -> {}", "abc"), pack({ "a", "b", "c" }), "-> {} table capture")
h.equal(m("'a' ->{}", "a"), pack({}), "-> {} without spaces")
h.equal(m("{.} -> f", "a", { f = function(s) return "<" .. s .. ">" end }), pack("<a>"),
    "function capture")
h.equal(m("{.} -> t", "a", { t = { a = "A" } }), pack("A"), "query capture")
h.equal(m("{.} -> t", "b", { t = { a = "A" } }), pack(2), "query capture miss")
h.equal(m("'a' -> s", "a", { s = "x" }), pack("x"), "-> name string")
h.equal(m("'a' => f", "ab", { f = function(_, i) return i + 1 end }), pack(3), "match-time capture")
h.equal(m("'a' => f", "a", { f = function() return false end }), pack(nil), "match-time failure")
h.equal(m("{'a'} => f", "a", { f = function(_, _, c) return true, c .. "!" end }), pack("a!"),
    "match-time capture values")
h.equal(m("({%d} {%d}) ~> f", "12", { f = function(a, b) return a + b end }), pack(3),
    "fold capture")
h.equal(m("{| ({%d} -> n)* |}", "123", { n = tonumber }), pack({ 1, 2, 3 }), "-> tonumber")

-- & p, ! p
h.equal(m("&'a' 'a'", "a"), pack(2), "and predicate")
h.equal(m("&'a'", "a"), pack(1), "and predicate consumes nothing")
h.equal(m("&'a'", "b"), pack(nil), "and predicate fails")
h.equal(m("!'a' .", "b"), pack(2), "not predicate")
h.equal(m("!'a' .", "a"), pack(nil), "not predicate fails")
h.equal(m("!.", ""), pack(1), "end of subject")
h.equal(m("!'a'*", "b"), pack(nil), "not applies to the suffixed pattern")
h.equal(m("! !'a'", "a"), pack(1), "double not")

-- p1 p2, p1 / p2
h.equal(m("'a' 'b'", "ab"), pack(3), "concatenation")
h.equal(m("'a' 'b' / 'c'", "c"), pack(2), "choice binds weaker than concatenation")
h.equal(m("'ab' / 'a'", "a"), pack(2), "ordered choice")
h.equal(m("'a' / ", "b"), pack(1), "empty alternative")
h.equal(m("( 'a' / 'b' ) 'c'", "bc"), pack(3), "grouped choice")
h.equal(m("'a' 'b' -> 'x'", "ab"), pack("x"), "suffix binds tighter than concatenation")

-- grammars
h.equal(m("a <- 'x' b <- 'y'", "x"), pack(2), "first rule is the start")
h.equal(m("a <- b <- 'x'", "x"), pack(2), "a grammar as a rule body")
h.equal(m("x <- (y) y <- 'a'", "a"), pack(2), "non terminal in parentheses")
h.equal(m("( a <- 'x' )", "x"), pack(2), "grammar in parentheses")
h.equal(m("'y' (a <- 'x' a / '')", "yxx"), pack(4), "grammar inside an expression")

-- spaces and comments
h.equal(m("", "a"), pack(1), "empty pattern")
h.equal(m("  -- comment\n 'a' --c\n", "a"), pack(2), "comments")
h.equal(m("-- only a comment", "a"), pack(1), "only a comment")
h.equal(m("'a'\t/\n'b'", "b"), pack(2), "tabs and newlines")
h.equal(m("'a' -- c\n / 'b'", "b"), pack(2), "comment before /")
h.equal(m("a <- 'x' -- c\n b <- 'y'", "x"), pack(2), "comment between rules")

------------------------------------------------------------------ functions
-- re.compile
local compiled = re.compile("'a'")
h.equal(lpeg.type(compiled), "pattern", "compile gives a pattern")
h.equal(re.compile(compiled), compiled, "compile returns patterns unchanged")
h.equal(re.match("abc", lpeg.C(1)), "a", "match with an LPeg pattern")

-- re.match
h.equal(pack(re.match("abc", "{.}", 2)), pack("b"), "match init")
h.equal(pack(re.match("abc", "{.}", -1)), pack("c"), "match negative init")
h.equal(pack(re.match("abc", "'b'")), pack(nil), "match is anchored")
h.equal(pack(re.match("abc", "'a'")), pack(2), "match position")
h.equal(pack(re.match("abc", "'a'")), pack(2), "match again (cached)")

-- re.find
h.equal(pack(re.find("the number 423 is odd", "[0-9]+", 14)), pack(14, 14), "find init")
h.equal(pack(re.find("the number 423 is odd", "[0-9]+", -8)), pack(14, 14), "find negative init")
h.equal(pack(re.find("the number 423 is odd", "[0-9]+", -3)), pack(nil), "find none after init")
h.equal(pack(re.find("abc", "'x'")), pack(nil), "find nothing")
h.equal(pack(re.find("abc", "!.")), pack(4, 3), "find empty match at the end")
h.equal(pack(re.find("abc", "''")), pack(1, 0), "find empty match")
h.equal(pack(re.find("aXbXc", "'X'", 3)), pack(4, 4), "find second")
h.equal(pack(re.find("", "'a'")), pack(nil), "find in empty subject")
h.equal(pack(re.find("xxab", lpeg.P("ab"))), pack(3, 4), "find an LPeg pattern")

-- re.gsub
h.equal(re.gsub("hello World", "{[aeiou]}", "<%1>"), "h<e>ll<o> W<o>rld", "gsub %1")
h.equal(re.gsub("hello World", "[aeiou]", { e = "E" }), "hEllo World", "gsub table")
h.equal(re.gsub("hello World", "[aeiou]", string.upper), "hEllO WOrld", "gsub function")
h.equal(re.gsub("hello World", "%w+", function(w) return #w end), "5 5", "gsub number result")
h.equal(re.gsub("abcd", "{.}{.}", "%2%1"), "badc", "gsub captures")
h.equal(re.gsub("hello", "'z'", "x"), "hello", "gsub without matches")
h.equal(re.gsub("", "'z'", "x"), "", "gsub empty subject")
h.equal(re.gsub("aaa", "'a'", "%0%0"), "aaaaaa", "gsub %0")
h.equal(re.gsub("a b", "' '", "."), "a.b", "gsub again (cached)")

-- re.updatelocale
re.updatelocale()
h.equal(re.match("abc1", "%a+"), 4, "classes after updatelocale")
h.equal(re.match("abc1", "{%l+}"), "abc", "cached patterns after updatelocale")

------------------------------------------------------------------ errors
h.equal(err(re.compile, "("), "pattern error at position 1 near '('", "unclosed parenthesis")
h.equal(err(re.compile, "'a' 'b' )"), "pattern error at position 9 near ')'", "stray )")
h.equal(err(re.compile, "'a"), "pattern error at position 1 near ''a'", "unclosed string")
h.equal(err(re.compile, "[a"), "pattern error at position 1 near '[a'", "unclosed class")
h.equal(err(re.compile, "[]"), "pattern error at position 1 near '[]'", "class without items")
h.equal(err(re.compile, "'a' ->"), "pattern error at position 5 near '->'", "-> without target")
h.equal(err(re.compile, "'a' =>"), "pattern error at position 5 near '=>'", "=> without name")
h.equal(err(re.compile, "'a' ~> 3"), "pattern error at position 5 near '~> 3'", "~> with number")
h.equal(err(re.compile, "'a'^x"), "pattern error at position 4 near '^x'", "^ without number")
h.equal(err(re.compile, "'a'^ 2"), "pattern error at position 4 near '^ 2'", "space after ^")
h.equal(err(re.compile, "="), "pattern error at position 1 near '='", "= without name")
h.equal(err(re.compile, "%"), "pattern error at position 1 near '%'", "% without name")
h.equal(err(re.compile, "< a >"), "pattern error at position 1 near '< a >'", "<name> with spaces")
h.equal(err(re.compile, "{:x:}"), "pattern error at position 1 near '{:x:}'", "bad group")
h.equal(err(re.compile, "1a <- 'x'"), "pattern error at position 1 near '1a <- 'x''",
    "name starting with a digit")
h.equal(err(re.compile, "a <- 'x'\n  b <- 'y' )\n c <- 'z'"),
    "pattern error at position 21 (line 2, column 12) near ')'", "error line and column")
h.equal(err(re.compile, "'a' 'b' 'c' 'd' 'e' 'f' 'g' 'h' ) 'i' 'j' 'k' 'l' 'm' 'n' 'o' 'p'"),
    "pattern error at position 33 near ') 'i' 'j' 'k' 'l' 'm' 'n' 'o' ...'", "long rest is cut")
h.equal(err(re.compile, "a"), "rule 'a' used outside a grammar", "non terminal outside grammar")
h.equal(err(re.compile, "'x' <a>"), "rule 'a' used outside a grammar", "<name> outside grammar")
h.equal(err(re.compile, "a <- b"), "rule 'b' undefined in given grammar", "undefined rule")
h.equal(err(re.compile, "a <- (b <- 'x' a)"), "rule 'a' undefined in given grammar",
    "inner grammar does not see outer rules")
h.equal(err(re.compile, "a <- 'a' a <- 'b'"), "'a' already defined as a rule", "rule defined twice")
h.equal(err(re.compile, "%foo"), "name 'foo' undefined", "undefined %name")
h.equal(err(re.compile, "[%foo]"), "name 'foo' undefined", "undefined %name in class")
h.equal(err(re.compile, "'a' -> foo"), "undefined name: foo", "undefined -> name")
h.equal(err(re.compile, "'a' => foo", {}), "undefined name: foo", "undefined => name")
h.equal(err(re.compile, "'a' ~> foo"), "undefined name: foo", "undefined ~> name")
h.equal(err(re.compile, "a (", nil), "pattern error at position 3 near '('",
    "syntax errors come before other errors")
h.equal(err(re.match, "x", "("), "pattern error at position 1 near '('", "match reports syntax")
h.equal(err(re.find, "x", "("), "pattern error at position 1 near '('", "find reports syntax")
h.equal(err(re.gsub, "x", "(", ""), "pattern error at position 1 near '('", "gsub reports syntax")
