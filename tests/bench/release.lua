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
-- done() prints one parseable line (report.lua):
--   BENCH requests=N duration_s=S rps=R p50_ms=A p99_ms=B bad_status=X sock_errors=Y sample_status=Z

local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")

local SPACE = 10000000 -- 7 digits after +1555

local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   report.setup(thread)
end

function init(args)
   report.init(tonumber(args[1]) or 200)
   base = tonumber(args[2]) or 0
   local token = args[3]
   local nthreads = tonumber(args[4]) or 1
   if nthreads < 1 then nthreads = 1 end
   stride = math.floor(1000000 / nthreads)
   counter = 0
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
   report.count(status)
end

done = report.done("BENCH")
