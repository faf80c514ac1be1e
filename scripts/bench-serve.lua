-- wrk script for scripts/bench-serve: every request a search from the search
-- benchmark's fixed mix, as an API client with a bearer token.
-- benches/search-queries.txt, one query per line (the path comes from the script).
local queries = {}
for line in io.lines(os.getenv("SOHOA_BENCH_QUERIES")) do
  if line ~= "" then queries[#queries + 1] = line end
end

local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local paths = {}
for i, q in ipairs(queries) do paths[i] = "/api/search?limit=20&q=" .. encode(q) end
local token = os.getenv("SOHOA_BENCH_TOKEN")
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], {["Authorization"] = "Bearer " .. token})
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("requests %d in %.1f s (%.0f/s); errors: connect %d, read %d, write %d, timeout %d, non-2xx %d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    errors.connect, errors.read, errors.write, errors.timeout, errors.status))
  io.write(string.format("latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
