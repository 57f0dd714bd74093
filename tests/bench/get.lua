-- wrk script for tests/bench/isolation.sh: GET the URL's path (an admin
-- endpoint, or the approvals API with `-H "Authorization: Bearer ..."`), count
-- the responses whose status is not the expected one.
--
-- Script argument (after `--`): 1: expected status (default 200)
--
-- done() prints one parseable line (report.lua):
--   BENCH requests=N duration_s=S rps=R p50_ms=A p99_ms=B bad_status=X sock_errors=Y sample_status=Z

local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")

setup = report.setup
done = report.done("BENCH")

function init(args)
   report.init(tonumber(args[1]) or 200)
end

function response(status, headers, body)
   report.count(status)
end
