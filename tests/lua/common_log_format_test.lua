-- Tests of lua/lua_modules/common_log_format.lua: nginx and Apache grammar builders, the
-- nginx error log grammar and the user agent normaliser.
local h = require "harness"
local clf = require "common_log_format"

local COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status '
    .. '$body_bytes_sent "$http_referer" "$http_user_agent"'
local FXOS_UA = "Mozilla/5.0 (Mobile; rv:29.0) Gecko/29.0 Firefox/29.0"

local function ipv4(v) return { value = v, representation = "ipv4" } end
local function ipv6(v) return { value = v, representation = "ipv6" } end
local function bytes(n) return { value = n, representation = "B" } end
local function secs(n) return { value = n, representation = "s" } end

-- Every builder call must produce a grammar that does not match `line`.
local function no_match(grammar, line, label)
    h.equal(grammar:match(line), nil, label)
end

--------------------------------------------------------------------------------------------
-- nginx: the combined format with the line of Heka's documentation example.
do
    local g = clf.build_nginx_grammar(COMBINED)
    local line = '62.195.113.219 - - [10/Jan/2014:07:04:56 -0800] '
        .. '"GET /v1/recovery_email/status HTTP/1.1" 200 82 "-" "' .. FXOS_UA .. '"'
    local want = {
        remote_addr = ipv4("62.195.113.219"),
        remote_user = "-",
        time = 1389366296e9,
        request = "GET /v1/recovery_email/status HTTP/1.1",
        status = 200,
        body_bytes_sent = bytes(82),
        http_referer = "-",
        http_user_agent = FXOS_UA,
    }
    h.equal(g:match(line), want, "nginx combined, doc example")
    h.equal(g:match(line .. "\n"), want, "trailing newline")
    h.equal(g:match(line .. "\r\n"), want, "trailing CRLF")

    -- IPv6 client, a user, a referer and a user agent with spaces and quotes escaped the
    -- way nginx does (\x22).
    local line6 = '2001:db8::1 - alice [10/Feb/2014:08:46:41 -0800] '
        .. '"POST /api/v1/items?id=1&x=a%20b HTTP/2.0" 201 0 '
        .. '"https://example.com/page?q=1" "Mozilla/5.0 (X11; Linux x86_64) \\x22quoted\\x22"'
    h.equal(g:match(line6), {
        remote_addr = ipv6("2001:db8::1"),
        remote_user = "alice",
        time = 1392050801e9,
        request = "POST /api/v1/items?id=1&x=a%20b HTTP/2.0",
        status = 201,
        body_bytes_sent = bytes(0),
        http_referer = "https://example.com/page?q=1",
        http_user_agent = 'Mozilla/5.0 (X11; Linux x86_64) \\x22quoted\\x22',
    }, "nginx combined, IPv6 client")

    h.equal(g:match('::1 - - [10/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" 304 0 "-" "-"')
        .remote_addr, ipv6("::1"), "IPv6 loopback")
    -- Not an IP address (unix socket): kept as a string.
    h.equal(g:match('unix: - - [10/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" 200 5 "-" "-"')
        .remote_addr, "unix:", "remote_addr fallback to string")
    -- Empty request (nginx logs "" for a connection closed before the request line).
    h.equal(g:match('10.0.0.1 - - [10/Feb/2014:08:46:41 -0800] "" 400 0 "-" "-"').request, "",
        "empty request")

    no_match(g, "", "empty line")
    no_match(g, "garbage", "garbage")
    no_match(g, '10.0.0.1 - - [10/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" abc 0 "-" "-"',
        "non-numeric status")
    no_match(g, '10.0.0.1 - - [10/Foo/2014:08:46:41 -0800] "GET / HTTP/1.1" 200 0 "-" "-"',
        "bad month")
    no_match(g, '10.0.0.1 - - [10/Feb/2014:08:46:41] "GET / HTTP/1.1" 200 0 "-" "-"',
        "time without offset")
    no_match(g, '10.0.0.1 - - [10/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" 200 0 "-"',
        "truncated line")
    no_match(g, '10.0.0.1 - - [10/Feb/2014:08:46:41 -0800] "GET / HTTP/1.1" 200 0 "-" "-" x',
        "trailing text")
end

--------------------------------------------------------------------------------------------
-- nginx: custom formats.
do
    local g = clf.build_nginx_grammar('$remote_addr - $remote_user [$time_local] "$request" '
        .. '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
        .. '"$http_x_forwarded_for" $request_time $upstream_response_time '
        .. '$upstream_addr $upstream_status $request_length $bytes_sent $connection '
        .. '$connection_requests $pipe $ssl_protocol/$ssl_cipher "$host"')
    local head = '10.1.2.3 - - [06/Dec/2023:14:03:27 +0000] "GET /index.html HTTP/1.1" 200 '
        .. '612 "-" "curl/8.4.0" "203.0.113.7, 198.51.100.2" 0.005 '
    local function line(upstream_time, upstream_addr, upstream_status)
        return head .. upstream_time .. " " .. upstream_addr .. " " .. upstream_status
            .. ' 87 850 1234 3 . TLSv1.3/TLS_AES_256_GCM_SHA384 "www.example.com"'
    end
    local base = {
        remote_addr = ipv4("10.1.2.3"),
        remote_user = "-",
        time = 1701871407e9,
        request = "GET /index.html HTTP/1.1",
        status = 200,
        body_bytes_sent = bytes(612),
        http_referer = "-",
        http_user_agent = "curl/8.4.0",
        http_x_forwarded_for = "203.0.113.7, 198.51.100.2",
        request_time = secs(0.005),
        request_length = bytes(87),
        bytes_sent = bytes(850),
        connection = 1234,
        connection_requests = 3,
        pipe = ".",
        ssl_protocol = "TLSv1.3",
        ssl_cipher = "TLS_AES_256_GCM_SHA384",
        host = "www.example.com",
    }
    local function with(extra)
        local t = {}
        for k, v in pairs(base) do t[k] = v end
        for k, v in pairs(extra) do t[k] = v end
        return t
    end

    h.equal(g:match(line("0.004", "127.0.0.1:8080", "200")), with {
        upstream_response_time = secs(0.004),
        upstream_addr = "127.0.0.1:8080",
        upstream_status = 200,
    }, "single upstream")
    -- No upstream: nginx logs "-": no field for the numbers, the string stays "-".
    h.equal(g:match(line("-", "-", "-")), with { upstream_addr = "-" }, "no upstream")
    -- Several upstream servers (", ") and upstream groups (" : "): the text as written.
    h.equal(g:match(line("0.001, 0.002 : 0.003", "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80",
        "502, 504 : 200")), with {
        upstream_response_time = "0.001, 0.002 : 0.003",
        upstream_addr = "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80",
        upstream_status = "502, 504 : 200",
    }, "upstream lists")
    h.equal(g:match(line("-, 0.010", "unix:/tmp/a.sock, 10.0.0.2:80", "502, 200"))
        .upstream_response_time, "-, 0.010", "upstream list with a dash")
    no_match(g, line("abc", "-", "-"), "non-numeric upstream time")
end

do -- $time_iso8601, $msec, ${var}, unknown variables, a variable directly after another.
    local g = clf.build_nginx_grammar('${remote_addr}:$remote_port [$time_iso8601] $msec '
        .. '$scheme://$host$request_uri $my_custom_var|$request_method|$status')
    h.equal(g:match('192.0.2.10:51234 [2014-02-10T08:46:41-08:00] 1392050801.123 '
        .. 'https://shop.example.com/cart?id=7 some value with spaces|DELETE|204'), {
        remote_addr = ipv4("192.0.2.10"),
        remote_port = 51234,
        time = 1392050801e9,
        msec = secs(1392050801.123),
        scheme = "https",
        host = "shop.example.com",
        request_uri = "/cart?id=7",
        my_custom_var = "some value with spaces",
        request_method = "DELETE",
        status = 204,
    }, "iso8601, msec, ${var}, unknown variables")
end

do -- A format ending with an unquoted string variable; literal "$" in the format.
    local g = clf.build_nginx_grammar('$status $ $http_user_agent')
    h.equal(g:match("200 $ Mozilla/5.0 (Windows NT 10.0; Win64; x64)\n"),
        { status = 200, http_user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" },
        "string at end of line")
    no_match(g, "200 # x", "literal $ required")
end

do -- The grammar is reusable and independent of previous matches.
    local g = clf.build_nginx_grammar("$status $body_bytes_sent")
    h.equal(g:match("404 12"), { status = 404, body_bytes_sent = bytes(12) }, "first")
    h.equal(g:match("500 -"), { status = 500 }, "dash number gives no field")
    h.equal(g:match("404 12"), { status = 404, body_bytes_sent = bytes(12) }, "again")
end

h.equal(pcall(clf.build_nginx_grammar, nil), false, "nginx: log_format required")

--------------------------------------------------------------------------------------------
-- Apache: the formats of Heka's documentation (written as in its TOML: \" escapes).
do
    local combined = clf.build_apache_grammar(
        '%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"')
    local line = '192.168.1.20 - frank [10/Jan/2014:07:04:56 -0800] '
        .. '"GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" '
        .. '"Mozilla/4.08 [en] (Win98; I ;Nav)"'
    h.equal(combined:match(line), {
        remote_addr = ipv4("192.168.1.20"),
        remote_logname = "-",
        remote_user = "frank",
        time = 1389366296e9,
        request = "GET /apache_pb.gif HTTP/1.0",
        status = 200,
        bytes_sent = bytes(2326),
        http_referer = "http://www.example.com/start.html",
        http_user_agent = "Mozilla/4.08 [en] (Win98; I ;Nav)",
    }, "apache combined")
    -- Apache escapes " and \ inside values: the value is kept as logged.
    h.equal(combined:match('::1 - - [10/Jan/2014:07:04:56 -0800] "GET /a\\"b HTTP/1.1" 400 '
        .. '226 "-" "say \\"hi\\" \\\\o/"').http_user_agent, 'say \\"hi\\" \\\\o/',
        "escaped quotes in a value")
    no_match(combined, '192.168.1.20 - frank [10/Jan/2014:07:04:56 -0800] "GET / HTTP/1.0" '
        .. '200 2326', "common line against combined")

    local common = clf.build_apache_grammar('%h %l %u %t \\"%r\\" %>s %O')
    h.equal(common:match('2001:db8:85a3::8a2e:370:7334 - - [06/Dec/2023:14:03:27 +0100] '
        .. '"HEAD / HTTP/1.1" 301 0\n'), {
        remote_addr = ipv6("2001:db8:85a3::8a2e:370:7334"),
        remote_logname = "-",
        remote_user = "-",
        time = 1701867807e9,
        request = "HEAD / HTTP/1.1",
        status = 301,
        bytes_sent = bytes(0),
    }, "apache common, IPv6")
    -- %h is a host name when HostnameLookups is on.
    h.equal(common:match('client.example.net - - [06/Dec/2023:14:03:27 +0100] '
        .. '"GET / HTTP/1.1" 200 10').remote_addr, "client.example.net", "%h host name")

    local vhost = clf.build_apache_grammar(
        '%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"')
    h.equal(vhost:match('www.example.com:443 10.0.0.5 - - [06/Dec/2023:14:03:27 +0000] '
        .. '"GET /favicon.ico HTTP/1.1" 404 512 "-" "Wget/1.21.3"'), {
        server_name = "www.example.com",
        server_port = 443,
        remote_addr = ipv4("10.0.0.5"),
        remote_logname = "-",
        remote_user = "-",
        time = 1701871407e9,
        request = "GET /favicon.ico HTTP/1.1",
        status = 404,
        bytes_sent = bytes(512),
        http_referer = "-",
        http_user_agent = "Wget/1.21.3",
    }, "apache vhost_combined")

    local referer = clf.build_apache_grammar('%{Referer}i -> %U')
    h.equal(referer:match("http://example.com/a.html -> /b/c.html"),
        { http_referer = "http://example.com/a.html", uri = "/b/c.html" }, "apache referer")
end

do -- Other directives.
    local g = clf.build_apache_grammar('%a %A %B %b %D %T %{ms}T %k %m %U%q %H %P '
        .. '\\"%{X-Forwarded-For}i\\" %{Content-Type}o %{session}C %X %I %% %s %>s')
    h.equal(g:match("10.0.0.1 10.0.0.2 1024 - 1532 2 1532 0 GET /search?q=lua HTTP/1.1 4242 "
        .. "\"1.2.3.4, 5.6.7.8\" text/html abc123 + 345 % 302 200"), {
        remote_addr = ipv4("10.0.0.1"),
        server_addr = ipv4("10.0.0.2"),
        body_bytes_sent = bytes(0), -- %b "-" means no bytes; it follows %B here
        request_time = { value = 1532, representation = "ms" }, -- the last of %D %T %{ms}T
        connection_requests = 0,
        request_method = "GET",
        uri = "/search",
        query_string = "?q=lua",
        server_protocol = "HTTP/1.1",
        pid = 4242,
        http_x_forwarded_for = "1.2.3.4, 5.6.7.8",
        sent_http_content_type = "text/html",
        cookie_session = "abc123",
        connection_status = "+",
        request_length = bytes(345),
        status = 200,
    }, "apache directives")
end

do -- %D alone, %b with a number, %{format}t variants.
    h.equal(clf.build_apache_grammar("%D %b"):match("1532 100"), {
        request_time = { value = 1532, representation = "us" },
        body_bytes_sent = bytes(100),
    }, "%D microseconds")
    h.equal(clf.build_apache_grammar("%T"):match("3"), { request_time = secs(3) }, "%T")
    h.equal(clf.build_apache_grammar("[%{%d/%b/%Y:%H:%M:%S %z}t] %s")
        :match("[10/Jan/2014:07:04:56 -0800] 200"), { time = 1389366296e9, status = 200 },
        "%{strftime}t")
    h.equal(clf.build_apache_grammar("%{sec}t"):match("1389366296"),
        { time = 1389366296e9 }, "%{sec}t")
    h.equal(clf.build_apache_grammar("%{begin:msec}t"):match("1389366296123"),
        { time = 1389366296123e6 }, "%{begin:msec}t")
    h.equal(clf.build_apache_grammar("%{end:usec}t"):match("1389366296123456"),
        { time = 1389366296123456e3 }, "%{end:usec}t")
    h.equal(clf.build_apache_grammar('%!200,304{Referer}i|%400,501{User-agent}i|%<s')
        :match("-|-|200"), { http_referer = "-", http_user_agent = "-", status = 200 },
        "status conditions and < > modifiers")
end

h.equal(pcall(clf.build_apache_grammar, "%h %Z"), false, "unknown apache directive")
h.equal(pcall(clf.build_apache_grammar, "%{fortnights}T"), false, "unknown %T unit")
h.equal(pcall(clf.build_apache_grammar, 42), false, "apache: log_format must be a string")

--------------------------------------------------------------------------------------------
-- nginx error log.
do
    local g = clf.nginx_error_grammar
    h.equal(g:match('2014/01/10 07:04:56 [notice] 16842#0: *8878 using inherited sockets '
        .. 'from "6;"'), {
        time = 1389337496e9, severity = 5, pid = 16842, tid = 0, connection = 8878,
        msg = 'using inherited sockets from "6;"',
    }, "error line with a connection")
    h.equal(g:match("2023/12/06 14:03:27 [emerg] 1#1: bind() to 0.0.0.0:80 failed "
        .. "(98: Address already in use)\n"), {
        time = 1701871407e9, severity = 0, pid = 1, tid = 1,
        msg = "bind() to 0.0.0.0:80 failed (98: Address already in use)",
    }, "error line without a connection")
    local levels = { emerg = 0, alert = 1, crit = 2, error = 3, warn = 4, notice = 5,
        info = 6, debug = 7 }
    for name, severity in pairs(levels) do
        h.equal(g:match("2023/12/06 14:03:27 [" .. name .. "] 7#7: x").severity, severity, name)
    end
    no_match(g, "2023/12/06 14:03:27 [fatal] 7#7: x", "unknown level")
    no_match(g, "2023-12-06 14:03:27 [error] 7#7: x", "wrong date separator")
    no_match(g, "2023/12/06 14:03:27 [error] 7: x", "no tid")
    no_match(g, "", "empty")
end

--------------------------------------------------------------------------------------------
-- User agents: { ua, browser, version, os }.
local agents = {
    { FXOS_UA, "Firefox", 29, "FirefoxOS" },
    { "Mozilla/5.0 (Tablet; rv:26.0) Gecko/26.0 Firefox/26.0", "Firefox", 26, "FirefoxOS" },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        .. "Chrome/120.0.0.0 Safari/537.36", "Chrome", 120, "Windows 10" },
    { "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:27.0) Gecko/20100101 Firefox/27.0",
        "Firefox", 27, "Windows 7" },
    { "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Firefox", 121, "Linux" },
    { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        .. "Gecko) Version/17.1 Safari/605.1.15", "Safari", 17, "Macintosh" },
    { "Mozilla/5.0 (iPhone; CPU iPhone OS 7_0_4 like Mac OS X) AppleWebKit/537.51.1 (KHTML, "
        .. "like Gecko) Version/7.0 Mobile/11B554a Safari/9537.53", "Safari", 7, "iPhone" },
    { "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        .. "CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1", "Chrome", 119, "iPad" },
    { "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        .. "Chrome/120.0.6099.43 Mobile Safari/537.36", "Chrome", 120, "Android" },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        .. "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61", "Edge", 120, "Windows 10" },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        .. "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0", "Opera", 105, "Windows 10" },
    { "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.16", "Opera", 12,
        "Windows 7" },
    { "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", "MSIE", 11,
        "Windows 7" },
    { "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.0; Trident/5.0)", "MSIE", 9,
        "Windows Vista" },
    { "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)", "MSIE", 6, "Windows XP" },
    { "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        .. "Chrome/120.0.0.0 Safari/537.36", "Chrome", 120, "Chrome OS" },
    { "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot", 2, nil },
    { "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "bingbot", 2, nil },
    { "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "YandexBot", 3, nil },
    { "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Baiduspider", 2, nil },
    { "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", "MJ12bot", 1, nil },
    { "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "Yahoo! Slurp", nil, nil },
    { "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "facebookexternalhit", 1, nil },
    { "curl/8.4.0", "curl", 8, nil },
    { "Wget/1.21.3", "Wget", 1, nil },
    { "python-requests/2.31.0", "python-requests", 2, nil },
    { "Mozilla/5.0 (Windows NT 6.3; Win64; x64)", nil, nil, "Windows 8.1" },
    { "SomethingElse/1.0", nil, nil, nil },
    { "-", nil, nil, nil },
    { "", nil, nil, nil },
}
for _, a in ipairs(agents) do
    local browser, version, os = clf.normalize_user_agent(a[1])
    h.equal({ browser, version, os }, { a[2], a[3], a[4] }, a[1])
end
h.equal({ clf.normalize_user_agent(nil) }, {}, "nil user agent")
