-- wrk script for tests/bench/isolation.sh: GET the URL's path (an admin
-- endpoint, or the approvals API with `-H "Authorization: Bearer ..."`), count
-- the responses whose status is not the expected one.
--
-- Script argument (after `--`): 1: expected status (default 200)
--
-- done() prints one parseable line:
--   BENCH requests=N duration_s=S rps=R p50_ms=A p99_ms=B bad_status=X sock_errors=Y sample_status=Z

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   expected = tonumber(args[1]) or 200
   bad = 0
   bad_status = ""
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
