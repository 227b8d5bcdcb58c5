-- Tests for lua/lua_modules/date_time.lua: the building-block grammars, RFC 3339, CLF,
-- RFC 3164, MySQL, Postgres timestamps, strftime grammars and time_to_ns.
local h = require "harness"
local lpeg = require "lpeg"
local dt = require "date_time"

local Ct = lpeg.Ct

-- Independent reference: seconds since the epoch of a UTC civil time (day counting).
local function is_leap(y) return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) end
local MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function epoch(y, m, d, H, M, S)
    local days = 0
    if y >= 1970 then
        for yy = 1970, y - 1 do days = days + (is_leap(yy) and 366 or 365) end
    else
        for yy = y, 1969 do days = days - (is_leap(yy) and 366 or 365) end
    end
    for mm = 1, m - 1 do
        days = days + MDAYS[mm] + ((mm == 2 and is_leap(y)) and 1 or 0)
    end
    days = days + d - 1
    return days * 86400 + (H or 0) * 3600 + (M or 0) * 60 + (S or 0)
end

-- Independent reference: UTC civil date/time of seconds since the epoch (no os.date).
local function civil(secs)
    local days = math.floor(secs / 86400)
    local rem = secs - days * 86400
    local y = 1970
    while days < 0 do y = y - 1; days = days + (is_leap(y) and 366 or 365) end
    while days >= (is_leap(y) and 366 or 365) do
        days = days - (is_leap(y) and 366 or 365); y = y + 1
    end
    local m = 1
    while true do
        local len = MDAYS[m] + ((m == 2 and is_leap(y)) and 1 or 0)
        if days < len then break end
        days = days - len; m = m + 1
    end
    return y, m, days + 1, math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60
end
h.equal({ civil(1389337496) }, { 2014, 1, 10, 7, 4, 56 }, "reference civil()")
h.equal({ civil(951782400) }, { 2000, 2, 29, 0, 0, 0 }, "reference civil() leap day")
h.equal({ civil(-1) }, { 1969, 12, 31, 23, 59, 59 }, "reference civil() before the epoch")

local function whole(p) return p * -1 end

local function ns(s, frac_ns) return s * 1e9 + (frac_ns or 0) end

local function parse_ns(grammar, s)
    local t = lpeg.match(whole(grammar), s)
    if not t then error("no match: " .. s, 2) end
    return dt.time_to_ns(t)
end

----------------------------------------------------------------------------------------------
-- Building blocks: values and capture names.
h.equal(lpeg.match(Ct(dt.date_fullyear), "2014"), { year = "2014" }, "date_fullyear table")
h.equal(lpeg.match(dt.date_fullyear, "201"), nil, "date_fullyear short")
for m = 1, 12 do
    local s = string.format("%02d", m)
    h.equal(lpeg.match(Ct(dt.date_month), s), { month = s }, "date_month " .. s)
end
h.equal(lpeg.match(dt.date_month, "00"), nil, "date_month 00")
h.equal(lpeg.match(dt.date_month, "13"), nil, "date_month 13")
h.equal(lpeg.match(dt.date_month, "1"), nil, "date_month one digit")

local abbrs = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }
local names = { "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December" }
for i = 1, 12 do
    local want = string.format("%02d", i)
    h.equal(lpeg.match(Ct(dt.date_mabbr), abbrs[i]), { month = want }, "date_mabbr " .. abbrs[i])
    h.equal(lpeg.match(Ct(dt.date_mfull), names[i]), { month = want }, "date_mfull " .. names[i])
end
h.equal(lpeg.match(dt.date_mabbr, "Foo"), nil, "date_mabbr bad")
h.equal(lpeg.match(dt.date_mfull, "Jan"), nil, "date_mfull needs the full name")

h.equal(lpeg.match(Ct(dt.date_mday), "01"), { day = "01" }, "date_mday 01")
h.equal(lpeg.match(Ct(dt.date_mday), "31"), { day = "31" }, "date_mday 31")
h.equal(lpeg.match(dt.date_mday, "00"), nil, "date_mday 00")
h.equal(lpeg.match(dt.date_mday, "32"), nil, "date_mday 32")
h.equal(lpeg.match(Ct(dt.date_mday_sp), " 5"), { day = "5" }, "date_mday_sp space padded")
h.equal(lpeg.match(Ct(dt.date_mday_sp), "15"), { day = "15" }, "date_mday_sp two digits")
h.equal(lpeg.match(Ct(dt.date_mday_sp), "5"), { day = "5" }, "date_mday_sp one digit")
h.equal(lpeg.match(Ct(dt.date_mday_sp), "05"), { day = "05" }, "date_mday_sp zero padded")

h.equal(lpeg.match(Ct(dt.time_hour), "23"), { hour = "23" }, "time_hour 23")
h.equal(lpeg.match(dt.time_hour, "24"), nil, "time_hour 24")
h.equal(lpeg.match(Ct(dt.time_minute), "59"), { min = "59" }, "time_minute 59")
h.equal(lpeg.match(dt.time_minute, "60"), nil, "time_minute 60")
h.equal(lpeg.match(Ct(dt.time_second), "60"), { sec = "60" }, "time_second leap second")
h.equal(lpeg.match(dt.time_second, "61"), nil, "time_second 61")
h.equal(lpeg.match(Ct(dt.time_secfrac), ".5"), { sec_frac = 0.5 }, "time_secfrac .5")
h.equal(lpeg.match(Ct(dt.time_secfrac), ".123456"), { sec_frac = 0.123456 }, "time_secfrac")
h.equal(lpeg.match(dt.time_secfrac, "."), nil, "time_secfrac without digits")

h.equal(lpeg.match(Ct(dt.timezone_offset), "-0700"),
    { offset_sign = "-", offset_hour = "07", offset_min = "00" }, "timezone_offset -0700")
h.equal(lpeg.match(Ct(dt.timezone_offset), "+05:30"),
    { offset_sign = "+", offset_hour = "05", offset_min = "30" }, "timezone_offset +05:30")
h.equal(lpeg.match(dt.timezone_offset, "0700"), nil, "timezone_offset without sign")
h.equal(lpeg.match(Ct(dt.timezone), "UTC"),
    { offset_sign = "+", offset_hour = "00", offset_min = "00" }, "timezone UTC")
h.equal(lpeg.match(Ct(dt.timezone), "PST"),
    { offset_sign = "-", offset_hour = "08", offset_min = "00" }, "timezone PST")
h.equal(lpeg.match(Ct(dt.timezone), "EDT"),
    { offset_sign = "-", offset_hour = "04", offset_min = "00" }, "timezone EDT")
h.equal(lpeg.match(Ct(dt.timezone), "CEST"),
    { offset_sign = "+", offset_hour = "00", offset_min = "00" }, "timezone other -> offset 0")
h.equal(lpeg.match(dt.timezone, "123"), nil, "timezone digits")

----------------------------------------------------------------------------------------------
-- RFC 3339.
h.equal(lpeg.match(dt.rfc3339, "2014-01-10T07:04:56Z"),
    { year = "2014", month = "01", day = "10", hour = "07", min = "04", sec = "56" },
    "rfc3339 table, Z")
h.equal(lpeg.match(dt.rfc3339, "1996-12-19T16:39:57.25-08:00"),
    { year = "1996", month = "12", day = "19", hour = "16", min = "39", sec = "57",
        sec_frac = 0.25, offset_sign = "-", offset_hour = "08", offset_min = "00" },
    "rfc3339 table, fraction and offset")
h.equal(parse_ns(dt.rfc3339, "2014-01-10T07:04:56Z"), ns(1389337496), "rfc3339 Z")
h.equal(parse_ns(dt.rfc3339, "2014-01-10t07:04:56z"), ns(1389337496), "rfc3339 lower case")
h.equal(parse_ns(dt.rfc3339, "2014-01-10 07:04:56Z"), ns(1389337496), "rfc3339 space")
h.equal(parse_ns(dt.rfc3339, "2014-01-10T07:04:56+00:00"), ns(1389337496), "rfc3339 +00:00")
h.equal(parse_ns(dt.rfc3339, "1985-04-12T23:20:50.52Z"), ns(482196050, 520000000),
    "RFC 3339 example 1")
h.equal(parse_ns(dt.rfc3339, "1996-12-19T16:39:57-08:00"), ns(851042397), "RFC 3339 example 2")
h.equal(parse_ns(dt.rfc3339, "1990-12-31T23:59:60Z"), ns(662688000), "RFC 3339 leap second")
h.equal(parse_ns(dt.rfc3339, "1990-12-31T15:59:60-08:00"), ns(662688000),
    "RFC 3339 leap second with offset")
h.equal(parse_ns(dt.rfc3339, "1937-01-01T12:00:27.87+00:20"), ns(-1041337173, 870000000),
    "RFC 3339 example before the epoch")
h.equal(parse_ns(dt.rfc3339, "2015-05-06T20:40:05.509926234Z"), ns(1430944805, 509926234),
    "rfc3339 nanoseconds")
h.equal(parse_ns(dt.rfc3339, "2014-01-10T12:34:56+05:30"), ns(epoch(2014, 1, 10, 7, 4, 56)),
    "rfc3339 +05:30")
h.equal(parse_ns(dt.rfc3339, "1970-01-01T00:00:00Z"), 0, "rfc3339 epoch")
h.equal(parse_ns(dt.rfc3339, "1969-12-31T23:59:59Z"), ns(-1), "rfc3339 before epoch")
for _, bad in ipairs({ "2014-01-10T07:04:56", "2014-13-10T07:04:56Z", "2014-00-10T07:04:56Z",
    "2014-01-32T07:04:56Z", "2014-01-10T24:04:56Z", "2014-01-10T07:60:56Z",
    "2014-01-10T07:04:61Z", "2014-01-10T07:04:56+0800", "14-01-10T07:04:56Z",
    "2014-1-10T07:04:56Z", "2014-01-10T07:04:56.Z", "2014-01-10X07:04:56Z", "" }) do
    h.equal(lpeg.match(whole(dt.rfc3339), bad), nil, "rfc3339 rejects " .. bad)
end

-- the pieces under both names
h.equal(lpeg.match(Ct(dt.rfc3339_full_date), "2014-01-10"),
    { year = "2014", month = "01", day = "10" }, "rfc3339_full_date")
h.equal(lpeg.match(Ct(dt.full_date), "2014-01-10"),
    { year = "2014", month = "01", day = "10" }, "full_date")
h.equal(lpeg.match(Ct(dt.rfc3339_partial_time), "07:04:56.5"),
    { hour = "07", min = "04", sec = "56", sec_frac = 0.5 }, "rfc3339_partial_time")
h.equal(lpeg.match(Ct(dt.partial_time), "07:04:56"),
    { hour = "07", min = "04", sec = "56" }, "partial_time")
h.equal(lpeg.match(Ct(dt.rfc3339_full_time), "07:04:56-01:30"),
    { hour = "07", min = "04", sec = "56", offset_sign = "-", offset_hour = "01", offset_min = "30" },
    "rfc3339_full_time")
h.equal(lpeg.match(Ct(dt.full_time), "07:04:56Z"),
    { hour = "07", min = "04", sec = "56" }, "full_time Z")
h.equal(lpeg.match(Ct(dt.rfc3339_time_offset), "Z"), {}, "rfc3339_time_offset Z")
h.equal(lpeg.match(Ct(dt.time_offset), "+01:00"),
    { offset_sign = "+", offset_hour = "01", offset_min = "00" }, "time_offset")
h.equal(lpeg.match(Ct(dt.rfc3339_time_numoffset), "-12:45"),
    { offset_sign = "-", offset_hour = "12", offset_min = "45" }, "rfc3339_time_numoffset")
h.equal(lpeg.match(dt.time_numoffset, "Z"), nil, "time_numoffset rejects Z")

----------------------------------------------------------------------------------------------
-- Leap years and month lengths: time_to_ns against the day-counting reference.
for _, y in ipairs({ 1900, 1970, 1999, 2000, 2004, 2012, 2013, 2038, 2100, 2400 }) do
    for _, md in ipairs({ { 1, 1 }, { 2, 28 }, { 3, 1 }, { 6, 30 }, { 12, 31 } }) do
        local s = string.format("%04d-%02d-%02dT12:34:56Z", y, md[1], md[2])
        h.equal(parse_ns(dt.rfc3339, s), ns(epoch(y, md[1], md[2], 12, 34, 56)), s)
    end
    if is_leap(y) then
        local s = string.format("%04d-02-29T00:00:00Z", y)
        h.equal(parse_ns(dt.rfc3339, s), ns(epoch(y, 2, 29)), s)
        h.equal(parse_ns(dt.rfc3339, s) + 86400e9, ns(epoch(y, 3, 1)), s .. " + 1 day")
    end
end
h.equal(parse_ns(dt.rfc3339, "2000-02-29T00:00:00Z"), ns(951782400), "2000 is a leap year")

-- time_to_ns on hand-made tables, numbers or strings
h.equal(dt.time_to_ns({ year = 2014, month = 1, day = 10, hour = 7, min = 4, sec = 56 }),
    ns(1389337496), "time_to_ns numbers")
h.equal(dt.time_to_ns({ year = "2014", month = "01", day = "10" }), ns(1389312000),
    "time_to_ns date only")
h.equal(dt.time_to_ns({ year = "2014", month = "01", day = "10", hour = "07", min = "04",
    sec = "56", offset_sign = "+", offset_hour = "01", offset_min = "00" }), ns(1389337496 - 3600),
    "time_to_ns applies a + offset")
h.equal(dt.time_to_ns({ year = "2014", month = "01", day = "10", hour = "07", min = "04",
    sec = "56", offset_sign = "-", offset_hour = "01", offset_min = "30" }), ns(1389337496 + 5400),
    "time_to_ns applies a - offset")
h.equal(dt.seconds_to_ns(1389337496), ns(1389337496), "seconds_to_ns")
h.equal(dt.seconds_to_ns(0), 0, "seconds_to_ns 0")

----------------------------------------------------------------------------------------------
-- Common Log Format.
h.equal(lpeg.match(dt.clf_timestamp, "10/Oct/2000:13:55:36 -0700"),
    { day = "10", month = "10", year = "2000", hour = "13", min = "55", sec = "36",
        offset_sign = "-", offset_hour = "07", offset_min = "00" }, "clf table")
h.equal(parse_ns(dt.clf_timestamp, "10/Oct/2000:13:55:36 -0700"), ns(971211336), "clf")
h.equal(parse_ns(dt.clf_timestamp, "10/Jan/2014:07:04:56 +0000"), ns(1389337496), "clf UTC")
h.equal(parse_ns(dt.clf_timestamp, "29/Feb/2012:23:59:59 +0100"),
    ns(epoch(2012, 2, 29, 22, 59, 59)), "clf leap day, + offset")
for _, bad in ipairs({ "10/Oct/2000:13:55:36", "10/10/2000:13:55:36 -0700",
    "1/Oct/2000:13:55:36 -0700", "10/Oct/2000 13:55:36 -0700", "10/Oct/2000:25:55:36 -0700" }) do
    h.equal(lpeg.match(whole(dt.clf_timestamp), bad), nil, "clf rejects " .. bad)
end

----------------------------------------------------------------------------------------------
-- RFC 3164 (no year: the current year, or the previous one for a date ahead of now).
h.equal(lpeg.match(dt.rfc3164_timestamp, "Oct 11 22:14:15"),
    { month = "10", day = "11", hour = "22", min = "14", sec = "15" }, "rfc3164 table")
h.equal(lpeg.match(dt.rfc3164_timestamp, "Oct  1 22:14:15"),
    { month = "10", day = "1", hour = "22", min = "14", sec = "15" }, "rfc3164 space padded day")
h.equal(lpeg.match(dt.rfc3164_timestamp, "Feb 5 01:02:03"),
    { month = "02", day = "5", hour = "01", min = "02", sec = "03" }, "rfc3164 single digit day")
local function expected_3164(m, d, H, M, S)
    local now = os.time()
    local y = civil(now)
    local s = epoch(y, m, d, H, M, S)
    if s > now + 86400 then s = epoch(y - 1, m, d, H, M, S) end
    return ns(s)
end
h.equal(parse_ns(dt.rfc3164_timestamp, "Oct 11 22:14:15"), expected_3164(10, 11, 22, 14, 15),
    "rfc3164 ns")
h.equal(parse_ns(dt.rfc3164_timestamp, "Jan  1 00:00:00"), expected_3164(1, 1, 0, 0, 0),
    "rfc3164 Jan 1")
h.equal(parse_ns(dt.rfc3164_timestamp, "Dec 31 23:59:59"), expected_3164(12, 31, 23, 59, 59),
    "rfc3164 Dec 31")
do -- a date more than a day ahead belongs to the previous year; one 3 days ago to its year
    local now = os.time()
    for _, delta in ipairs({ 3 * 86400, -3 * 86400 }) do
        local ay, am, ad, aH, aM, aS = civil(now + delta)
        if not (am == 2 and ad == 29) then
            local s = string.format("%s %2d %02d:%02d:%02d", abbrs[am], ad, aH, aM, aS)
            local want_year = delta > 0 and ay - 1 or ay
            h.equal(parse_ns(dt.rfc3164_timestamp, s), ns(epoch(want_year, am, ad, aH, aM, aS)),
                "rfc3164 " .. s)
        end
    end
end
for _, bad in ipairs({ "Oct 11 22:14", "Oct 32 22:14:15", "Foo 11 22:14:15",
    "2014-10-11 22:14:15", "Oct 11 22:14:15.123" }) do
    h.equal(lpeg.match(whole(dt.rfc3164_timestamp), bad), nil, "rfc3164 rejects " .. bad)
end

----------------------------------------------------------------------------------------------
-- MySQL and Postgres.
h.equal(lpeg.match(dt.mysql_timestamp, "140110  7:04:56"),
    { year = "2014", month = "01", day = "10", hour = "7", min = "04", sec = "56" },
    "mysql yymmdd space padded hour")
h.equal(parse_ns(dt.mysql_timestamp, "140110 07:04:56"), ns(1389337496), "mysql yymmdd")
h.equal(lpeg.match(dt.mysql_timestamp, "20140110070456"),
    { year = "2014", month = "01", day = "10", hour = "07", min = "04", sec = "56" },
    "mysql yyyymmddhhmmss (rsyslog date-mysql)")
h.equal(parse_ns(dt.mysql_timestamp, "20140110070456"), ns(1389337496), "mysql 14 digits")
h.equal(lpeg.match(whole(dt.mysql_timestamp), "20141310070456"), nil, "mysql 14 digits bad month")
h.equal(parse_ns(dt.mysql_timestamp, "991231 23:59:59"), ns(epoch(1999, 12, 31, 23, 59, 59)),
    "mysql yymmdd 1999")
h.equal(parse_ns(dt.mysql_timestamp, "2014-01-10 07:04:56"), ns(1389337496), "mysql datetime")
h.equal(parse_ns(dt.mysql_timestamp, "2014-01-10 07:04:56.123456"), ns(1389337496, 123456000),
    "mysql datetime fraction")
h.equal(lpeg.match(whole(dt.mysql_timestamp), "2014-01-10T07:04:56"), nil, "mysql rejects T")

h.equal(lpeg.match(dt.pgsql_timestamp, "2014-01-10 07:04:56 UTC"),
    { year = "2014", month = "01", day = "10", hour = "07", min = "04", sec = "56",
        offset_sign = "+", offset_hour = "00", offset_min = "00" }, "pgsql table")
h.equal(parse_ns(dt.pgsql_timestamp, "2014-01-10 07:04:56 UTC"), ns(1389337496), "pgsql UTC")
h.equal(parse_ns(dt.pgsql_timestamp, "2014-01-09 23:04:56.123 PST"), ns(1389337496, 123000000),
    "pgsql PST with milliseconds")
h.equal(parse_ns(dt.pgsql_timestamp, "2014-01-10 09:04:56 +02"), ns(1389337496), "pgsql +02")
h.equal(parse_ns(dt.pgsql_timestamp, "2014-01-10 09:04:56 +02:00"), ns(1389337496),
    "pgsql +02:00")
h.equal(parse_ns(dt.pgsql_timestamp, "2014-01-10 07:04:56"), ns(1389337496), "pgsql no zone")

----------------------------------------------------------------------------------------------
-- strftime grammars.
local function sg(fmt) return dt.build_strftime_grammar(fmt) end

h.equal(lpeg.match(sg("%Y-%m-%d %H:%M:%S"), "2014-01-10 07:04:56"),
    { year = "2014", month = "01", day = "10", hour = "07", min = "04", sec = "56" },
    "strftime table")
h.equal(parse_ns(sg("%Y-%m-%d %H:%M:%S"), "2014-01-10 07:04:56"), ns(1389337496), "%Y-%m-%d %H:%M:%S")
h.equal(parse_ns(sg("%d/%b/%Y:%H:%M:%S %z"), "10/Oct/2000:13:55:36 -0700"), ns(971211336),
    "strftime clf")
h.equal(parse_ns(sg("%a, %d %b %Y %H:%M:%S %z"), "Fri, 10 Jan 2014 07:04:56 +0000"),
    ns(1389337496), "strftime RFC 2822")
h.equal(parse_ns(sg("%A, %B %e %Y"), "Friday, January  3 2014"), ns(epoch(2014, 1, 3)),
    "%A %B %e")
h.equal(parse_ns(sg("%A, %B %e %Y"), "Sunday, December 31 2017"), ns(epoch(2017, 12, 31)),
    "%A %B %e two digits")
h.equal(parse_ns(sg("%b %e %T"), "Jan 3 01:02:03") ~= nil, true, "%e single digit")
h.equal(parse_ns(sg("%y%m%d %T"), "140110 07:04:56"), ns(1389337496), "%y %T")
h.equal(parse_ns(sg("%y-%m-%d"), "69-01-01"), ns(epoch(1969, 1, 1)), "%y 69 -> 1969")
h.equal(parse_ns(sg("%y-%m-%d"), "68-01-01"), ns(epoch(2068, 1, 1)), "%y 68 -> 2068")
h.equal(parse_ns(sg("%C%y-%m-%d"), "1968-01-01"), ns(epoch(1968, 1, 1)), "%C %y")
h.equal(parse_ns(sg("%D %T"), "01/10/14 07:04:56"), ns(1389337496), "%D")
h.equal(parse_ns(sg("%F %R"), "2014-01-10 07:04"), ns(1389337440), "%F %R")
h.equal(parse_ns(sg("%F %X"), "2014-01-10 07:04:56"), ns(1389337496), "%X")
h.equal(parse_ns(sg("%x"), "01/10/14"), ns(1389312000), "%x")
h.equal(parse_ns(sg("%c"), "Fri Jan 10 07:04:56 2014"), ns(1389337496), "%c")
h.equal(parse_ns(sg("%c"), "Fri Jan  3 07:04:56 2014"), ns(epoch(2014, 1, 3, 7, 4, 56)), "%c padded")
h.equal(parse_ns(sg("%F %I:%M:%S %p"), "2014-01-10 12:00:00 AM"), ns(epoch(2014, 1, 10)),
    "%I %p 12 AM")
h.equal(parse_ns(sg("%F %I:%M:%S %p"), "2014-01-10 12:30:00 PM"), ns(epoch(2014, 1, 10, 12, 30)),
    "%I %p 12 PM")
h.equal(parse_ns(sg("%F %I:%M:%S %p"), "2014-01-10 01:00:00 PM"), ns(epoch(2014, 1, 10, 13)),
    "%I %p 1 PM")
h.equal(parse_ns(sg("%F %I:%M:%S %p"), "2014-01-10 11:59:59 am"),
    ns(epoch(2014, 1, 10, 11, 59, 59)), "%I %p lower case am")
h.equal(parse_ns(sg("%F %r"), "2014-01-10 07:04:56 AM"), ns(1389337496), "%r")
h.equal(parse_ns(sg("%F %r"), "2014-01-10 07:04:56 PM"), ns(1389337496 + 12 * 3600), "%r PM")
h.equal(lpeg.match(sg("%F %I:%M:%S %p"), "2014-01-10 13:00:00 PM"), nil, "%I rejects 13")
h.equal(parse_ns(sg("%Y %j"), "2012 060"), ns(epoch(2012, 2, 29)), "%j leap year day 60")
h.equal(parse_ns(sg("%Y %j"), "2013 060"), ns(epoch(2013, 3, 1)), "%j day 60")
h.equal(parse_ns(sg("%Y %j"), "2012 366"), ns(epoch(2012, 12, 31)), "%j day 366")
h.equal(parse_ns(sg("%Y %j"), "2014 001"), ns(epoch(2014, 1, 1)), "%j day 1")
h.equal(lpeg.match(sg("%Y %j"), "2014 000"), nil, "%j rejects 0")
h.equal(lpeg.match(sg("%Y %j"), "2014 367"), nil, "%j rejects 367")
h.equal(parse_ns(sg("%s"), "1389337496"), ns(1389337496), "%s")
h.equal(lpeg.match(sg("%s"), "1389337496"),
    { year = "2014", month = "01", day = "10", hour = "07", min = "04", sec = "56" }, "%s table")
h.equal(parse_ns(sg("%s"), "0"), 0, "%s 0")
h.equal(parse_ns(sg("%s"), "-86401"), ns(-86401), "%s negative")
h.equal(parse_ns(sg("%s.%f"), "1389337496.250"), ns(1389337496, 250000000), "%s.%f")
h.equal(parse_ns(sg("%Y-%m-%dT%H:%M:%S.%f"), "2015-05-06T20:40:05.509926234"),
    ns(1430944805, 509926234), "%f nanoseconds")
h.equal(parse_ns(sg("%Y-%m-%dT%H:%M:%S.%fZ"), "2014-01-10T07:04:56.1Z"),
    ns(1389337496, 100000000), "%f one digit")
h.equal(parse_ns(sg("%F %T %z"), "2014-01-10 12:34:56 +05:30"), ns(1389337496), "%z +05:30")
h.equal(parse_ns(sg("%F %T %z"), "2014-01-09 23:04:56 -0800"), ns(1389337496), "%z -0800")
h.equal(parse_ns(sg("%F %T %z"), "2014-01-10 07:04:56 Z"), ns(1389337496), "%z Z")
h.equal(parse_ns(sg("%F %T %Z"), "2014-01-10 07:04:56 UTC"), ns(1389337496), "%Z UTC")
h.equal(parse_ns(sg("%F %T %Z"), "2014-01-09 23:04:56 PST"), ns(1389337496), "%Z PST")
h.equal(parse_ns(sg("%F %T %Z"), "2014-01-10 02:04:56 EST"), ns(1389337496), "%Z EST")
h.equal(parse_ns(sg("%F %T %Z"), "2014-01-10 07:04:56 CEST"), ns(1389337496), "%Z other -> 0")
h.equal(parse_ns(sg("%F %k:%M"), "2014-01-10  7:04"), ns(1389337440), "%k")
h.equal(parse_ns(sg("%F %l:%M %p"), "2014-01-10  7:04 PM"), ns(1389337440 + 43200), "%l")
h.equal(parse_ns(sg("%h %d %Y"), "Jan 10 2014"), ns(1389312000), "%h")
h.equal(parse_ns(sg("%Y%m%d%H%M%S"), "20140110070456"), ns(1389337496), "no separators")
h.equal(parse_ns(sg("%%%Y"), "%2014"), ns(epoch(2014, 1, 1)), "%% literal")
h.equal(parse_ns(sg("%Y%n%m%t%d"), "2014 \n01\t10"), ns(1389312000), "%n %t whitespace")
h.equal(parse_ns(sg("%Y%n%m%t%d"), "20140110"), ns(1389312000), "%n %t no whitespace")
h.equal(parse_ns(sg("%a %u %w %U %W %V %G %g %F"), "Fri 5 5 01 01 02 2014 14 2014-01-10"),
    ns(1389312000), "week/weekday specifiers are consumed")
h.equal(parse_ns(sg("%Ey-%Om-%Od"), "14-01-10"), ns(1389312000), "E and O modifiers")
h.equal(parse_ns(sg("[%d/%b/%Y:%H:%M:%S %z]"), "[10/Oct/2000:13:55:36 -0700]"), ns(971211336),
    "literal text around specifiers")
-- missing fields default: month/day 1, h/m/s 0
h.equal(parse_ns(sg("%Y"), "2014"), ns(epoch(2014, 1, 1)), "year only")
h.equal(parse_ns(sg("%Y-%m"), "2014-03"), ns(epoch(2014, 3, 1)), "year and month")
-- a time without a date is today's (UTC)
do
    local t = lpeg.match(sg("%H:%M:%S"), "01:02:03")
    local now = os.time()
    local y, m, d = civil(now)
    local today = epoch(y, m, d)
    local got = dt.time_to_ns(t)
    -- (allow the day to have changed between the two clock reads)
    h.equal(got == ns(today + 3723) or got == ns(today + 86400 + 3723), true, "time only -> today")
end
-- the same grammar object for the same format
h.equal(sg("%F %T") == sg("%F %T"), true, "grammars are cached")

-- bad input rejected
for _, c in ipairs({
    { "%Y-%m-%d", "2014-13-01" }, { "%Y-%m-%d", "2014-1-01" }, { "%Y-%m-%d", "14-01-01" },
    { "%H:%M:%S", "24:00:00" }, { "%H:%M:%S", "23:60:00" }, { "%H:%M:%S", "23:59:61" },
    { "%b", "Foo" }, { "%B", "Jan" }, { "%a", "Fry" }, { "%A", "Fri" }, { "%p", "XM" },
    { "%z", "0700" }, { "%s", "abc" }, { "%d", "32" }, { "%e", "0" },
}) do
    h.equal(lpeg.match(whole(sg(c[1])), c[2]), nil, "strftime " .. c[1] .. " rejects " .. c[2])
end

-- unsupported specifiers throw
for _, f in ipairs({ "%Q", "%Y %", "%q%Y", "%E" }) do
    local ok, err = pcall(dt.build_strftime_grammar, f)
    h.equal(ok, false, "unsupported " .. f)
    h.equal(type(err), "string", "error text for " .. f)
end
h.equal(pcall(dt.build_strftime_grammar, nil), false, "non-string format")
