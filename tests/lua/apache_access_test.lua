-- Tests of lua/lua_decoders/apache_access.lua: the formats of Heka's documented example
-- configuration (combined, common, vhost_combined, referer), its example message, the
-- user agent options, payload_keep, bad lines and tests/lua/fixtures/apache_combined.log.
local h = require "harness"

local DECODER = "lua/lua_decoders/apache_access.lua"
-- As written in Heka's TOML example (single-quoted, so the \" reach the decoder).
local COMBINED = '%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"'
local COMMON = '%h %l %u %t \\"%r\\" %>s %O'
local VHOST_COMBINED = '%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" '
    .. '\\"%{User-Agent}i\\"'
local REFERER = '%{Referer}i -> %U'
-- Apache's stock "combined" (%b: "-" when no body was sent): the fixture's format.
local APACHE_COMBINED = '%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\"'
local FXOS_UA = "Mozilla/5.0 (Mobile; rv:29.0) Gecko/29.0 Firefox/29.0"

local function input(payload)
    return { Type = "logfile", Logger = "TestWebserver", Hostname = "test.example.com",
        Payload = payload }
end

local function decode(config, line)
    return h.plugin(DECODER, config).process(input(line))
end

-- Heka's example message (shared with the nginx decoder's documentation): the fields it
-- lists come from this format (%a: the address, a literal "-" for the logname).
do
    local rc, err, out = decode({ type = "combined", user_agent_transform = true,
        log_format = '%a - %u %t \\"%r\\" %>s %B \\"%{Referer}i\\" \\"%{User-agent}i\\" '
            .. '\\"%{X-Forwarded-For}i\\"' },
        '62.195.113.219 - - [10/Jan/2014:07:04:56 -0800] "GET /v1/recovery_email/status '
        .. 'HTTP/1.1" 200 82 "-" "' .. FXOS_UA .. '" "-"')
    h.equal({ rc, err }, { 0 }, "rc")
    h.equal(out, { {
        Type = "combined",
        Timestamp = 1389366296e9,
        Fields = {
            remote_user = "-",
            http_x_forwarded_for = "-",
            http_referer = "-",
            body_bytes_sent = { value = 82, representation = "B" },
            remote_addr = { value = "62.195.113.219", representation = "ipv4" },
            status = 200,
            request = "GET /v1/recovery_email/status HTTP/1.1",
            user_agent_os = "FirefoxOS",
            user_agent_browser = "Firefox",
            user_agent_version = 29,
        },
    } }, "Heka's example message")
end

-- The documented example configuration: combined with user_agent_transform.
do
    local rc, err, out = decode({ type = "combined", user_agent_transform = true,
        log_format = COMBINED },
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 '
        .. '2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"\n')
    h.equal({ rc, err }, { 0 }, "combined rc")
    h.equal(out, { {
        Type = "combined",
        Timestamp = 971211336e9,
        Fields = {
            remote_addr = { value = "127.0.0.1", representation = "ipv4" },
            remote_logname = "-",
            remote_user = "frank",
            request = "GET /apache_pb.gif HTTP/1.0",
            status = 200,
            bytes_sent = { value = 2326, representation = "B" },
            http_referer = "http://www.example.com/start.html",
        },
    } }, "combined: an unrecognised user agent is dropped by the transform")
end

do -- common, IPv6 client.
    local rc, err, out = decode({ log_format = COMMON },
        '2001:db8::5 - - [06/Dec/2023:14:03:27 +0000] "GET /index.html HTTP/1.1" 200 5120')
    h.equal({ rc, err }, { 0 }, "common rc")
    h.equal(out, { {
        Timestamp = 1701871407e9,
        Fields = {
            remote_addr = { value = "2001:db8::5", representation = "ipv6" },
            remote_logname = "-",
            remote_user = "-",
            request = "GET /index.html HTTP/1.1",
            status = 200,
            bytes_sent = { value = 5120, representation = "B" },
        },
    } }, "common")
end

do -- vhost_combined with payload_keep and user_agent_keep.
    local line = 'www.example.com:80 198.51.100.7 - - [06/Dec/2023:14:03:28 +0000] '
        .. '"GET /robots.txt HTTP/1.1" 200 67 "-" '
        .. '"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"'
    local rc, err, out = decode({ log_format = VHOST_COMBINED, payload_keep = true,
        user_agent_transform = true, user_agent_keep = true, type = "apache.vhost" }, line)
    h.equal({ rc, err }, { 0 }, "vhost rc")
    h.equal(out, { {
        Type = "apache.vhost",
        Timestamp = 1701871408e9,
        Payload = line,
        Fields = {
            server_name = "www.example.com",
            server_port = 80,
            remote_addr = { value = "198.51.100.7", representation = "ipv4" },
            remote_logname = "-",
            remote_user = "-",
            request = "GET /robots.txt HTTP/1.1",
            status = 200,
            bytes_sent = { value = 67, representation = "B" },
            http_referer = "-",
            http_user_agent =
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            user_agent_browser = "Googlebot",
            user_agent_version = 2,
        },
    } }, "vhost_combined")
end

do -- referer log format: no time, so no Timestamp.
    local rc, err, out = decode({ log_format = REFERER },
        "http://www.example.com/start.html -> /apache_pb.gif")
    h.equal({ rc, err }, { 0 }, "referer rc")
    h.equal(out, { { Fields = { http_referer = "http://www.example.com/start.html",
        uri = "/apache_pb.gif" } } }, "referer")
end

do -- user_agent_conditional keeps the agent only when the transform fails.
    local config = { log_format = '\\"%{User-Agent}i\\"', user_agent_transform = true,
        user_agent_conditional = true }
    local _, _, out = decode(config, '"' .. FXOS_UA .. '"')
    h.equal(out[1].Fields, { user_agent_browser = "Firefox", user_agent_version = 29,
        user_agent_os = "FirefoxOS" }, "conditional, success")
    _, _, out = decode(config, '"Apache/2.4.57 (Debian) (internal dummy connection)"')
    h.equal(out[1].Fields, { http_user_agent =
        "Apache/2.4.57 (Debian) (internal dummy connection)" }, "conditional, failure")
end

-- Lines that do not match: -1 with an error, nothing injected.
do
    local p = h.plugin(DECODER, { log_format = COMBINED })
    for _, line in ipairs({
        "",
        "127.0.0.1 - frank",
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326',
        '127.0.0.1 - frank 10/Oct/2000:13:55:36 -0700 "GET / HTTP/1.0" 200 2326 "-" "-"',
    }) do
        local rc, err, out = p.process(input(line))
        h.equal({ rc, type(err), #out }, { -1, "string", 0 }, "no match: " .. line)
    end
end

h.equal(pcall(h.plugin, DECODER, { log_format = "%h %Z" }), false, "unknown directive")

-- The fixture log (Apache's stock combined format with %b).
do
    local p = h.plugin(DECODER, { log_format = APACHE_COMBINED, type = "apache.access",
        user_agent_transform = true, user_agent_conditional = true })
    local n = 0
    for line in h.read_file("tests/lua/fixtures/apache_combined.log"):gmatch("[^\n]+") do
        n = n + 1
        local rc, err, out = p.process(input(line))
        h.equal({ rc, err, #out }, { 0, nil, 1 }, "fixture line " .. n)
        local m = out[1]
        h.equal({ m.Type, type(m.Timestamp), type(m.Fields.status),
            type(m.Fields.body_bytes_sent) }, { "apache.access", "number", "number", "table" },
            "fixture message " .. n)
    end
    h.equal(n, 20, "fixture lines")
end
