-- common_log_format: grammar generators for nginx and Apache access logs, the nginx
-- error log grammar and a user agent normaliser (hekad's version of lua_sandbox's
-- `common_log_format` module; written from its documentation and the field names, types
-- and representations shown in Heka's nginx/apache decoder documentation). Reads no
-- configuration.
--
--   build_nginx_grammar(log_format)   nginx `log_format` string -> LPeg grammar
--   build_apache_grammar(log_format)  Apache `LogFormat` string -> LPeg grammar
--   nginx_error_grammar               LPeg grammar for one nginx error log line
--   normalize_user_agent(ua)          -> browser, version, os
--
-- The access log grammars match one whole line (an optional trailing "\r\n" or "\n" is
-- allowed) and capture a table of Heka message fields named after the nginx variables:
--   $time_local / $time_iso8601 (Apache %t, %{format}t)  -> `time`: ns since the epoch
--   addresses ($remote_addr, $server_addr; %a %A %h)      -> {value=, representation=
--                                                            "ipv4"|"ipv6"} (else string)
--   $status, $connection, ports and other counters        -> numbers
--   byte counts ($body_bytes_sent, $bytes_sent, ...)       -> {value=n, representation="B"}
--   durations ($request_time, $upstream_*_time, $msec)     -> {value=n, representation="s"}
--   $upstream_* lists ("0.010, 0.020 : 0.005")             -> the text as written
--   everything else, and unknown variables                 -> strings
-- A "-" in a numeric position produces no field. Grammars are built once per call; build
-- them when the plugin loads, not per message.
local lpeg = require "lpeg"
local string = require "string"
local date_time = require "date_time"
local ip_address = require "ip_address"

local P, R, S, C, Cc, Cg, Ct = lpeg.P, lpeg.R, lpeg.S, lpeg.C, lpeg.Cc, lpeg.Cg, lpeg.Ct
local tonumber, type, error, ipairs, pairs = tonumber, type, error, ipairs, pairs

local M = {}

local digit = R"09"
local alnum = R("az", "AZ", "09")
local eol = P"\r"^-1 * P"\n"^-1 * -1

--------------------------------------------------------------------------------------------
-- Value patterns.

local number_text = digit^1 * (P"." * digit^1)^-1
local number = number_text / tonumber

-- A pattern capturing the Heka field table {value = <text of p, converted by conv>,
-- representation = repr} (a table constructor is cheaper than Ct with named groups).
local function field(p, repr, conv)
    if conv then
        return p / function(s) return { value = conv(s), representation = repr } end
    end
    return p / function(s) return { value = s, representation = repr } end
end

-- A number, or the field table {value = <number>, representation = repr}.
local function number_field(repr)
    if not repr then return number end
    return field(number_text, repr, tonumber)
end

-- nginx joins the values of several upstream servers with ", " and of several upstream
-- groups (internal redirects) with " : ".
local list_item = number_text + P"-"
local list = list_item * ((P", " + P" : ") * list_item)^1

local addr_list = (1 - S" ,\t\r\n\"")^1 * ((P", " + P" : ") * (1 - S" ,\t\r\n\"")^1)^0

local host_chars = (alnum + S"-._:[]")^1

local time_to_ns = date_time.time_to_ns

-- A CLF timestamp "10/Oct/2000:13:55:36 -0700", validated like date_time.clf_timestamp,
-- captured as its numeric parts for clf_ns (no table, no string per part).
local two = digit * digit
local months = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8,
    Sep = 9, Oct = 10, Nov = 11, Dec = 12 }
local month_name = P"Jan" + P"Feb" + P"Mar" + P"Apr" + P"May" + P"Jun" + P"Jul" + P"Aug"
    + P"Sep" + P"Oct" + P"Nov" + P"Dec"
local clf_parts = ((P"0" * R"19" + S"12" * digit + P"3" * S"01") / tonumber) * P"/"
    * (month_name / months) * P"/" * (two * two / tonumber)
    * P":" * ((S"01" * digit + P"2" * R"03") / tonumber) * P":" * (R"05" * digit / tonumber)
    * P":" * ((R"05" * digit + P"60") / tonumber) * P" " * C(S"+-")
    * ((S"01" * digit + P"2" * R"03") / tonumber) * (R"05" * digit / tonumber)

-- Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm); the
-- last date is kept, as consecutive log lines share it.
local floor = math.floor
local last_y, last_m, last_d, last_days
local function days_from_civil(y, m, d)
    if y == last_y and m == last_m and d == last_d then return last_days end
    local yy = m <= 2 and y - 1 or y
    local era = floor(yy / 400)
    local yoe = yy - era * 400
    local doy = floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
    local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
    last_y, last_m, last_d, last_days = y, m, d, era * 146097 + doe - 719468
    return last_days
end

local function clf_ns(d, m, y, hour, min, sec, sign, off_h, off_m)
    local offset = (off_h * 60 + off_m) * 60
    if sign == "-" then offset = -offset end
    return ((days_from_civil(y, m, d) * 86400 + hour * 3600 + min * 60 + sec) - offset) * 1e9
end

local clf_time = clf_parts / clf_ns
local iso_time = date_time.rfc3339_ns

-- Any text up to (not including) the literal `lit`. With `escaped`, a backslash and the
-- character after it are always part of the value (Apache writes \" inside quoted values).
local function upto(lit, escaped)
    local first = lit:sub(1, 1)
    local alts = (1 - S(escaped and first .. "\\" or first))^1
    if escaped then alts = alts + P"\\" * P(1) end
    if #lit > 1 then alts = alts + (1 - P(lit)) end
    return alts^0
end

-- The text of a string value followed by `lit` ("" when a variable follows directly, nil at
-- the end of the format).
local function string_value(lit, escaped)
    if lit == nil then return (1 - S"\r\n")^0 end
    if lit == "" then return (1 - S" \t\r\n")^0 end
    return upto(lit, escaped)
end

--------------------------------------------------------------------------------------------
-- Variable kinds. Each returns the list of alternatives for one variable named `name`;
-- the builder appends the following literal to every alternative, so a typed match that is
-- not followed by its literal falls back to the next alternative.

local kinds = {}

function kinds.string(name, spec, lit, escaped)
    return { Cg(C(string_value(lit, escaped)), name) }
end

-- A URI path: when a variable follows directly (%U%q), it ends before a "?".
function kinds.path(name, spec, lit, escaped)
    if lit == "" then return { Cg(C((1 - S"? \t\r\n")^0), name) } end
    return kinds.string(name, spec, lit, escaped)
end

function kinds.host(name, spec, lit, escaped)
    local alts = { Cg(C(host_chars), name) }
    if lit ~= "" then alts[2] = Cg(C(string_value(lit, escaped)), name) end
    return alts
end

local v4_field = field(ip_address.v4, "ipv4")
local v6_field = field(ip_address.v6, "ipv6")

function kinds.ip(name, spec, lit, escaped)
    return { Cg(v4_field, name), Cg(v6_field, name),
        Cg(C(string_value(lit, escaped)), name) }
end

function kinds.number(name, spec)
    return { Cg(number_field(spec.repr), name), P"-" }
end

-- Apache %b: "-" means no bytes.
local function zero() return 0 end

function kinds.number_or_zero(name, spec)
    return { Cg(number_field(spec.repr), name), Cg(field(P"-", spec.repr, zero), name) }
end

function kinds.list(name, spec)
    return { Cg(C(list), name), Cg(number_field(spec.repr), name), P"-" }
end

-- $upstream_addr: "host:port" items joined like the other upstream lists.
function kinds.addr_list(name, spec, lit, escaped)
    local alts = { Cg(C(addr_list), name) }
    if lit ~= "" then alts[2] = Cg(C(string_value(lit, escaped)), name) end
    return alts
end

function kinds.clf_time()
    return { Cg(clf_time, "time") }
end

function kinds.clf_time_bracketed()
    return { P"[" * Cg(clf_time, "time") * P"]" }
end

function kinds.iso_time()
    return { Cg(iso_time, "time") }
end

function kinds.strftime(name, spec)
    return { Cg(date_time.build_strftime_grammar(spec.format) / time_to_ns, "time") }
end

-- Seconds (scale 1e9), milliseconds (1e6) or microseconds (1e3) since the epoch.
function kinds.epoch(name, spec)
    local scale = spec.scale
    return { Cg(C(digit^1) / function(s) return tonumber(s) * scale end, "time") }
end

--------------------------------------------------------------------------------------------
-- Grammar assembly from a list of elements: { lit = "text" } or { name = n, spec = s }.

local function build(elements, escaped)
    local seq = P(true)
    local i, n = 1, #elements
    while i <= n do
        local e = elements[i]
        if e.lit then
            seq = seq * P(e.lit)
            i = i + 1
        else
            local nxt = elements[i + 1]
            local lit
            if nxt then lit = nxt.lit or "" end
            local tail = (lit and lit ~= "") and P(lit) or P(true)
            local p
            for _, alt in ipairs(kinds[e.spec.kind](e.name, e.spec, lit, escaped)) do
                p = p and p + alt * tail or alt * tail
            end
            seq = seq * p
            i = i + ((nxt and nxt.lit) and 2 or 1)
        end
    end
    return Ct(seq) * eol
end

local function add_literal(elements, text)
    if text == "" then return end
    local last = elements[#elements]
    if last and last.lit then
        last.lit = last.lit .. text
    else
        elements[#elements + 1] = { lit = text }
    end
end

--------------------------------------------------------------------------------------------
-- nginx.

local STRING = { kind = "string" }
local HOST = { kind = "host" }
local PATH = { kind = "path" }
local IP = { kind = "ip" }
local NUMBER = { kind = "number" }
local BYTES = { kind = "number", repr = "B" }
local SECONDS = { kind = "number", repr = "s" }

local nginx_variables = {
    time_local = { kind = "clf_time" },
    time_iso8601 = { kind = "iso_time" },
    remote_addr = IP,
    server_addr = IP,
    realip_remote_addr = IP,
    uri = PATH,
    document_uri = PATH,
    host = HOST,
    hostname = HOST,
    http_host = HOST,
    server_name = HOST,
    status = NUMBER,
    connection = NUMBER,
    connection_requests = NUMBER,
    pid = NUMBER,
    remote_port = NUMBER,
    server_port = NUMBER,
    realip_remote_port = NUMBER,
    gzip_ratio = NUMBER,
    body_bytes_sent = BYTES,
    bytes_sent = BYTES,
    request_length = BYTES,
    content_length = BYTES,
    request_time = SECONDS,
    msec = SECONDS,
    upstream_addr = { kind = "addr_list" },
    upstream_status = { kind = "list" },
    upstream_response_time = { kind = "list", repr = "s" },
    upstream_connect_time = { kind = "list", repr = "s" },
    upstream_header_time = { kind = "list", repr = "s" },
    upstream_response_length = { kind = "list", repr = "B" },
    upstream_bytes_received = { kind = "list", repr = "B" },
    upstream_bytes_sent = { kind = "list", repr = "B" },
}

local name_char = alnum + P"_"
local nginx_element = P"${" * Cg(C(name_char^1), "name") * P"}"
    + P"$" * Cg(C(name_char^1), "name")
    + Cg(C((1 - P"$")^1 + P"$"), "lit")
local nginx_parser = Ct(Ct(nginx_element)^0) * -1

--- Constructs an LPeg grammar from an nginx `log_format` string ($name and ${name}
--- variables). The grammar captures a table of message fields (see the header); throws
--- an error if log_format is not a string.
function M.build_nginx_grammar(log_format)
    if type(log_format) ~= "string" then error("log_format must be a string", 2) end
    local elements = {}
    for _, e in ipairs(nginx_parser:match(log_format)) do
        if e.lit then
            add_literal(elements, e.lit)
        else
            elements[#elements + 1] = { name = e.name, spec = nginx_variables[e.name] or STRING }
        end
    end
    return build(elements, false)
end

--------------------------------------------------------------------------------------------
-- Apache.

-- Fixed-name directives: letter -> field name and kind.
local apache_directives = {
    a = { "remote_addr", IP },
    A = { "server_addr", IP },
    B = { "body_bytes_sent", BYTES },
    b = { "body_bytes_sent", { kind = "number_or_zero", repr = "B" } },
    D = { "request_time", { kind = "number", repr = "us" } },
    f = { "request_filename", STRING },
    h = { "remote_addr", IP },
    H = { "server_protocol", STRING },
    I = { "request_length", BYTES },
    k = { "connection_requests", NUMBER },
    l = { "remote_logname", STRING },
    L = { "request_log_id", STRING },
    m = { "request_method", STRING },
    O = { "bytes_sent", BYTES },
    p = { "server_port", NUMBER },
    P = { "pid", NUMBER },
    q = { "query_string", STRING },
    r = { "request", STRING },
    R = { "handler", STRING },
    s = { "status", NUMBER },
    S = { "bytes_transferred", BYTES },
    t = { "time", { kind = "clf_time_bracketed" } },
    T = { "request_time", SECONDS },
    u = { "remote_user", STRING },
    U = { "uri", PATH },
    v = { "server_name", HOST },
    V = { "server_name", HOST },
    X = { "connection_status", STRING },
}

-- Header/cookie/environment names as nginx spells them: lower case, "-" -> "_".
local function nginx_name(prefix, param)
    return prefix .. string.lower(param):gsub("[^%w_]", "_")
end

local time_units = { s = "s", ms = "ms", us = "us" }

-- Field name and kind of directive `letter` with its {param} (or nil).
local function apache_directive(letter, param)
    if param then
        if letter == "i" then return nginx_name("http_", param), STRING end
        if letter == "o" then return nginx_name("sent_http_", param), STRING end
        if letter == "C" then return nginx_name("cookie_", param), STRING end
        if letter == "e" then return nginx_name("env_", param), STRING end
        if letter == "n" then return nginx_name("note_", param), STRING end
        if letter == "a" then return "remote_addr", IP end
        if letter == "p" then
            if param == "remote" then return "remote_port", NUMBER end
            return "server_port", NUMBER
        end
        if letter == "P" then
            if param == "tid" then return "tid", NUMBER end
            if param == "hextid" then return "tid", STRING end
            return "pid", NUMBER
        end
        if letter == "T" then
            local repr = time_units[param]
            if not repr then error("unsupported Apache %{" .. param .. "}T unit", 3) end
            return "request_time", { kind = "number", repr = repr }
        end
        if letter == "t" then
            local fmt = param:gsub("^begin:", ""):gsub("^end:", "")
            if fmt == "sec" then return "time", { kind = "epoch", scale = 1e9 } end
            if fmt == "msec" then return "time", { kind = "epoch", scale = 1e6 } end
            if fmt == "usec" then return "time", { kind = "epoch", scale = 1e3 } end
            if fmt == "msec_frac" or fmt == "usec_frac" then return fmt, NUMBER end
            return "time", { kind = "strftime", format = fmt }
        end
    end
    local d = apache_directives[letter]
    if not d then error("unsupported Apache log format directive %" .. letter, 3) end
    return d[1], d[2]
end

local escapes = { ['"'] = '"', ["\\"] = "\\", n = "\n", t = "\t" }

local apache_element = P"%%" * Cg(Cc"%", "lit")
    + P"%" * S"<>!0123456789,"^0 * (P"{" * Cg(C((1 - P"}")^0), "param") * P"}")^-1
        * S"<>"^0 * Cg(C(R("az", "AZ")), "letter")
    + P"\\" * Cg(C(S'"\\nt') / function(c) return escapes[c] end, "lit")
    + Cg(C((1 - S"%\\")^1 + P(1)), "lit")
local apache_parser = Ct(Ct(apache_element)^0) * -1

--- Constructs an LPeg grammar from an Apache `LogFormat` string. Directives are mapped
--- onto nginx variable names (%h -> remote_addr, %>s -> status, %{User-Agent}i ->
--- http_user_agent, ...); \" \\ \n \t in the format are unescaped as Apache does. Throws
--- an error on a directive Apache does not define or if log_format is not a string.
function M.build_apache_grammar(log_format)
    if type(log_format) ~= "string" then error("log_format must be a string", 2) end
    local parsed = apache_parser:match(log_format)
    if not parsed then error("invalid Apache log format: " .. log_format, 2) end
    local elements = {}
    for _, e in ipairs(parsed) do
        if e.lit then
            add_literal(elements, e.lit)
        else
            local name, spec = apache_directive(e.letter, e.param)
            elements[#elements + 1] = { name = name, spec = spec }
        end
    end
    return build(elements, true)
end

--------------------------------------------------------------------------------------------
-- nginx error log.

local levels = { emerg = 0, alert = 1, crit = 2, error = 3, warn = 4, notice = 5, info = 6,
    debug = 7 }

local function level_pattern()
    local p
    for name, severity in pairs(levels) do
        local alt = P(name) * Cc(severity)
        p = p and p + alt or alt
    end
    return p
end

local integer = digit^1 / tonumber
local error_time = Ct(date_time.date_fullyear * P"/" * date_time.date_month * P"/"
    * date_time.date_mday * P" " * date_time.time_hour * P":" * date_time.time_minute
    * P":" * date_time.time_second) / time_to_ns

--- Grammar for an nginx error log line
--- "2014/01/10 07:04:56 [notice] 16842#0: *8878 using inherited sockets from \"6;\"";
--- captures time (ns, the logged local time taken as UTC), severity (syslog number:
--- emerg 0 .. debug 7), pid, tid, connection (when "*N " is present) and msg.
M.nginx_error_grammar = Ct(Cg(error_time, "time") * P" [" * Cg(level_pattern(), "severity")
    * P"] " * Cg(integer, "pid") * P"#" * Cg(integer, "tid") * P": "
    * (P"*" * Cg(integer, "connection") * P" ")^-1
    * Cg(C((1 - S"\r\n")^0), "msg")) * eol

--------------------------------------------------------------------------------------------
-- User agent normalisation.

-- Crawlers and command line clients, checked first when the agent contains one of the
-- plain `hints`: { hints, Lua pattern, name or nil (= the first capture) }; the version is
-- the last capture.
local agents = {
    { { "bot", "Bot" }, "(%a[%w%-]*[Bb]ot)/v?(%d+)" },
    { { "spider", "Spider" }, "(%a[%w%-]*[Ss]pider)/(%d+)" },
    { { "Slurp" }, "Yahoo! Slurp", "Yahoo! Slurp" },
    { { "facebookexternalhit" }, "facebookexternalhit/(%d+)", "facebookexternalhit" },
    { { "curl/" }, "^curl/(%d+)", "curl" },
    { { "Wget/" }, "^Wget/(%d+)", "Wget" },
    { { "python-requests/" }, "^python%-requests/(%d+)", "python-requests" },
    { { "Go-http-client/" }, "^Go%-http%-client/(%d+)", "Go-http-client" },
}

-- Browsers, most specific first (Edge and Opera also claim Chrome and Safari, Chrome
-- claims Safari): { plain token, Lua pattern anchored at the token, name }.
local browsers = {
    { "Edg", "^Edg[eAiOS]*/(%d+)", "Edge" },
    { "OPR/", "^OPR/(%d+)", "Opera" },
    { "Opera", "^Opera.*Version/(%d+)", "Opera" },
    { "Opera", "^Opera[/ ](%d+)", "Opera" },
    { "SamsungBrowser/", "^SamsungBrowser/(%d+)", "SamsungBrowser" },
    { "CriOS/", "^CriOS/(%d+)", "Chrome" },
    { "Chrome/", "^Chrome/(%d+)", "Chrome" },
    { "FxiOS/", "^FxiOS/(%d+)", "Firefox" },
    { "Firefox/", "^Firefox/(%d+)", "Firefox" },
    { "MSIE ", "^MSIE (%d+)", "MSIE" },
    { "Trident/", "^Trident/.*rv:(%d+)", "MSIE" },
    { "Version/", "^Version/(%d+).*Safari/", "Safari" },
}

local windows_versions = {
    ["10.0"] = "Windows 10", ["6.3"] = "Windows 8.1", ["6.2"] = "Windows 8",
    ["6.1"] = "Windows 7", ["6.0"] = "Windows Vista", ["5.2"] = "Windows XP",
    ["5.1"] = "Windows XP", ["5.0"] = "Windows 2000",
}

-- Operating systems in the order they are checked: { plain substring, name }.
local systems = {
    { "Windows Phone", "Windows Phone" },
    { "iPad", "iPad" },
    { "iPhone", "iPhone" },
    { "iPod", "iPod" },
    { "Android", "Android" },
    { "CrOS", "Chrome OS" },
    { "Macintosh", "Macintosh" },
    { "BlackBerry", "BlackBerry" },
    { "BB10", "BlackBerry" },
    { "Linux", "Linux" },
    { "FreeBSD", "FreeBSD" },
}

local find, match = string.find, string.match

local function find_os(ua)
    local nt = match(ua, "Windows NT (%d+%.%d+)")
    if nt then return windows_versions[nt] or "Windows" end
    for _, s in ipairs(systems) do
        if find(ua, s[1], 1, true) then return s[2] end
    end
    if find(ua, "Windows", 1, true) then return "Windows" end
    -- Firefox OS: "Mozilla/5.0 (Mobile; rv:29.0) Gecko/29.0 Firefox/29.0"
    if find(ua, "^Mozilla/%d+%.%d+ %(Mobile;") or find(ua, "^Mozilla/%d+%.%d+ %(Tablet;") then
        return "FirefoxOS"
    end
    return nil
end

local function has_hint(ua, hints)
    for _, hint in ipairs(hints) do
        if find(ua, hint, 1, true) then return true end
    end
    return false
end

local function find_browser(ua)
    for _, a in ipairs(agents) do
        if has_hint(ua, a[1]) then
            local x, y = match(ua, a[2])
            if x then
                if a[3] then return a[3], tonumber(x) end
                return x, tonumber(y)
            end
        end
    end
    for _, b in ipairs(browsers) do
        local i = find(ua, b[1], 1, true)
        while i do
            local v = match(ua, b[2], i)
            if v then return b[3], tonumber(v) end
            i = find(ua, b[1], i + 1, true)
        end
    end
    return nil
end

-- Recent results by user agent (logs repeat a few agents many times); emptied when full.
local ua_cache, ua_cache_size, UA_CACHE_MAX = {}, 0, 1000

--- Extracts the browser (string), its major version (number) and the operating system
--- (string) from a user agent string; each is nil when it cannot be determined, e.g.
--- "Mozilla/5.0 (Mobile; rv:29.0) Gecko/29.0 Firefox/29.0" -> "Firefox", 29, "FirefoxOS".
function M.normalize_user_agent(ua)
    if type(ua) ~= "string" or ua == "" or ua == "-" then return nil, nil, nil end
    local r = ua_cache[ua]
    if not r then
        local browser, version = find_browser(ua)
        r = { browser, version, find_os(ua) }
        if ua_cache_size >= UA_CACHE_MAX then ua_cache, ua_cache_size = {}, 0 end
        ua_cache[ua] = r
        ua_cache_size = ua_cache_size + 1
    end
    return r[1], r[2], r[3]
end

return M
