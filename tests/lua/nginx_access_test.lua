-- Tests of lua/lua_decoders/nginx_access.lua: Heka's documented example configuration and
-- message, the user agent options, payload_keep, custom formats, bad lines and the
-- fixture log tests/lua/fixtures/nginx_combined.log.
local h = require "harness"

local DECODER = "lua/lua_decoders/nginx_access.lua"
local COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status '
    .. '$body_bytes_sent "$http_referer" "$http_user_agent"'
-- The fields of Heka's example message (combined plus X-Forwarded-For).
local EXAMPLE_FORMAT = COMBINED .. ' "$http_x_forwarded_for"'
local FXOS_UA = "Mozilla/5.0 (Mobile; rv:29.0) Gecko/29.0 Firefox/29.0"
local EXAMPLE_LINE = '62.195.113.219 - - [10/Jan/2014:07:04:56 -0800] '
    .. '"GET /v1/recovery_email/status HTTP/1.1" 200 82 "-" "' .. FXOS_UA .. '" "-"'

local function input(payload)
    return { Type = "logfile", Logger = "TestWebserver", Hostname = "test.example.com",
        Payload = payload, Severity = 7 }
end

local function decode(config, line)
    return h.plugin(DECODER, config).process(input(line))
end

-- Heka's documented example: [CombinedLogDecoder.config] type = "combined",
-- user_agent_transform = true. Timestamp 2014-01-10 07:04:56 -0800 PST; no Payload.
do
    local rc, err, out = decode({ type = "combined", user_agent_transform = true,
        log_format = EXAMPLE_FORMAT }, EXAMPLE_LINE)
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

-- The documented combined format without options: no Type (the input's is kept), the user
-- agent as is.
do
    local rc, err, out = decode({ log_format = COMBINED },
        '::ffff:192.0.2.1 - - [10/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" 304 0 "-" '
        .. '"curl/8.4.0"\n')
    h.equal(rc, 0, "rc")
    h.equal(out, { {
        Timestamp = 1392050801e9,
        Fields = {
            remote_addr = { value = "::ffff:192.0.2.1", representation = "ipv6" },
            remote_user = "-",
            request = "GET / HTTP/1.1",
            status = 304,
            body_bytes_sent = { value = 0, representation = "B" },
            http_referer = "-",
            http_user_agent = "curl/8.4.0",
        },
    } }, "combined, no options, IPv6")
end

-- User agent options.
do
    local function ua_fields(config, ua)
        config.log_format = '"$http_user_agent"'
        local rc, err, out = decode(config, '"' .. ua .. '"')
        h.equal({ rc, err, #out }, { 0, nil, 1 }, "ua rc")
        return out[1].Fields
    end
    local unknown = "SomeCrawler (+http://example.org)"
    local parts = { user_agent_browser = "Firefox", user_agent_version = 29,
        user_agent_os = "FirefoxOS" }

    h.equal(ua_fields({}, FXOS_UA), { http_user_agent = FXOS_UA }, "no transform")
    h.equal(ua_fields({ user_agent_transform = true }, FXOS_UA), parts, "transform")
    h.equal(ua_fields({ user_agent_transform = true }, unknown), {},
        "transform of an unknown agent drops it")
    h.equal(ua_fields({ user_agent_transform = true, user_agent_keep = true }, FXOS_UA),
        { http_user_agent = FXOS_UA, user_agent_browser = "Firefox", user_agent_version = 29,
            user_agent_os = "FirefoxOS" }, "user_agent_keep")
    h.equal(ua_fields({ user_agent_transform = true, user_agent_conditional = true }, FXOS_UA),
        parts, "user_agent_conditional, transform succeeds")
    h.equal(ua_fields({ user_agent_transform = true, user_agent_conditional = true }, unknown),
        { http_user_agent = unknown }, "user_agent_conditional, transform fails")
    h.equal(ua_fields({ user_agent_transform = true, user_agent_conditional = true },
        "Mozilla/5.0 (Windows NT 6.1)"), { http_user_agent = "Mozilla/5.0 (Windows NT 6.1)",
        user_agent_os = "Windows 7" }, "conditional: no browser found counts as a failure")
    h.equal(ua_fields({ user_agent_keep = true, user_agent_conditional = true }, FXOS_UA),
        { http_user_agent = FXOS_UA }, "keep/conditional without transform")
end

-- payload_keep.
do
    local rc, _, out = decode({ log_format = COMBINED, payload_keep = true, type = "nginx" },
        EXAMPLE_LINE:sub(1, -5))
    h.equal(rc, 0, "payload_keep rc")
    h.equal(out[1].Payload, EXAMPLE_LINE:sub(1, -5), "payload_keep")
    h.equal(out[1].Type, "nginx", "type")
end

-- A custom format with timings and upstream lists; no time variable: no Timestamp.
do
    local rc, err, out = decode({ log_format = '$host $remote_addr "$request" $status '
        .. '$request_time $upstream_response_time "$http_x_forwarded_for" $ssl_protocol' },
        'api.example.com 10.0.0.9 "GET /v1/users/42 HTTP/1.1" 502 0.250 0.120, 0.130 '
        .. '"203.0.113.7, 10.0.0.1" TLSv1.3')
    h.equal({ rc, err }, { 0 }, "custom rc")
    h.equal(out, { { Fields = {
        host = "api.example.com",
        remote_addr = { value = "10.0.0.9", representation = "ipv4" },
        request = "GET /v1/users/42 HTTP/1.1",
        status = 502,
        request_time = { value = 0.25, representation = "s" },
        upstream_response_time = "0.120, 0.130",
        http_x_forwarded_for = "203.0.113.7, 10.0.0.1",
        ssl_protocol = "TLSv1.3",
    } } }, "custom format")
end

-- Lines that do not match: -1 with an error, nothing injected, and the decoder goes on.
do
    local p = h.plugin(DECODER, { log_format = COMBINED })
    for _, line in ipairs({
        "",
        "not a log line",
        '10.0.0.1 - - [10/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" 200',
        '10.0.0.1 - - [99/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" 200 1 "-" "-"',
        '10.0.0.1 - - [10/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" OK 1 "-" "-"',
    }) do
        local rc, err, out = p.process(input(line))
        h.equal(rc, -1, "rc for " .. line)
        h.equal(type(err), "string", "error text for " .. line)
        h.equal(out, {}, "nothing injected for " .. line)
    end
    local rc, err, out = p.process({ Type = "x" })
    h.equal({ rc, type(err), #out }, { -1, "string", 0 }, "message without Payload")
    rc = p.process(input(EXAMPLE_LINE:sub(1, -5)))
    h.equal(rc, 0, "still decodes after failures")
end

h.equal(pcall(h.plugin, DECODER, {}), false, "log_format is required")

-- The fixture log: every line decodes, with a Timestamp, a status and the user agent
-- transformed.
do
    local p = h.plugin(DECODER, { log_format = COMBINED, type = "nginx.access",
        user_agent_transform = true, user_agent_conditional = true })
    local n = 0
    for line in h.read_file("tests/lua/fixtures/nginx_combined.log"):gmatch("[^\n]+") do
        n = n + 1
        local rc, err, out = p.process(input(line))
        h.equal({ rc, err, #out }, { 0, nil, 1 }, "fixture line " .. n)
        local m = out[1]
        h.equal({ m.Type, type(m.Timestamp), type(m.Fields.status), m.Payload },
            { "nginx.access", "number", "number" }, "fixture message " .. n)
    end
    h.equal(n, 21, "fixture lines")
end
