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
-- done() prints one parseable line:
--   FLOOD requests=N duration_s=S rps=R p50_ms=A p99_ms=B bad_status=X sock_errors=Y sample_status=Z

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local total = tonumber(args[1]) or 1000000
   local nthreads = tonumber(args[2]) or 1
   if nthreads < 1 then nthreads = 1 end
   limit = math.ceil(total / nthreads)
   wrk.headers["Authorization"] = "Bearer " .. (args[3] or "bad-token")
   expected = tonumber(args[4]) or 401
   marker = args[5]
   stopped = false
   seen = 0
   counter = 0
   bad = 0
   bad_status = ""
end

function request()
   counter = counter + 1
   return wrk.format("DELETE", string.format("/api/v1/phone-numbers/%%2B1555%07d/release/", counter % 10000000))
end

function response(status, headers, body)
   seen = seen + 1
   if status ~= expected then
      bad = bad + 1
      bad_status = tostring(status)
   end
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

function done(summary, latency, requests)
   local nbad = 0
   local sample = "-"
   for _, t in ipairs(threads) do
      nbad = nbad + (tonumber(t:get("bad")) or 0)
      local s = t:get("bad_status")
      if s ~= nil and s ~= "" then sample = s end
   end
   local e = summary.errors
   local sock = e.connect + e.read + e.write + e.timeout
   local secs = summary.duration / 1e6
   local rps = 0
   if secs > 0 then rps = summary.requests / secs end
   io.write(string.format(
      "FLOOD requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f bad_status=%d sock_errors=%d sample_status=%s\n",
      summary.requests, secs, rps,
      latency:percentile(50) / 1000.0, latency:percentile(99) / 1000.0,
      nbad, sock, sample))
end
