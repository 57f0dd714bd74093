-- wrk script for tests/bench/bench.sh.
--
-- Sends `DELETE /api/v1/phone-numbers/%2B1555NNNNNNN/release/` with
-- `Authorization: Bearer <token>`, a distinct number per request (the gateway
-- answers 409 to two concurrent releases of the same number), and counts the
-- responses whose status is not the expected one.
--
-- Script arguments (after `--` on the wrk command line):
--   1: expected status (200 for allowed paths, 403 for the deny path)
--   2: base offset into the 7-digit number space (one per wrk run)
--   3: bearer token (optional; "none" or empty sends no Authorization header)
--   4: number of wrk threads (to split the number space without overlap)
--
-- done() prints one parseable line:
--   BENCH requests=N duration_s=S rps=R p50_ms=A p99_ms=B bad_status=X sock_errors=Y sample_status=Z

local SPACE = 10000000 -- 7 digits after +1555

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   expected = tonumber(args[1]) or 200
   base = tonumber(args[2]) or 0
   local token = args[3]
   local nthreads = tonumber(args[4]) or 1
   if nthreads < 1 then nthreads = 1 end
   stride = math.floor(1000000 / nthreads)
   counter = 0
   bad = 0
   bad_status = ""
   if token ~= nil and token ~= "" and token ~= "none" then
      wrk.headers["Authorization"] = "Bearer " .. token
   end
end

function request()
   local n = (base + id * stride + (counter % stride)) % SPACE
   counter = counter + 1
   return wrk.format("DELETE", string.format("/api/v1/phone-numbers/%%2B1555%07d/release/", n))
end

function response(status, headers, body)
   if status ~= expected then
      bad = bad + 1
      bad_status = tostring(status)
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
      "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f bad_status=%d sock_errors=%d sample_status=%s\n",
      summary.requests, secs, rps,
      latency:percentile(50) / 1000.0, latency:percentile(99) / 1000.0,
      nbad, sock, sample))
end
