-- hekad's elasticsearch module: the action line of the ElasticSearch bulk API for the
-- current message, e.g. {"index":{"_index":"heka-2014.06.05","_type":"message"}}.
-- Keys come in the order _index, _type, _id; a nil argument leaves its key out. All
-- three arguments support msg_interpolate's `%{...}` interpolation (message headers,
-- dynamic fields, strftime codes); the _index is lowercased (ElasticSearch requires
-- lowercase index names). Strings are escaped as cjson escapes them.
--
-- API: bulkapi_index_json(index, type_name, id, ns)

local cjson = require "cjson"
local interp = require "msg_interpolate"
local string = require "string"
local table = require "table"

local M = {}

--- The bulk API "index" action JSON (no newline) for the current message. `index`,
--- `type_name`, `id`: strings or nil (key left out). `ns`: nanoseconds since the epoch
--- for strftime codes, nil for the current time.
function M.bulkapi_index_json(index, type_name, id, ns)
    local secs = ns and ns / 1e9 or nil
    local parts = {}
    if index then
        local name = string.lower(interp.interpolate_from_msg(index, secs))
        parts[#parts + 1] = '"_index":' .. cjson.encode(name)
    end
    if type_name then
        parts[#parts + 1] = '"_type":' .. cjson.encode(interp.interpolate_from_msg(type_name, secs))
    end
    if id then
        parts[#parts + 1] = '"_id":' .. cjson.encode(interp.interpolate_from_msg(id, secs))
    end
    return '{"index":{' .. table.concat(parts, ",") .. "}}"
end

return M
