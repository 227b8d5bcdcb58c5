-- hekad's linux_netdev decoder: turns the Payload a FilePollingInput read from
-- /proc/net/dev into one message of Type `stats.netdev` per interface, in file
-- order. Each has a STRING field `netdevice` (the interface name) and DOUBLE fields
-- receive_bytes, receive_packets, receive_errs, receive_drop, receive_fifo,
-- receive_frame, receive_compressed, receive_multicast, transmit_bytes,
-- transmit_packets, transmit_errs, transmit_drop, transmit_fifo, transmit_colls,
-- transmit_carrier, transmit_compressed. The two header lines (any line holding a
-- "|") are skipped; columns past the sixteenth are ignored.
--
-- Config:
--   payload_keep (bool, default false): keep the original text as the Payload of
--   every message.

local l = require "lpeg"
l.locale(l)

local payload_keep = read_config("payload_keep")

local NAMES = { "receive_bytes", "receive_packets", "receive_errs", "receive_drop",
    "receive_fifo", "receive_frame", "receive_compressed", "receive_multicast",
    "transmit_bytes", "transmit_packets", "transmit_errs", "transmit_drop",
    "transmit_fifo", "transmit_colls", "transmit_carrier", "transmit_compressed" }

local blank = l.S" \t"
local eol = l.P"\r"^-1 * "\n"
local number = l.digit^1 / tonumber

-- the sixteen named counters separated by blanks, built once from NAMES
local function counters()
    local p = l.Cg(number, NAMES[1])
    for i = 2, #NAMES do
        p = p * blank^1 * l.Cg(number, NAMES[i])
    end
    return p
end

local header = (1 - l.S"|\n")^0 * "|" * (1 - l.P"\n")^0 * (eol + l.P(-1))
local device = blank^0 * l.Cg(l.C((1 - l.S": \t\r\n")^1), "netdevice") * ":" * blank^0
local interface = l.Ct(device * counters()) * (blank^1 * l.digit^1)^0 * blank^0 * (eol + l.P(-1))
local grammar = l.Ct(header^0 * interface^1) * l.space^0 * l.P(-1)

--- Decodes one /proc/net/dev payload; -1 and an error text if a line does not parse.
function process_message()
    local payload = read_message("Payload")
    if type(payload) ~= "string" then return -1, "no payload" end
    local interfaces = grammar:match(payload)
    if not interfaces then return -1, "invalid /proc/net/dev payload" end
    for i = 1, #interfaces do
        local msg = { Type = "stats.netdev", Fields = interfaces[i] }
        if payload_keep then msg.Payload = payload end
        inject_message(msg)
    end
    return 0
end
