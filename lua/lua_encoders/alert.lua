-- hekad's alert encoder (SandboxEncoder): alert messages (inject_payload "alert" output
-- of sandbox filters, or heka.sandbox-terminated messages) as human readable text:
--   Timestamp: 2014-05-14T14:20:18Z
--   Hostname: ip-10-226-204-51
--   Plugin: FxaBrowserIdHTTPStatus
--   Alert: HTTP Status - algorithm: roc col: 1 msg: detected anomaly, standard deviation exceeds 1.5
-- Timestamp is the message time in UTC (whole seconds), Plugin the Logger (for a
-- heka.sandbox-terminated message: Fields[plugin] when set), Alert the Payload. Every
-- line ends in "\n".
--
-- Config: none.

local math = require "math"
local os = require "os"

-- A header as text ("" when unset).
local function header(name)
    local v = read_message(name)
    if v == nil then return "" end
    return tostring(v)
end

--- Encodes the current message as alert text.
function process_message()
    local ns = read_message("Timestamp") or 0
    local plugin = header("Logger")
    if read_message("Type") == "heka.sandbox-terminated" then
        local name = read_message("Fields[plugin]")
        if type(name) == "string" and name ~= "" then plugin = name end
    end
    inject_payload("txt", "",
        "Timestamp: ", os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(ns / 1e9)), "\n",
        "Hostname: ", header("Hostname"), "\n",
        "Plugin: ", plugin, "\n",
        "Alert: ", header("Payload"), "\n")
    return 0
end
