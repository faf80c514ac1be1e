-- wrk script for scripts/bench-serve: every request a search from the search
-- benchmark's fixed mix (benches/search.rs), as an API client with a bearer token.
local queries = {
  "quyết định",
  "quyet dinh",
  "ủy ban nhân dân",
  "uy ban nhan dan",
  "\"ủy ban nhân dân\"",
  "theo quy định",
  "hồ sơ",
  "ho so",
  "giấy chứng nhận quyền sử dụng đất",
  "quyen su dung dat",
  "\"giấy phép xây dựng\"",
  "đăng ký khai sinh",
  "bảo hiểm xã hội",
  "bao hiem",
  "thu hồi đất",
  "vốn điều lệ",
  "trích lục hộ tịch",
  "lương hưu",
  "quốc lộ",
  "đấu giá tài sản",
  "quyết định sector:dat-dai",
  "quyết định type:QĐ",
  "ủy ban nhân dân date:2020-01..2020-12",
  "hồ sơ sector:ho-tich type:CV",
  "theo quy định agency:\"sở tư pháp\"",
  "sector:xay-dung",
  "type:BC date:2024",
  "number:1234/QĐ",
  "number:77",
  "quy*",
  "thu*",
  "thai sản OR khai tử",
  "quyết định -thanh",
  "công trình -nghiệm",
  "chứng thực bản sao",
  "cải cách hành chính",
  "thủ tục hành chính",
  "an toàn giao thông",
  "người có công",
  "đầu tư",
  "trợ giúp pháp lý",
  "hộ kinh doanh",
  "nghiệm thu công trình",
  "giay phep lai xe",
  "tổ chức thực hiện",
  "căn cứ luật",
  "quyết đinh",
  "ủy ban nhân dăn",
  "giấy chứnq nhận",
  "thửa đất giấy phép lái xe",
  "báo cáo kết quả sector:giao-thong",
  "Nghệ An"
}

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
