-- hekad's linux_procstat decoder: turns the Payload a FilePollingInput read from
-- /proc/stat into one message of Type `stats.procstat`. Every line "key n1 n2 ..."
-- becomes a DOUBLE field named by its key: an array when the line has several
-- numbers (cpu, cpu0..cpuN, intr, softirq, ...), a single value otherwise (ctxt,
-- btime, processes, procs_running, procs_blocked). Lines keep however many
-- columns the kernel prints.
--
-- Config:
--   payload_keep (bool, default false): keep the original text as the Payload.

local l = require "lpeg"
l.locale(l)

local payload_keep = read_config("payload_keep")

local blank = l.S" \t"
local eol = l.P"\r"^-1 * "\n"
local key = l.C((l.alnum + "_")^1)
local number = l.digit^1 / tonumber

-- one number stays a number, several become an array
local function values(t)
    if t[2] == nil then return t[1] end
    return t
end

-- sets one field; the fold's accumulator is the Fields table
local function add_field(fields, name, value)
    fields[name] = value
    return fields
end

local list = l.Ct(number * (blank^1 * number)^0) / values
local line = l.Cg(key * blank^1 * list) * blank^0 * (eol + l.P(-1))
local grammar = l.Cf(l.Ct("") * line^1, add_field) * l.space^0 * l.P(-1)

--- Decodes one /proc/stat payload; -1 and an error text if any line does not parse.
function process_message()
    local payload = read_message("Payload")
    if type(payload) ~= "string" then return -1, "no payload" end
    local fields = grammar:match(payload)
    if not fields then return -1, "invalid /proc/stat payload" end
    local msg = { Type = "stats.procstat", Fields = fields }
    if payload_keep then msg.Payload = payload end
    inject_message(msg)
    return 0
end
