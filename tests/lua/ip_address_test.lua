-- Tests for lua/lua_modules/ip_address.lua: v4, v6, hostname, host matchers and the
-- v4_field, v6_field, host_field, v4_octets captures.
local h = require "harness"
local lpeg = require "lpeg"
local ip = require "ip_address"

local function whole(p) return p * -1 end
local function accepts(p, s) return lpeg.match(whole(p), s) ~= nil end

-- IPv4
for _, s in ipairs({ "0.0.0.0", "127.0.0.1", "192.168.1.1", "255.255.255.255", "10.0.0.255",
    "1.2.3.4", "199.99.9.249", "250.251.252.253" }) do
    h.equal(accepts(ip.v4, s), true, "v4 accepts " .. s)
end
for _, s in ipairs({ "256.0.0.1", "1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.04",
    "a.b.c.d", "1..2.3", "", "1.2.3.", ".1.2.3", "300.1.1.1", "1.2.3.4 " }) do
    h.equal(accepts(ip.v4, s), false, "v4 rejects " .. s)
end
h.equal(lpeg.match(ip.v4, "10.1.2.3 - -"), 9, "v4 unanchored stops after the address")

-- IPv6 (RFC 4291 / RFC 3986 forms)
for _, s in ipairs({
    "::", "::1", "1::", "2001:db8::1", "2001:DB8::1", "2001:0db8:0000:0000:0000:ff00:0042:8329",
    "2001:db8:0:0:0:ff00:42:8329", "fe80::1ff:fe23:4567:890a", "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::8", "1:2::7:8", "1:2:3::6:7:8", "1:2:3:4:5::8",
    "::ffff:192.168.1.1", "::192.168.1.1", "1:2:3:4:5:6:1.2.3.4", "1::1.2.3.4",
    "1:2:3:4:5::1.2.3.4", "64:ff9b::192.0.2.33", "ff02::2", "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
}) do
    h.equal(accepts(ip.v6, s), true, "v6 accepts " .. s)
end
for _, s in ipairs({
    "", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1",
    "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6::1.2.3.4", "::1.2.3.256",
    "::ffff:1.2.3", "1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", ":1::", "1:::2", "2001:db8::1::",
}) do
    h.equal(accepts(ip.v6, s), false, "v6 rejects " .. s)
end

-- Fields
h.equal(lpeg.match(ip.v4_field, "192.168.1.1"), { value = "192.168.1.1", representation = "ipv4" },
    "v4_field")
h.equal(lpeg.match(ip.v6_field, "2001:db8::1"), { value = "2001:db8::1", representation = "ipv6" },
    "v6_field")
h.equal(lpeg.match(ip.v6_field, "::ffff:10.0.0.1"),
    { value = "::ffff:10.0.0.1", representation = "ipv6" }, "v6_field with IPv4 tail")
h.equal(lpeg.match(ip.v4_field, "::1"), nil, "v4_field rejects v6")
h.equal(lpeg.match(ip.v6_field, "10.0.0.1"), nil, "v6_field rejects v4")
h.equal(lpeg.match(ip.v4_field * " x", "1.2.3.4 x"), { value = "1.2.3.4", representation = "ipv4" },
    "v4_field in a sequence")

-- host: v6 | v4 | hostname
for _, s in ipairs({ "example.com", "localhost", "www.mozilla.org", "a-b.c_d~e", "my%20host",
    "127.0.0.1", "::1", "1.2.3.4.example.com" }) do
    h.equal(accepts(ip.host, s), true, "host accepts " .. s)
end
h.equal(accepts(ip.host, ""), false, "host rejects empty")
h.equal(accepts(ip.host, "a b"), false, "host rejects a space")
h.equal(accepts(ip.hostname, "example.com"), true, "hostname")
h.equal(lpeg.match(ip.host_field, "127.0.0.1"), { value = "127.0.0.1", representation = "ipv4" },
    "host_field ipv4")
h.equal(lpeg.match(ip.host_field, "fe80::1"), { value = "fe80::1", representation = "ipv6" },
    "host_field ipv6")
h.equal(lpeg.match(ip.host_field, "example.com"),
    { value = "example.com", representation = "hostname" }, "host_field hostname")
h.equal(lpeg.match(ip.host_field, "1.2.3.4.example.com"),
    { value = "1.2.3.4.example.com", representation = "hostname" }, "host_field v4-like name")

-- octets
h.equal(lpeg.match(ip.v4_octets, "192.168.0.255"), { 192, 168, 0, 255 }, "v4_octets")
h.equal(lpeg.match(ip.v4_octets, "192.168.0.256"), nil, "v4_octets rejects 256")
