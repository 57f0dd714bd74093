-- What the wrk scripts here (release.lua, get.lua, flood.lua) share: each
-- thread counts the responses whose status is not the expected one, and when
-- wrk is done one parseable line is printed:
--   LABEL requests=N duration_s=S rps=R p50_ms=A p99_ms=B bad_status=X sock_errors=Y sample_status=Z
-- A script loads it from its own folder:
--   local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")

local M = {threads = {}}

-- wrk's setup(): remembers every thread for done().
function M.setup(thread)
   table.insert(M.threads, thread)
end

-- Call from init(): the status every response should have.
function M.init(expected_status)
   expected = expected_status
   bad = 0
   bad_status = ""
end

-- Call from response().
function M.count(status)
   if status ~= expected then
      bad = bad + 1
      bad_status = tostring(status)
   end
end

-- wrk's done(), printing the line under `label`.
function M.done(label)
   return function(summary, latency, requests)
      local nbad = 0
      local sample = "-"
      for _, t in ipairs(M.threads) do
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
         "%s requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f bad_status=%d sock_errors=%d sample_status=%s\n",
         label, summary.requests, secs, rps,
         latency:percentile(50) / 1000.0, latency:percentile(99) / 1000.0,
         nbad, sock, sample))
   end
end

return M
