-- Requests per status and slow requests, reported each ticker_interval. The totals
-- survive restarts (preserve_data = true).
-- [x.config] slow_ms: requests at least this slow count as slow (default 500).
_PRESERVATION_VERSION = 1
local slow_ms = read_config("slow_ms") or 500

totals = {}
slow = 0
seen = 0

function process_message()
    local status = read_message("Fields[status]")
    if not status then
        return -1, "no status field"
    end
    totals[status] = (totals[status] or 0) + 1
    if (read_message("Fields[ms]") or 0) >= slow_ms then
        slow = slow + 1
    end
    seen = seen + 1
    return 0
end

function timer_event(ns)
    if seen == 0 then
        return
    end
    local fields = {requests = seen, slow = slow}
    for status, n in pairs(totals) do
        fields["status_" .. status] = n
    end
    inject_message({Type = "status_counts", Timestamp = ns, Fields = fields})
end
