-- hekad's linux_memstats decoder: turns the Payload a FilePollingInput read from
-- /proc/meminfo into one message of Type `stats.memstats`. Every line
-- "Name:   value [unit]" becomes a DOUBLE field named exactly as the kernel names it
-- (MemTotal, Active(anon), HugePages_Total, ...); a line with a unit ("kB") gets
-- it as the field's representation, a line without one (HugePages_*) gets none.
-- The input's Fields[FilePath] is copied when present.
--
-- Config:
--   payload_keep (bool, default false): keep the original text as the Payload.

local l = require "lpeg"
l.locale(l)

local payload_keep = read_config("payload_keep")

local blank = l.S" \t"
local eol = l.P"\r"^-1 * "\n"
local name = l.C((1 - l.S":\r\n")^1) * ":"
local value = blank^0 * (l.digit^1 / tonumber)
local unit = (blank^1 * l.C(l.alpha^1))^-1
local line = l.Cg(name * value * unit) * blank^0 * (eol + l.P(-1))

-- sets one field; the fold's accumulator is the Fields table
local function add_field(fields, key, val, repr)
    if repr then
        fields[key] = { value = val, representation = repr }
    else
        fields[key] = val
    end
    return fields
end

local grammar = l.Cf(l.Ct("") * line^1, add_field) * l.space^0 * l.P(-1)

--- Decodes one /proc/meminfo payload; -1 and an error text if any line does not parse.
function process_message()
    local payload = read_message("Payload")
    if type(payload) ~= "string" then return -1, "no payload" end
    local fields = grammar:match(payload)
    if not fields then return -1, "invalid /proc/meminfo payload" end
    fields.FilePath = read_message("Fields[FilePath]")
    local msg = { Type = "stats.memstats", Fields = fields }
    if payload_keep then msg.Payload = payload end
    inject_message(msg)
    return 0
end
