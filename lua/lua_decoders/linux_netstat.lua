-- hekad's linux_netstat decoder: turns the Payload a FilePollingInput read from
-- /proc/net/netstat or /proc/net/snmp into one message of Type `stats.netstat`.
-- Both files hold pairs of lines, "Proto: Name1 Name2 ..." then
-- "Proto: value1 value2 ..."; every pair gives INTEGER fields (value_type 2) named
-- "<Proto>_<Name>" (Ip_InReceives, TcpExt_SyncookiesSent, Tcp_MaxConn = -1, ...).
-- The input's Fields[FilePath] is copied when present.
--
-- Config:
--   payload_keep (bool, default false): keep the original text as the Payload.

local l = require "lpeg"
l.locale(l)

local payload_keep = read_config("payload_keep")

local blank = l.S" \t"
local eol = l.P"\r"^-1 * "\n"
local ending = blank^0 * (eol + l.P(-1))
local proto = l.C((l.alnum + "_")^1) * ":"
local word = l.C((1 - l.S" \t\r\n")^1)
local integer = (l.P"-"^-1 * l.digit^1) / tonumber

local names = l.Ct((blank^1 * word)^0) * ending
local values = l.Ct((blank^1 * integer)^0) * ending
-- { proto, names, proto of the value line, values }
local section = l.Ct(proto * names * proto * values)
local grammar = l.Ct(section^1) * l.space^0 * l.P(-1)

-- adds one section's fields; nil and an error text if its two lines disagree
local function add_section(fields, s)
    local prefix, keys, vals = s[1], s[2], s[4]
    if s[3] ~= prefix then
        return nil, "header '" .. prefix .. "' followed by values of '" .. s[3] .. "'"
    end
    if #keys ~= #vals then
        return nil, prefix .. ": " .. #keys .. " names but " .. #vals .. " values"
    end
    for i = 1, #keys do
        fields[prefix .. "_" .. keys[i]] = { value = vals[i], value_type = 2 }
    end
    return fields
end

--- Decodes one /proc/net/netstat or /proc/net/snmp payload; -1 and an error text
--- if it does not parse.
function process_message()
    local payload = read_message("Payload")
    if type(payload) ~= "string" then return -1, "no payload" end
    local sections = grammar:match(payload)
    if not sections then return -1, "invalid /proc/net/netstat or /proc/net/snmp payload" end
    local fields = {}
    for i = 1, #sections do
        local ok, err = add_section(fields, sections[i])
        if not ok then return -1, err end
    end
    fields.FilePath = read_message("Fields[FilePath]")
    local msg = { Type = "stats.netstat", Fields = fields }
    if payload_keep then msg.Payload = payload end
    inject_message(msg)
    return 0
end
