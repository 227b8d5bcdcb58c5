-- syslog: LPeg grammars for syslog data and a builder turning an rsyslog template string
-- into a grammar (hekad's version of lua_sandbox's `syslog` module; written from its
-- documentation and rsyslog's template / property replacer documentation). Reads no
-- configuration.
--
--   severity, facility        grammars: a severity / facility name -> its number
--   severity_names,
--   facility_names            number -> canonical name (0-based tables)
--   integer, float, notspace  small helper grammars
--   build_rsyslog_grammar(t)  template string (or RSYSLOG_* template name) -> grammar
--   capture_until(name, m)    capture everything up to `m` (not consumed) as `name`
--   capture_followed_by(n, m) capture everything up to `m` as `n` and consume `m`
--   templates                 the rsyslog reserved templates by name
--   template_properties(t)    (hekad addition) set of the property names of a template
--
-- A grammar built from a template matches a whole line and captures a table keyed by the
-- lower-cased property names of the template:
--   pri, pri-text              { facility = n, severity = n }
--   syslogtag                  { programname = "sshd", pid = 7192 } (pid only when numeric)
--   timestamp, timereported,
--   timegenerated              nanoseconds since the epoch (date-rfc3164 default,
--                              date-rfc3339, date-mysql, date-pgsql, date-unixtimestamp;
--                              date-year ... date-second etc. give numbers)
--   syslogfacility(-text),
--   syslogseverity(-text),
--   syslogpriority(-text),
--   iut, protocol-version      numbers
--   fromhost-ip                { value = "10.0.0.1", representation = "ipv4" | "ipv6" }
--   app-name, procid, msgid,
--   structured-data            strings; the RFC 5424 nil value "-" leaves the key out
--   msg, rawmsg and any other  strings
-- A property with the option sp-if-no-1st-sp matches the spaces there (none or more, as
-- Heka's grammar does: "sudo:   deploy" gives msg "deploy") and captures nothing. The text of a free-form property (msg, rawmsg, unknown properties) runs to the
-- next constant of the template, or to the end of the line; a final "\n" constant also
-- matches the end of a line that lacks its newline (drop-last-lf leaves it out of msg).
local lpeg = require "lpeg"
local dt = require "date_time"
local ip = require "ip_address"

local P, R, S, C, Cc, Cg, Ct = lpeg.P, lpeg.R, lpeg.S, lpeg.C, lpeg.Cc, lpeg.Cg, lpeg.Ct
local string, table, math = string, table, math
local tonumber, type, error, pairs, ipairs = tonumber, type, error, pairs, ipairs
local floor = math.floor

local M = {}

local digit = R"09"
local space = P" "

--------------------------------------------------------------------------------------------
-- Helper grammars.

--- Integer string (optional sign) -> number.
M.integer = C(S"+-"^-1 * digit^1) / tonumber
--- Floating point string (optional sign, fraction and exponent) -> number.
M.float = C(S"+-"^-1 * digit^1 * (P"." * digit^1)^-1 * (S"eE" * S"+-"^-1 * digit^1)^-1)
    / tonumber
--- One or more characters that are not a space (no capture).
M.notspace = (1 - space)^1

--- Captures everything up to `match` (not consumed) as the named group `name`.
function M.capture_until(name, match)
    return Cg(C((1 - P(match))^0), name)
end

--- Captures everything up to `match` as the named group `name` and consumes `match`.
function M.capture_followed_by(name, match)
    return Cg(C((1 - P(match))^0), name) * P(match)
end

--------------------------------------------------------------------------------------------
-- Severity and facility names (syslog.h / RFC 5424 tables 1 and 2, rsyslog's spelling).

M.severity_names = { [0] = "emerg", "alert", "crit", "err", "warning", "notice", "info",
    "debug" }
M.facility_names = { [0] = "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1",
    "local2", "local3", "local4", "local5", "local6", "local7" }

-- Case-insensitive literal.
local function nocase(s)
    local p = P(true)
    for i = 1, #s do
        local c = s:sub(i, i)
        p = p * S(c:lower() .. c:upper())
    end
    return p
end

-- Choice over { name, number } pairs (longest names first), capturing the number.
local function name_grammar(list)
    table.sort(list, function(a, b) return #a[1] > #b[1] or (#a[1] == #b[1] and a[1] < b[1]) end)
    local p
    for _, e in ipairs(list) do
        local alt = nocase(e[1]) * Cc(e[2])
        p = p and p + alt or alt
    end
    return p
end

local function names_with_aliases(names, aliases)
    local list = {}
    for n = 0, #names do list[#list + 1] = { names[n], n } end
    for name, n in pairs(aliases) do list[#list + 1] = { name, n } end
    return list
end

--- Severity name (emerg/panic, alert, crit, err/error, warning/warn, notice, info, debug;
--- any case) -> number 0-7.
M.severity = name_grammar(names_with_aliases(M.severity_names,
    { panic = 0, emergency = 0, critical = 2, error = 3, warn = 4 }))
--- Facility name (kern, user, mail, daemon, auth/security, syslog, lpr, news, uucp, cron,
--- authpriv, ftp, ntp, audit, alert, clock, local0-local7; any case) -> number 0-23.
M.facility = name_grammar(names_with_aliases(M.facility_names, { security = 4 }))

--------------------------------------------------------------------------------------------
-- Reserved rsyslog templates.

M.templates = {
    RSYSLOG_TraditionalFileFormat =
        "%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n",
    RSYSLOG_FileFormat =
        "%TIMESTAMP:::date-rfc3339% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%"
        .. "%msg:::drop-last-lf%\n",
    RSYSLOG_TraditionalForwardFormat =
        "<%PRI%>%TIMESTAMP% %HOSTNAME% %syslogtag:1:32%%msg:::sp-if-no-1st-sp%%msg%",
    RSYSLOG_ForwardFormat =
        "<%PRI%>%TIMESTAMP:::date-rfc3339% %HOSTNAME% %syslogtag:1:32%"
        .. "%msg:::sp-if-no-1st-sp%%msg%",
    RSYSLOG_SysklogdFileFormat =
        "%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg%\n",
    RSYSLOG_SyslogProtocol23Format =
        "<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% %MSGID% "
        .. "%STRUCTURED-DATA% %msg%\n",
}

--------------------------------------------------------------------------------------------
-- Property grammars.

-- PRI value 0-191.
local prival = C(P"19" * R"01" + P"1" * R"08" * digit + R"19" * digit + digit) / tonumber

local function pri_table(n)
    return { facility = floor(n / 8), severity = n % 8 }
end

local pri = prival / pri_table
-- "local0.err<131>": the numbers come from the PRI value.
local pri_text = (1 - S".<")^1 * P"." * (1 - S"<")^1 * P"<" * pri * P">"

-- Tag: program name, optional "[pid]", optional ":" ("sshd[7192]:", "kernel:",
-- "postfix/smtpd[12]:"). A non-numeric pid is skipped.
local programname = (1 - S"[: \t\n")^1
local pid = Cg(C(digit^1) / tonumber, "pid") * P"]" + (1 - S"]\n")^0 * P"]"
local syslogtag = Ct(Cg(C(programname), "programname") * (P"[" * pid)^-1 * P":"^-1)

-- RFC 5424 STRUCTURED-DATA elements (the nil value is handled by the caller).
local sd_value = P'"' * (P"\\" * P(1) + (1 - S'"\\'))^0 * P'"'
local sd_element = P"[" * (sd_value + (1 - S'"]'))^0 * P"]"
local structured_data = C(sd_element^1)

local time_ns = dt.time_to_ns

-- date-* formats of the time properties.
local date_formats = {
    rfc3164 = dt.rfc3164_timestamp_ns, -- dt.rfc3164_timestamp / time_ns without the table
    rfc3339 = dt.rfc3339_ns, -- dt.rfc3339 / time_ns without the table
    mysql = Ct(dt.date_fullyear * dt.date_month * dt.date_mday * dt.time_hour
        * dt.time_minute * dt.time_second) / time_ns,
    pgsql = Ct(dt.rfc3339_full_date * space * dt.rfc3339_partial_time) / time_ns,
    unixtimestamp = C(P"-"^-1 * digit^1) / function(s) return tonumber(s) * 1e9 end,
    subseconds = C(digit^1) / tonumber,
    wdayname = C(R("AZ", "az")^1),
    tzoffsdirection = C(S"+-"),
}
date_formats["rfc3164-buggyday"] = date_formats.rfc3164
date_formats["rfc3164strict"] = date_formats.rfc3164
for _, f in ipairs({ "year", "month", "day", "hour", "minute", "second", "tzoffshour",
    "tzoffsmin", "ordinal", "week", "wday" }) do
    date_formats[f] = M.integer
end

local time_properties = { timestamp = true, timereported = true, timegenerated = true }

local numeric_properties = { iut = true, syslogfacility = true, syslogseverity = true,
    syslogpriority = true, ["protocol-version"] = true, ["$year"] = true,
    ["$month"] = true, ["$day"] = true, ["$hour"] = true, ["$hhour"] = true,
    ["$qhour"] = true, ["$minute"] = true }

local name_properties = { ["syslogfacility-text"] = M.facility,
    ["syslogseverity-text"] = M.severity, ["syslogpriority-text"] = M.severity }

local token_properties = { hostname = true, source = true, fromhost = true,
    programname = true, inputname = true, ["$myhostname"] = true }

-- RFC 5424 header fields where "-" means "no value".
local nilable_properties = { ["app-name"] = true, procid = true, msgid = true }

--------------------------------------------------------------------------------------------
-- Template parsing.

local escapes = { n = "\n", r = "\r", t = "\t", ["\\"] = "\\", ["%"] = "%", ['"'] = '"',
    ["'"] = "'" }

-- Splits a template into items: { literal = "text" } or { name =, options = { opt = true } }
-- ("%name:from:to:options%"; the from/to character range does not change what matches).
local function parse_template(template)
    local items, lit, i, n = {}, {}, 1, #template
    local function flush()
        if #lit > 0 then
            items[#items + 1] = { literal = table.concat(lit) }
            lit = {}
        end
    end
    while i <= n do
        local c = template:sub(i, i)
        if c == "\\" and i < n then
            local e = template:sub(i + 1, i + 1)
            lit[#lit + 1] = escapes[e] or e
            i = i + 2
        elseif c == "%" then
            local j = template:find("%", i + 1, true)
            if not j then error("invalid rsyslog template: unterminated property at " .. i, 0) end
            local spec = template:sub(i + 1, j - 1)
            local name, options = spec:match("^([^:]*):?[^:]*:?[^:]*:?([^:]*)")
            if name == "" then error("invalid rsyslog template: empty property at " .. i, 0) end
            local opts = {}
            if not spec:find("--end", 1, true) then -- regex extraction: options not parsed
                for o in options:gmatch("[^,]+") do opts[o:lower()] = true end
            end
            flush()
            items[#items + 1] = { name = name:lower(), options = opts }
            i = j + 1
        else
            lit[#lit + 1] = c
            i = i + 1
        end
    end
    flush()
    return items
end

-- The date format option of a property, if any.
local function date_option(options)
    for o in pairs(options) do
        local f = o:match("^date%-(.+)$")
        if f and f ~= "utc" then -- date-utc only selects the zone of the output
            if not date_formats[f] then
                error("unsupported rsyslog date format option 'date-" .. f .. "'", 0)
            end
            return f
        end
    end
end

-- Text running to `stop` (the next constant) or, at the end, to the end of the line
-- (without a last "\n" when `final_lf`); a word when another property follows.
local to_last_lf = C(((1 - P"\n")^1 + P"\n" * -P(-1))^0) -- all but a final "\n"
local to_end = C(P(1)^0)

local function free_text(stop, at_end, final_lf, token)
    if stop then return C((1 - P(stop))^0) end
    if not at_end then return C(token) end
    if final_lf then return to_last_lf end
    return to_end
end

-- Properties with a grammar of their own (anything else is free-form text).
local special_properties = { ["$now"] = true, pri = true, ["pri-text"] = true,
    syslogtag = true, ["fromhost-ip"] = true, ["$bom"] = true, ["structured-data"] = true }

local function is_free_text(item)
    local name = item.name
    return item.name ~= nil and not item.options["sp-if-no-1st-sp"]
        and not (time_properties[name] or special_properties[name]
        or numeric_properties[name] or name_properties[name] or token_properties[name]
        or nilable_properties[name])
end

-- Grammar of one property item; `stop` is the constant that follows it (nil when a property
-- follows or at the end), `at_end` is true for the last item before the optional final
-- "\n", `final_lf` is true when that final "\n" follows.
local function property_grammar(item, stop, at_end, final_lf)
    local name, options = item.name, item.options
    if options["sp-if-no-1st-sp"] then return space^0 end
    local ends = " "
    if stop then ends = ends .. stop:sub(1, 1) end
    local token = (1 - S(ends))^1
    local nil_value = P"-" * -(1 - S(ends))

    local p
    if is_free_text(item) then -- msg, rawmsg and anything unknown
        p = free_text(stop, at_end, final_lf, token)
    elseif time_properties[name] then
        p = date_formats[date_option(options) or "rfc3164"]
    elseif name == "$now" then
        p = C(digit^4 * P"-" * digit^2 * P"-" * digit^2)
    elseif name == "pri" then
        p = pri
    elseif name == "pri-text" then
        p = pri_text
    elseif name == "syslogtag" then
        p = syslogtag
    elseif name == "fromhost-ip" then
        p = ip.v4_field + ip.v6_field
    elseif name == "$bom" then
        return P"\239\187\191"^-1
    elseif name == "structured-data" then
        return nil_value + Cg(structured_data, name)
    elseif nilable_properties[name] then
        return nil_value + Cg(C(token), name)
    elseif numeric_properties[name] then
        p = M.integer
    elseif name_properties[name] then
        p = name_properties[name]
    else -- token_properties
        p = C(token)
    end
    return Cg(p, name)
end

-- Grammar of a constant; before the free text ending the line a constant ending in a
-- space may lose that space when the text is empty (RFC 5424: "[SP MSG]").
local function literal_grammar(lit, next_item, next_at_end, final_lf)
    local p = P(lit)
    if next_at_end and is_free_text(next_item) and lit:sub(-1) == " " then
        local eol = final_lf and P"\n"^-1 * P(-1) or P(-1)
        p = p + P(lit:sub(1, -2)) * eol
    end
    return p
end

--- hekad addition: the set ({ [name] = true }) of the lower-cased property names of a
--- template string or reserved template name; every key a grammar built from it can
--- capture is in it. Throws an error on an invalid template, as build_rsyslog_grammar does.
function M.template_properties(template)
    if type(template) ~= "string" then error("rsyslog template must be a string", 0) end
    local names = {}
    for _, item in ipairs(parse_template(M.templates[template] or template)) do
        if item.name then names[item.name] = true end
    end
    return names
end

--- Constructs an LPeg grammar from an rsyslog template string (as written in
--- rsyslog.conf, e.g. '%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg%')
--- or the name of a reserved template (e.g. "RSYSLOG_TraditionalFileFormat"). The grammar
--- matches a whole line and captures a table of the properties; an invalid template or an
--- unsupported date option throws an error.
function M.build_rsyslog_grammar(template)
    if type(template) ~= "string" then error("rsyslog template must be a string", 0) end
    template = M.templates[template] or template
    local items = parse_template(template)
    local g = P(-1)
    local last = #items
    -- a final "\n" constant also matches the end of the line
    if last > 0 and items[last].literal == "\n" then
        g = P"\n"^-1 * P(-1)
        last = last - 1
    end
    local final_lf = last < #items
    local stop -- the constant following the item being built
    for k = last, 1, -1 do
        local item = items[k]
        if item.literal then
            g = literal_grammar(item.literal, items[k + 1] or {}, k + 1 == last, final_lf) * g
            stop = item.literal
        else
            g = property_grammar(item, stop, k == last, final_lf) * g
            stop = nil
        end
    end
    return Ct(g)
end

return M
