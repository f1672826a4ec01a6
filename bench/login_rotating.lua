-- POST the scenario's path (/api/v1/auth/login) as one of 1000 users in turn:
-- {"code": "dev-bench-0"} .. {"code": "dev-bench-999"}. The emulator accepts dev-<name> codes repeatedly.
-- Each wrk thread has its own Lua state and counter; they overlap, which does not matter here.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local counter = 0

function request()
   counter = counter + 1
   local body = string.format('{"code": "dev-bench-%d"}', counter % 1000)
   -- nil path and headers: the URL's path and wrk.headers (Content-Type, plus -H headers).
   return wrk.format("POST", nil, nil, body)
end
