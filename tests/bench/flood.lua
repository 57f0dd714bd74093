-- wrk script for tests/bench/isolation.sh: a flood of unauthenticated
-- requests that stops after N responses in total.
--
-- Sends `DELETE /api/v1/phone-numbers/%2B1555NNNNNNN/release/` with
-- `Authorization: Bearer <token>` (a token no user has), and counts the
-- responses whose status is not the expected one (401).
--
-- Script arguments (after `--` on the wrk command line):
--   1: total responses N after which every thread stops (split evenly)
--   2: number of wrk threads
--   3: bearer token to send
--   4: expected status (default 401)
--   5: marker file: each thread appends one line to it when it has stopped
--      (wrk itself runs until -d; the caller stops it with SIGINT once every
--      thread has written its line)
--
-- done() prints one parseable line (report.lua):
--   FLOOD requests=N duration_s=S rps=R p50_ms=A p99_ms=B bad_status=X sock_errors=Y sample_status=Z

local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")

setup = report.setup
done = report.done("FLOOD")

function init(args)
   local total = tonumber(args[1]) or 1000000
   local nthreads = tonumber(args[2]) or 1
   if nthreads < 1 then nthreads = 1 end
   limit = math.ceil(total / nthreads)
   wrk.headers["Authorization"] = "Bearer " .. (args[3] or "bad-token")
   report.init(tonumber(args[4]) or 401)
   marker = args[5]
   stopped = false
   seen = 0
   counter = 0
end

function request()
   counter = counter + 1
   return wrk.format("DELETE", string.format("/api/v1/phone-numbers/%%2B1555%07d/release/", counter % 10000000))
end

function response(status, headers, body)
   seen = seen + 1
   report.count(status)
   if seen >= limit and not stopped then
      stopped = true
      if marker ~= nil and marker ~= "" then
         local f = io.open(marker, "a")
         if f ~= nil then
            f:write("stopped\n")
            f:close()
         end
      end
      wrk.thread:stop()
   end
end
