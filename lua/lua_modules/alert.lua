-- hekad's alert module: throttled alerts from sandbox filters. An alert is a payload
-- injected with inject_payload("alert", "", text), i.e. a heka.sandbox-output message
-- with Fields[payload_type] == "alert" that an SmtpOutput (with the alert encoder) can
-- pick up. After an alert is sent, further alerts are throttled for the throttle
-- duration (default one hour). The time of the last alert is kept in the global
-- `_LAST_ALERT` (nanoseconds) so it survives restarts with preserve_data. A zero `ns`
-- overrides throttling (and does not move the last alert time).
--
-- Uses the sandbox API inject_payload (looked up at call time).
--
-- API: queue(ns, msg), send(ns, msg), send_queue(ns), set_throttle(ns_duration),
--      throttled(ns)

local table = require "table"

local M = {}

local throttle = 3600e9 -- minimum ns between two alerts
local queued = {}       -- texts waiting for send_queue

local function last_alert()
    return _LAST_ALERT or 0
end

local function emit(ns, text)
    inject_payload("alert", "", text)
    if ns ~= 0 then _LAST_ALERT = ns end
end

--- True if an alert at `ns` (nanoseconds since the epoch) would be throttled.
function M.throttled(ns)
    if ns == 0 or throttle <= 0 then return false end
    return ns - last_alert() < throttle
end

--- Sets the minimum duration between two alerts, in nanoseconds.
function M.set_throttle(ns_duration)
    throttle = ns_duration
end

--- Sends the alert text `msg` now. True if sent, false if throttled.
function M.send(ns, msg)
    if M.throttled(ns) then return false end
    emit(ns, msg)
    return true
end

--- Queues the alert text `msg` for send_queue. True if queued, false if an alert now
--- would be throttled.
function M.queue(ns, msg)
    if M.throttled(ns) then return false end
    queued[#queued + 1] = msg
    return true
end

--- Sends every queued text as one alert, one text per line. True if sent; false if
--- throttled (the queue is kept) or if nothing is queued.
function M.send_queue(ns)
    if #queued == 0 or M.throttled(ns) then return false end
    local text = table.concat(queued, "\n")
    queued = {}
    emit(ns, text)
    return true
end

return M
