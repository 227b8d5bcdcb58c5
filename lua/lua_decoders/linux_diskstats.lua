-- hekad's linux_diskstats decoder: turns the Payload a FilePollingInput read from
-- /sys/block/<dev>/stat into one message of Type `stats.diskstats` with the
-- kernel's first eleven counters as DOUBLE fields (in file order): ReadsCompleted,
-- ReadsMerged, SectorsRead, TimeReading, WritesCompleted, WritesMerged,
-- SectorsWritten, TimeWriting, NumIOInProgress, TimeDoingIO, WeightedTimeDoingIO.
-- Later columns (discard and flush counters of newer kernels) are ignored. The
-- input's Fields[TickerInterval] (as a number) and Fields[FilePath] are copied
-- when present.
--
-- Config:
--   payload_keep (bool, default false): keep the original text as the Payload.

local l = require "lpeg"
l.locale(l)

local payload_keep = read_config("payload_keep")

local NAMES = { "ReadsCompleted", "ReadsMerged", "SectorsRead", "TimeReading",
    "WritesCompleted", "WritesMerged", "SectorsWritten", "TimeWriting",
    "NumIOInProgress", "TimeDoingIO", "WeightedTimeDoingIO" }

local blank = l.S" \t"
local number = l.digit^1 / tonumber

-- the eleven named columns separated by blanks, built once from NAMES
local function columns()
    local p = l.Cg(number, NAMES[1])
    for i = 2, #NAMES do
        p = p * blank^1 * l.Cg(number, NAMES[i])
    end
    return p
end

local grammar = blank^0 * l.Ct(columns()) * (blank^1 * l.digit^1)^0 * l.space^0 * l.P(-1)

--- Decodes one /sys/block/<dev>/stat payload; -1 and an error text if it does not parse.
function process_message()
    local payload = read_message("Payload")
    if type(payload) ~= "string" then return -1, "no payload" end
    local fields = grammar:match(payload)
    if not fields then return -1, "invalid /sys/block/<dev>/stat payload" end
    fields.TickerInterval = tonumber(read_message("Fields[TickerInterval]"))
    fields.FilePath = read_message("Fields[FilePath]")
    local msg = { Type = "stats.diskstats", Fields = fields }
    if payload_keep then msg.Payload = payload end
    inject_message(msg)
    return 0
end
