-- GET /api/v1/orgs with a different search each time, so that (nearly) every request misses the
-- search cache and runs the count and page queries over the 100,000 seeded organizations.
-- 20 name substrings x 6 regions x 4 kinds x 10 pages = 4,800 distinct searches; wrk's two threads
-- start half-way apart, so they do not answer each other's searches from the cache either.

local queries = {
   "%E5%BF%97%E6%84%BF", -- 志愿
   "%E5%85%BB%E8%80%81", -- 养老
   "%E4%B9%A6%E7%94%BB", -- 书画
   "%E6%85%88%E5%96%84", -- 慈善
   "%E9%9D%92%E5%B9%B4", -- 青年
   "%E4%BD%93%E8%82%B2", -- 体育
   "%E7%AF%AE%E7%90%83", -- 篮球
   "%E6%91%84%E5%BD%B1", -- 摄影
   "%E7%A4%BE%E4%BC%9A%E5%B7%A5%E4%BD%9C", -- 社会工作
   "%E7%8E%AF%E5%A2%83%E4%BF%9D%E6%8A%A4", -- 环境保护
   "%E5%8D%8F%E4%BC%9A", -- 协会
   "%E6%9C%8D%E5%8A%A1%E4%B8%AD%E5%BF%83", -- 服务中心
   "%E5%9F%BA%E9%87%91%E4%BC%9A", -- 基金会
   "%E4%BF%83%E8%BF%9B%E4%BC%9A", -- 促进会
   "%E6%B7%B1%E5%9C%B3%E5%B8%82", -- 深圳市
   "%E5%8D%97%E5%B1%B1", -- 南山
   "%E5%A4%A9%E6%B2%B3", -- 天河
   "%E5%8C%97%E4%BA%AC%E5%B8%82", -- 北京市
   "%E6%96%87%E5%8C%96", -- 文化
   "%E7%A7%91%E6%8A%80", -- 科技
}
local regions = { "", "&region=440000", "&region=440300", "&region=440305", "&region=110000", "&region=310000" }
local kinds = { "", "&kind=association", "&kind=social_service", "&kind=foundation" }
local PAGES = 10
local DISTINCT = #queries * #regions * #kinds * PAGES

local threads = 0

function setup(thread)
   thread:set("offset", threads * math.floor(DISTINCT / 2))
   threads = threads + 1
end

local counter = 0

function request()
   local i = ((offset or 0) + counter) % DISTINCT
   counter = counter + 1
   local q = queries[i % #queries + 1]
   i = math.floor(i / #queries)
   local region = regions[i % #regions + 1]
   i = math.floor(i / #regions)
   local kind = kinds[i % #kinds + 1]
   local page = math.floor(i / #kinds) % PAGES + 1
   local path = string.format("/api/v1/orgs?q=%s%s%s&page_size=20&page=%d", q, region, kind, page)
   return wrk.format("GET", path)
end
