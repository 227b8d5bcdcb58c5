-- date_time: LPeg grammars for common timestamp formats and conversion of the captured
-- time table to nanoseconds since the Unix epoch (hekad's version of lua_sandbox's
-- `date_time` module; written from its documentation). Reads no configuration.
--
-- The building-block grammars (date_fullyear, date_month, time_hour, ...) are named group
-- captures; the timestamp grammars (rfc3339, clf_timestamp, mysql_timestamp,
-- pgsql_timestamp, rfc3164_timestamp and the result of build_strftime_grammar) capture a
-- time table:
--   year, month, day, hour, min, sec   numeric strings as written ("2014", "01", "5")
--   sec_frac                            number, fraction of a second (".123" -> 0.123)
--   offset_sign                         "+" or "-" (absent for "Z"/UTC)
--   offset_hour, offset_min             numeric strings ("07", "00")
-- time_to_ns(t) turns such a table into nanoseconds since the epoch (UTC), applying the
-- offset. A table without a year (RFC 3164) gets the current UTC year (the previous one
-- when that would put the time more than a day in the future); without year, month and
-- day it gets today's UTC date; missing month/day default to 1, missing h/m/s to 0.
-- rfc3164_timestamp_ns and rfc3339_ns (hekad additions) capture that number directly,
-- without the table.
local lpeg = require "lpeg"
local string, table, math, os = string, table, math, os

local P, R, S, C, Cc, Cg, Ct = lpeg.P, lpeg.R, lpeg.S, lpeg.C, lpeg.Cc, lpeg.Cg, lpeg.Ct
local tonumber, tostring, type, error, pairs, ipairs = tonumber, tostring, type, error, pairs,
    ipairs
local floor = math.floor

local M = {}

local digit = R"09"
local alpha = R("AZ", "az")

-- Two-digit values with their valid ranges.
local d_month  = P"0" * R"19" + P"1" * R"02"
local d_mday   = P"0" * R"19" + S"12" * digit + P"3" * S"01"
local d_hour   = S"01" * digit + P"2" * R"03"
local d_hour12 = P"0" * R"19" + P"1" * R"02"
local d_minute = R"05" * digit
local d_second = R"05" * digit + P"60"

--------------------------------------------------------------------------------------------
-- Calendar arithmetic (proleptic Gregorian, UTC).

-- Days since 1970-01-01 of a civil date (any month/day overflow is normalised).
local function days_from_civil(y, m, d)
    y = y + floor((m - 1) / 12)
    m = (m - 1) % 12 + 1
    if m <= 2 then y = y - 1 end
    local era = floor(y / 400)
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = floor((153 * mp + 2) / 5) + d - 1
    local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end

-- Civil date (y, m, d) of a day number since 1970-01-01.
local function civil_from_days(z)
    z = z + 719468
    local era = floor(z / 146097)
    local doe = z - era * 146097
    local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
    local y = yoe + era * 400
    local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
    local mp = floor((5 * doy + 2) / 153)
    local d = doy - floor((153 * mp + 2) / 5) + 1
    local m = mp < 10 and mp + 3 or mp - 9
    if m <= 2 then y = y + 1 end
    return y, m, d
end

local function now_seconds()
    return os.time()
end

--------------------------------------------------------------------------------------------
-- Building blocks (named group captures).

--- 4 digit year, captured as "year".
M.date_fullyear = Cg(C(digit * digit * digit * digit), "year")
--- 2 digit month (01-12), captured as "month".
M.date_month = Cg(C(d_month), "month")
--- 2 digit day of the month (01-31, zero padded), captured as "day".
M.date_mday = Cg(C(d_mday), "day")
--- Day of the month, space padded (" 5"), zero padded ("05"), two digits or a single
--- digit; captured as "day" without the padding space.
M.date_mday_sp = Cg(C(d_mday) + P" "^-1 * C(R"19"), "day")
--- 2 digit hour (00-23), captured as "hour".
M.time_hour = Cg(C(d_hour), "hour")
--- 2 digit minute (00-59), captured as "min".
M.time_minute = Cg(C(d_minute), "min")
--- 2 digit second (00-60, leap second included), captured as "sec".
M.time_second = Cg(C(d_second), "sec")
--- "." followed by digits, captured as the number "sec_frac" (".25" -> 0.25).
M.time_secfrac = Cg(C(P"." * digit^1) / tonumber, "sec_frac")

local month_abbrs = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
    "Nov", "Dec" }
local month_names = { "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December" }
local day_abbrs = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" }
local day_names = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday" }

-- A choice over the names of `list`, each capturing the 2 digit string of its position.
local function name_to_number(list)
    local p
    for i, name in ipairs(list) do
        local alt = P(name) * Cc(string.format("%02d", i))
        p = p and p + alt or alt
    end
    return p
end

-- A choice over the names of `list`, no capture.
local function any_name(list)
    local p
    for _, name in ipairs(list) do p = p and p + P(name) or P(name) end
    return p
end

--- Month abbreviation ("Jan".."Dec") captured as the numeric string "month" ("01".."12").
M.date_mabbr = Cg(name_to_number(month_abbrs), "month")
--- Full month name ("January".."December") captured as the numeric string "month".
M.date_mfull = Cg(name_to_number(month_names), "month")

local function offset(sign, hour, min)
    return Cg(Cc(sign), "offset_sign") * Cg(Cc(string.format("%02d", hour)), "offset_hour")
        * Cg(Cc(string.format("%02d", min)), "offset_min")
end

local sign = Cg(C(S"+-"), "offset_sign")
local offset_hour = Cg(C(d_hour), "offset_hour")
local offset_min = Cg(C(d_minute), "offset_min")

--- Numeric time zone offset "+hhmm" or "+hh:mm" (also "-"), captured as offset_sign,
--- offset_hour, offset_min.
M.timezone_offset = sign * offset_hour * P":"^-1 * offset_min

-- US time zone abbreviations and UTC; any other abbreviation gives an offset of 0.
local zones = {
    UTC = { "+", 0 }, GMT = { "+", 0 }, UT = { "+", 0 }, Z = { "+", 0 },
    EST = { "-", 5 }, EDT = { "-", 4 }, CST = { "-", 6 }, CDT = { "-", 5 },
    MST = { "-", 7 }, MDT = { "-", 6 }, PST = { "-", 8 }, PDT = { "-", 7 },
    AKST = { "-", 9 }, AKDT = { "-", 8 }, HST = { "-", 10 }, HDT = { "-", 9 },
    HAST = { "-", 10 }, HADT = { "-", 9 },
}

local function build_timezone()
    local names = {}
    for name in pairs(zones) do names[#names + 1] = name end
    table.sort(names, function(a, b) return #a > #b or (#a == #b and a < b) end)
    local p
    for _, name in ipairs(names) do
        local z = zones[name]
        local alt = P(name) * -alpha * offset(z[1], z[2], 0)
        p = p and p + alt or alt
    end
    return p + R"AZ" * R("AZ", "az")^0 * offset("+", 0, 0)
end

--- Time zone abbreviation (US zones and UTC/GMT; other abbreviations give offset 0),
--- captured as offset_sign, offset_hour, offset_min.
M.timezone = build_timezone()

--------------------------------------------------------------------------------------------
-- RFC 3339 (section 5.6).

--- "+hh:mm" / "-hh:mm", captured as offset_sign, offset_hour, offset_min.
M.rfc3339_time_numoffset = sign * offset_hour * P":" * offset_min
--- "Z" (no capture: UTC) or a numeric offset.
M.rfc3339_time_offset = S"Zz" + M.rfc3339_time_numoffset
--- "hh:mm:ss[.frac]".
M.rfc3339_partial_time = M.time_hour * P":" * M.time_minute * P":" * M.time_second
    * M.time_secfrac^-1
--- "yyyy-mm-dd".
M.rfc3339_full_date = M.date_fullyear * P"-" * M.date_month * P"-" * M.date_mday
--- partial time followed by its offset.
M.rfc3339_full_time = M.rfc3339_partial_time * M.rfc3339_time_offset
--- Full RFC 3339 timestamp ("T", "t" or a space between date and time): a time table.
M.rfc3339 = Ct(M.rfc3339_full_date * S"Tt " * M.rfc3339_full_time)

-- The same pieces under their RFC 3339 ABNF names.
M.time_numoffset = M.rfc3339_time_numoffset
M.time_offset = M.rfc3339_time_offset
M.partial_time = M.rfc3339_partial_time
M.full_date = M.rfc3339_full_date
M.full_time = M.rfc3339_full_time

--------------------------------------------------------------------------------------------
-- Other timestamp formats (each captures a time table).

--- Common Log Format "10/Oct/2000:13:55:36 -0700".
M.clf_timestamp = Ct(M.date_mday * P"/" * M.date_mabbr * P"/" * M.date_fullyear * P":"
    * M.time_hour * P":" * M.time_minute * P":" * M.time_second * P" " * M.timezone_offset)

--- RFC 3164 (BSD syslog) "Oct 11 22:14:15" / "Oct  1 22:14:15": no year, no zone.
M.rfc3164_timestamp = Ct(M.date_mabbr * P" " * M.date_mday_sp * P" "
    * M.time_hour * P":" * M.time_minute * P":" * M.time_second)

local year2 = Cg(C(digit * digit) / function(y)
    local n = tonumber(y)
    return tostring(n < 69 and 2000 + n or 1900 + n)
end, "year")
local hour_sp = Cg(C(d_hour) + P" "^-1 * C(digit), "hour")

--- MySQL timestamps: "yyyymmddhhmmss" (rsyslog's date-mysql), "yymmdd hh:mm:ss" (slow
--- query / error log; the hour may be space padded or a single digit) or
--- "yyyy-mm-dd hh:mm:ss[.frac]" (DATETIME).
M.mysql_timestamp = Ct(M.date_fullyear * M.date_month * M.date_mday * M.time_hour
    * M.time_minute * M.time_second
    + year2 * M.date_month * M.date_mday * P" " * hour_sp * P":" * M.time_minute * P":"
    * M.time_second
    + M.rfc3339_full_date * P" " * M.rfc3339_partial_time)

local pg_offset = sign * offset_hour * (P":"^-1 * offset_min)^-1
--- Postgres timestamp "yyyy-mm-dd hh:mm:ss[.frac][ zone]" (rsyslog's date-pgsql, and
--- Postgres log lines whose zone is an abbreviation such as "UTC"/"PST" or a numeric
--- offset "+02", "+0200", "+02:00").
M.pgsql_timestamp = Ct(M.rfc3339_full_date * P" " * M.rfc3339_partial_time
    * (P" " * (pg_offset + M.timezone))^-1)

--------------------------------------------------------------------------------------------
-- Conversion.

-- The current UTC year of `now` (seconds since the epoch), cached with the first second
-- of that year and of the next one.
local cur_year, cur_year_from, cur_year_to = 0, 0, -1

local function current_year(now)
    if now < cur_year_from or now >= cur_year_to then
        local y = civil_from_days(floor(now / 86400))
        cur_year = y
        cur_year_from = days_from_civil(y, 1, 1) * 86400
        cur_year_to = days_from_civil(y + 1, 1, 1) * 86400
    end
    return cur_year
end

-- The year to use for a table that has none (RFC 3164): the current UTC year, or the
-- previous one when the date would be more than a day in the future.
local function guess_year(month, day, secs_of_day)
    local now = now_seconds()
    local y = current_year(now)
    if days_from_civil(y, month, day) * 86400 + secs_of_day > now + 86400 then
        y = y - 1
    end
    return y
end

-- Memo of the last date converted (log lines mostly share their date).
local last_y, last_m, last_d, last_days

--- Converts a time table (as captured by the grammars of this module) to nanoseconds
--- since the Unix epoch in UTC, applying offset_sign/offset_hour/offset_min.
function M.time_to_ns(t)
    local hour, min, sec = tonumber(t.hour) or 0, tonumber(t.min) or 0, tonumber(t.sec) or 0
    local secs_of_day = hour * 3600 + min * 60 + sec
    local year, month, day = tonumber(t.year), tonumber(t.month), tonumber(t.day)
    if not year then
        if not month and not day then
            year, month, day = civil_from_days(floor(now_seconds() / 86400))
        else
            month, day = month or 1, day or 1
            year = guess_year(month, day, secs_of_day)
        end
    end
    month, day = month or 1, day or 1
    local days
    if year == last_y and month == last_m and day == last_d then
        days = last_days
    else
        days = days_from_civil(year, month, day)
        last_y, last_m, last_d, last_days = year, month, day, days
    end
    local secs = days * 86400 + secs_of_day
    local sign = t.offset_sign
    if sign then
        local off = (tonumber(t.offset_hour) or 0) * 3600 + (tonumber(t.offset_min) or 0) * 60
        if sign == "-" then secs = secs + off else secs = secs - off end
    end
    local frac = t.sec_frac
    if frac then
        return secs * 1e9 + floor(tonumber(frac) * 1e9 + 0.5)
    end
    return secs * 1e9
end

--------------------------------------------------------------------------------------------
-- Timestamps captured straight as nanoseconds (hekad additions): the same numbers as the
-- time table grammars followed by time_to_ns, without building the table.

local byte = string.byte

-- Seconds of the day of the "hh:mm:ss" at position i of `text`.
local function text_secs_of_day(text, i)
    local h1, h2, _, m1, m2, _, s1, s2 = byte(text, i, i + 7)
    return ((h1 - 48) * 10 + h2 - 48) * 3600 + ((m1 - 48) * 10 + m2 - 48) * 60
        + (s1 - 48) * 10 + s2 - 48
end

local month_index = {}
for i, name in ipairs(month_abbrs) do month_index[name] = i end

-- Day number of the RFC 3164 date text `date` ("Mmm dd", "Mmm  d" or "Mmm d") in `year`.
local function rfc3164_date_days(date, year)
    return days_from_civil(year, month_index[date:sub(1, 3)], tonumber(date:sub(5)))
end

-- Day numbers of the RFC 3164 dates seen, in the current year (days_cur) and the one
-- before (days_prev); emptied when the year changes.
local days_year, days_cur, days_prev = nil, {}, {}
-- The last RFC 3164 timestamp converted, the time it was converted at and its ns.
local last_3164, last_3164_now, last_3164_ns

-- ns of an RFC 3164 timestamp text; the year guessed as time_to_ns guesses it.
local function rfc3164_ns(text)
    local now = now_seconds()
    if text == last_3164 and now == last_3164_now then return last_3164_ns end
    local year = current_year(now)
    if year ~= days_year then days_year, days_cur, days_prev = year, {}, {} end
    local date = text:sub(1, -10)
    local days = days_cur[date]
    if not days then
        days = rfc3164_date_days(date, year)
        days_cur[date] = days
    end
    local secs_of_day = text_secs_of_day(text, #text - 7)
    local secs = days * 86400 + secs_of_day
    if secs > now + 86400 then -- more than a day in the future: last year
        days = days_prev[date]
        if not days then
            days = rfc3164_date_days(date, year - 1)
            days_prev[date] = days
        end
        secs = days * 86400 + secs_of_day
    end
    last_3164, last_3164_now, last_3164_ns = text, now, secs * 1e9
    return last_3164_ns
end

--- RFC 3164 timestamp as rfc3164_timestamp matches it, captured as the nanoseconds
--- rfc3164_timestamp / time_to_ns gives.
M.rfc3164_timestamp_ns = C(any_name(month_abbrs) * P" " * (d_mday + P" "^-1 * R"19")
    * P" " * d_hour * P":" * d_minute * P":" * d_second) / rfc3164_ns

-- The last RFC 3339 date and offset converted, with their day number / seconds.
local last_date, last_date_days = nil, nil
local last_offset, last_offset_secs = nil, nil

-- Seconds to add for an offset text: "Z"/"z" 0, "+hh:mm" minus, "-hh:mm" plus its length.
local function offset_secs(offset)
    if #offset == 1 then return 0 end
    local off = tonumber(offset:sub(2, 3)) * 3600 + tonumber(offset:sub(5, 6)) * 60
    if byte(offset) == 45 then return off end -- "-"
    return -off
end

-- ns of the RFC 3339 date text "yyyy-mm-dd", time text "hh:mm:ss", fraction of a second
-- (a number) and offset text ("Z", "+hh:mm").
local function rfc3339_ns(date, time, frac, offset)
    if date ~= last_date then
        last_date_days = days_from_civil(tonumber(date:sub(1, 4)), tonumber(date:sub(6, 7)),
            tonumber(date:sub(9, 10)))
        last_date = date
    end
    if offset ~= last_offset then
        last_offset_secs = offset_secs(offset)
        last_offset = offset
    end
    local secs = last_date_days * 86400 + text_secs_of_day(time, 1) + last_offset_secs
    return secs * 1e9 + floor(frac * 1e9 + 0.5)
end

--- RFC 3339 timestamp as rfc3339 matches it, captured as the nanoseconds rfc3339 /
--- time_to_ns gives.
M.rfc3339_ns = C(digit * digit * digit * digit * P"-" * d_month * P"-" * d_mday) * S"Tt "
    * C(d_hour * P":" * d_minute * P":" * d_second)
    * (C(P"." * digit^1) / tonumber + Cc(0))
    * C(S"Zz" + S"+-" * d_hour * P":" * d_minute) / rfc3339_ns

--- Converts seconds since the Unix epoch to nanoseconds.
function M.seconds_to_ns(time_t)
    return time_t * 1e9
end

--------------------------------------------------------------------------------------------
-- strftime grammars.

-- Fills the date/time fields of t from seconds since the epoch.
local function set_from_epoch(t, secs)
    local days = floor(secs / 86400)
    local rem = secs - days * 86400
    local y, m, d = civil_from_days(days)
    t.year, t.month, t.day = string.format("%04d", y), string.format("%02d", m),
        string.format("%02d", d)
    t.hour = string.format("%02d", floor(rem / 3600))
    t.min = string.format("%02d", floor(rem % 3600 / 60))
    t.sec = string.format("%02d", rem % 60)
end

-- Resolves the helper captures of a strftime grammar (%p, %j, %C, %s) into the time table.
local function strftime_fixup(t)
    if t._century then
        local yy = t.year and tonumber(t.year) % 100 or 0
        t.year = tostring(tonumber(t._century) * 100 + yy)
        t._century = nil
    end
    if t._period then
        local h = tonumber(t.hour) or 12
        if h == 12 then h = 0 end
        if t._period == "PM" then h = h + 12 end
        t.hour = string.format("%02d", h)
        t._period = nil
    end
    if t._yday then
        local year = tonumber(t.year) or civil_from_days(floor(now_seconds() / 86400))
        local y, m, d = civil_from_days(days_from_civil(year, 1, 1) + tonumber(t._yday) - 1)
        t.year, t.month, t.day = tostring(year), string.format("%02d", m),
            string.format("%02d", d)
        t._yday = nil
    end
    if t._epoch then
        set_from_epoch(t, tonumber(t._epoch))
        t._epoch = nil
    end
    return t
end

local period = P"AM" * Cc("AM") + P"PM" * Cc("PM") + P"am" * Cc("AM") + P"pm" * Cc("PM")
local hour12 = Cg(C(d_hour12) + P" "^-1 * C(R"19"), "hour")

-- Specifiers: a pattern, or { pattern, true } when the table needs strftime_fixup.
local specifiers = {
    a = any_name(day_abbrs),
    A = any_name(day_names),
    b = M.date_mabbr,
    B = M.date_mfull,
    C = { Cg(C(digit * digit), "_century"), true },
    d = M.date_mday,
    e = M.date_mday_sp,
    f = Cg(C(digit^1) / function(d) return tonumber("0." .. d) end, "sec_frac"),
    g = digit * digit,
    G = digit * digit * digit * digit,
    h = M.date_mabbr,
    H = M.time_hour,
    I = hour12,
    j = { Cg(C(P"00" * R"19" + P"0" * R"19" * digit + S"12" * digit * digit
        + P"3" * R"05" * digit + P"36" * R"06"), "_yday"), true },
    k = hour_sp,
    l = hour12,
    m = M.date_month,
    M = M.time_minute,
    n = S" \t\r\n"^0,
    p = { Cg(period, "_period"), true },
    P = { Cg(period, "_period"), true },
    s = { Cg(C(P"-"^-1 * digit^1), "_epoch"), true },
    S = M.time_second,
    t = S" \t\r\n"^0,
    u = R"17",
    U = R"05" * digit,
    V = R"05" * digit,
    w = R"06",
    W = R"05" * digit,
    y = year2,
    Y = M.date_fullyear,
    z = M.timezone_offset + S"Zz",
    Z = M.timezone,
    ["%"] = P"%",
}

-- Specifiers standing for a format of their own.
local composites = {
    c = "%a %b %e %H:%M:%S %Y",
    D = "%m/%d/%y",
    F = "%Y-%m-%d",
    r = "%I:%M:%S %p",
    R = "%H:%M",
    T = "%H:%M:%S",
    x = "%m/%d/%y",
    X = "%H:%M:%S",
}

-- Appends the grammar of `fmt` to `seq`; returns the pattern and whether a fixup is needed.
local function compile(fmt, seq, fixup)
    local i, n = 1, #fmt
    while i <= n do
        if fmt:sub(i, i) == "%" then
            local spec = fmt:sub(i + 1, i + 1)
            if spec == "E" or spec == "O" then -- locale modifiers: ignored
                i = i + 1
                spec = fmt:sub(i + 1, i + 1)
            end
            if composites[spec] then
                seq, fixup = compile(composites[spec], seq, fixup)
            else
                local p = specifiers[spec]
                if not p then
                    error(string.format("unsupported strftime format specifier '%%%s'", spec), 0)
                end
                if type(p) == "table" then
                    p = p[1]
                    fixup = true
                end
                seq = seq * p
            end
            i = i + 2
        else
            local j = fmt:find("%", i, true) or n + 1
            seq = seq * P(fmt:sub(i, j - 1))
            i = j
        end
    end
    return seq, fixup
end

local strftime_cache = {}

--- Constructs an LPeg grammar capturing a time table from a strftime format; throws an
--- error on an unsupported specifier. Supported: %a %A %b %B %c %C %d %D %e %f (fraction
--- digits) %F %g %G %h %H %I %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x
--- %X %y %Y %z %Z %% (and the E/O modifiers, ignored).
function M.build_strftime_grammar(strftime)
    if type(strftime) ~= "string" then error("strftime format must be a string", 0) end
    local g = strftime_cache[strftime]
    if g then return g end
    local seq, fixup = compile(strftime, P(true), false)
    g = Ct(seq)
    if fixup then g = g / strftime_fixup end
    strftime_cache[strftime] = g
    return g
end

return M
