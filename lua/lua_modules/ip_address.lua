-- ip_address: LPeg grammars for IPv4/IPv6 addresses and host names (hekad's version of
-- lua_sandbox's `ip_address` module; written from its documentation, with the address
-- syntax of RFC 3986 section 3.2.2). Reads no configuration.
--
--   v4, v6, hostname, host   matchers (no captures); host = v6 | v4 | hostname
--   v4_field, v6_field       capture a Heka field table {value = "...", representation =
--                            "ipv4" | "ipv6"}
--   host_field               the same for host ("ipv6", "ipv4" or "hostname")
--   v4_octets                captures an IPv4 address as an array of four numbers
-- The matchers are not anchored: anchor them (`* -1`) to test a whole string.
local lpeg = require "lpeg"

local P, R, S, C, Cc, Cg, Ct = lpeg.P, lpeg.R, lpeg.S, lpeg.C, lpeg.Cc, lpeg.Cg, lpeg.Ct
local tonumber = tonumber

local M = {}

local digit = R"09"
local hex = R("09", "af", "AF")

-- 0-255 without leading zeros (RFC 3986 dec-octet), longest alternative first.
local dec_octet = P"25" * R"05" + P"2" * R"04" * digit + P"1" * digit * digit
    + R"19" * digit + digit

--- IPv4 address matcher ("192.168.1.1"); a digit may not follow ("1.2.3.256" fails).
M.v4 = dec_octet * P"." * dec_octet * P"." * dec_octet * P"." * dec_octet * -digit

local h16 = hex * hex^-3
-- Not followed by anything that could continue an IPv6 address.
local v6_end = -(hex + S":.")

-- Up to `m` 16-bit groups after "::"; an IPv4 tail counts as two groups.
local function suffix(m)
    if m <= 0 then return P(false) end
    local p = h16 * (P":" * suffix(m - 1))^-1
    if m >= 2 then p = M.v4 + p end
    return p
end

local function build_v6()
    -- 6( h16 ":" ) ls32
    local full = P(true)
    for _ = 1, 6 do full = full * h16 * P":" end
    full = full * (M.v4 + h16 * P":" * h16)
    local p = full * v6_end
    -- n groups, "::", at most 7 - n groups
    for n = 0, 7 do
        local prefix
        if n == 0 then
            prefix = P(true)
        else
            prefix = h16
            for _ = 2, n do prefix = prefix * P":" * h16 end
        end
        p = p + prefix * P"::" * suffix(7 - n)^-1 * v6_end
    end
    return p
end

--- IPv6 address matcher (all RFC 3986 forms, including "::" and an IPv4 tail).
M.v6 = build_v6()

local unreserved = R("az", "AZ", "09") + S"-._~"
local pct_encoded = P"%" * hex * hex
local sub_delims = S"!$&'()*+,;="
local reg_char = unreserved + pct_encoded + sub_delims

--- URI reg-name (RFC 3986) matcher, e.g. "example.com".
M.hostname = reg_char^1

--- v6 | v4 | hostname (an IPv4-looking prefix of a longer name is a hostname).
M.host = M.v6 + M.v4 * -reg_char + M.hostname

local function field(p, representation)
    return Ct(Cg(C(p), "value") * Cg(Cc(representation), "representation"))
end

--- IPv4 address as a Heka field {value = "...", representation = "ipv4"}.
M.v4_field = field(M.v4, "ipv4")
--- IPv6 address as a Heka field {value = "...", representation = "ipv6"}.
M.v6_field = field(M.v6, "ipv6")
--- host as a Heka field with representation "ipv6", "ipv4" or "hostname".
M.host_field = field(M.v6, "ipv6") + field(M.v4 * -reg_char, "ipv4")
    + field(M.hostname, "hostname")

local octet = C(dec_octet) / tonumber
--- IPv4 address as an array of its four octets (numbers).
M.v4_octets = Ct(octet * P"." * octet * P"." * octet * P"." * octet * -digit)

return M
