-- hekad's linux_loadavg decoder: turns the Payload a FilePollingInput read from
-- /proc/loadavg ("0.52 0.58 0.59 2/1234 56789") into one message of Type
-- `stats.loadavg` with DOUBLE fields 1MinAvg, 5MinAvg, 15MinAvg, NumProcesses
-- (the runnable count before the slash) and, when the input set it, FilePath.
--
-- Config:
--   payload_keep (bool, default false): keep the original text as the Payload.

local l = require "lpeg"
l.locale(l)

local payload_keep = read_config("payload_keep")

local blank = l.S" \t"^1
local decimal = (l.digit^1 * ("." * l.digit^1)^-1) / tonumber
local count = l.digit^1 / tonumber

-- averages, then "running/total", then an optional last pid, then end of text
local grammar = l.Ct(
    l.Cg(decimal, "1MinAvg") * blank *
    l.Cg(decimal, "5MinAvg") * blank *
    l.Cg(decimal, "15MinAvg") * blank *
    l.Cg(count, "NumProcesses") * "/" * l.digit^1 *
    (blank * l.digit^1)^-1 * l.space^0 * l.P(-1))

--- Decodes one /proc/loadavg payload; -1 and an error text if it does not parse.
function process_message()
    local payload = read_message("Payload")
    if type(payload) ~= "string" then return -1, "no payload" end
    local fields = grammar:match(payload)
    if not fields then return -1, "invalid /proc/loadavg payload" end
    fields.FilePath = read_message("Fields[FilePath]")
    local msg = { Type = "stats.loadavg", Fields = fields }
    if payload_keep then msg.Payload = payload end
    inject_message(msg)
    return 0
end
