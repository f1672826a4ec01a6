-- checkin-burst: POST the scenario's path once per bearer token, then stop (bench/run.py drives it).
-- args: TOKENS_FILE (one token a line), BODY (the JSON, the same for everyone), DONE_PREFIX, THREADS.
-- Thread k of n takes tokens k+1, k+1+n, ... and sends each exactly once. delay() is asked before
-- every request: once the thread's tokens are all sent it answers an hour, so no connection sends
-- again. When the thread has all its responses it writes DONE_PREFIX<k> ("<201s> <other 2xx> <others>") and stops;
-- run.py waits for every thread's file, then interrupts wrk (whose own clock runs for -d seconds).
-- delay() counts the requests let through; request() takes the next token. wrk calls request() once
-- more on thread 0 before the run, to check it, and sends nothing: that call comes before any
-- delay(), so it builds a request with the first token without taking it.

local counter = 0

function setup(thread)
   thread:set("index", counter)
   counter = counter + 1
end

function init(args)
   local all = {}
   for line in io.lines(args[1]) do
      if #line > 0 then
         all[#all + 1] = line
      end
   end
   mine = {}
   -- init runs right after this thread's setup, before the next thread's: the thread count comes as
   -- args[4] (wrk -t).
   local n = tonumber(args[4])
   for i = index + 1, #all, n do
      mine[#mine + 1] = all[i]
   end
   body = args[2]
   done_file = args[3] .. index
   scheduled = 0 -- requests delay() let through
   taken = 0 -- tokens request() used
   created = 0 -- 201
   ok = 0 -- other 2xx (200: already checked in)
   other = 0
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function delay()
   if scheduled >= #mine then
      return 3600000
   end
   scheduled = scheduled + 1
   return 0
end

function request()
   if scheduled == 0 then -- wrk's check before the run: nothing is sent
      return wrk.format("POST", nil, { ["Authorization"] = "Bearer " .. mine[1] }, body)
   end
   taken = taken + 1
   local token = mine[taken]
   return wrk.format("POST", nil, { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, response_body)
   if status == 201 then
      created = created + 1
   elseif status >= 200 and status < 300 then
      ok = ok + 1
   else
      other = other + 1
   end
   if created + ok + other >= #mine then
      local f = io.open(done_file, "w")
      f:write(string.format("%d %d %d\n", created, ok, other))
      f:close()
      wrk.thread:stop()
   end
end
