-- POST one new donation per request to the scenario's path (/api/v1/projects/<id>/donations):
-- each has its own external reference (thread, counter and a per-run random prefix), so every
-- request records a new entry instead of answering the earlier one again.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local counter = 0
local prefix = ""

function init(args)
   math.randomseed(os.time() + math.floor(os.clock() * 1000000))
   prefix = string.format("%08x", math.random(0, 0x7fffffff))
end

function request()
   counter = counter + 1
   local body = string.format(
      '{"amount_fen": %d, "received_at": "2026-11-01T08:00:00+08:00", "channel": "bench_http", '
         .. '"external_ref": "%s-%d", "donor_name": "张三", "donor_display": "masked"}',
      100 + counter % 1000, prefix, counter)
   return wrk.format("POST", nil, nil, body)
end
