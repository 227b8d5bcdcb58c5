-- A heartbeat message each ticker_interval, numbered from 1.
beats = 0

function process_message()
    beats = beats + 1
    inject_message({Type = "heartbeat", Payload = "alive", Fields = {beat = beats}})
    return 0
end
