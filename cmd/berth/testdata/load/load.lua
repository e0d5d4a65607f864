-- wrk script for berth's read API: one request kind per run, cycling
-- through identifiers so that no two consecutive requests are the same.
--
--   wrk -s load.lua URL -- get ids.txt          GET an entity of blueprint $BP (default service)
--   wrk -s load.lua URL -- tworules             blueprint search, two property rules, limit 200
--   wrk -s load.lua URL -- related domains.txt  relatedTo a domain, downstream services, limit 200
--   wrk -s load.lua URL -- matchany domains.txt deployments 3 hops from a domain, limit 200
--
-- A token goes in a header: wrk -H "Authorization: Bearer $TOKEN".
-- done() prints one line: kind, req/s, p50/p90/p99/max in ms, errors.

local threads = {}
local ids, pos, bp

local function lines(path)
  local t = {}
  for l in io.lines(path) do
    if l ~= "" then t[#t + 1] = l end
  end
  assert(#t > 0, path .. " is empty")
  return t
end

function setup(thread)
  thread:set("tid", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  kind = args[1] or "get" -- global: done() reads it with thread:get
  if args[2] then ids = lines(args[2]) end
  -- Threads start far apart in the list.
  pos = ids and (tid * 7919) % #ids or 0
  bp = os.getenv("BP") or "service"
  wrk.headers["Content-Type"] = "application/json"
end

local function nextID()
  pos = pos % #ids + 1
  return ids[pos]
end

local bodies = {
  tworules = function()
    return "service", '{"limit":200,"query":{"combinator":"and","rules":[' ..
      '{"property":"lifecycle","operator":"=","value":"Production"},' ..
      '{"property":"test_coverage","operator":">=","value":50}]}}'
  end,
  related = function()
    return "service", '{"limit":200,"query":{"combinator":"and","rules":[{"operator":"relatedTo",' ..
      '"blueprint":"domain","value":"' .. nextID() .. '","direction":"downstream"}]}}'
  end,
  matchany = function()
    return "deployment", '{"limit":200,"query":{"combinator":"and","rules":[{"operator":"matchAny",' ..
      '"property":{"path":["service","depends_on","domain"]},"value":"' .. nextID() .. '"}]}}'
  end,
}

function request()
  if kind == "get" then
    return wrk.format("GET", "/v1/blueprints/" .. bp .. "/entities/" .. nextID())
  end
  local b, body = bodies[kind]()
  return wrk.format("POST", "/v1/blueprints/" .. b .. "/entities/search", nil, body)
end

function done(summary, latency, requests)
  local s = summary.errors
  local ms = function(us) return string.format("%.2f", us / 1000) end
  io.write(string.format("RESULT %s req/s=%.0f p50=%s p90=%s p99=%s max=%s requests=%d non2xx=%d errors=%d\n",
    threads[1]:get("kind"), summary.requests / (summary.duration / 1e6), ms(latency:percentile(50)), ms(latency:percentile(90)),
    ms(latency:percentile(99)), ms(latency.max), summary.requests, s.status,
    s.connect + s.read + s.write + s.timeout))
end
