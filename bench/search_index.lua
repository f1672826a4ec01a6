-- GET /api/v1/orgs with a different search each time, over the 1,000,000 seeded organizations: name
-- fragments of 2 to 7 characters (common and rare), credit-code prefixes and regions, each on pages 1-5
-- with page sizes 10-29, so that (nearly) every request misses the search cache: 44 searches x 5
-- pages x 20 page sizes = 4400 distinct requests. wrk's two threads start half-way apart.

local searches = {
   "q=%E5%BF%97%E6%84%BF", -- 志愿
   "q=%E5%85%BB%E8%80%81%E6%9C%8D%E5%8A%A1", -- 养老服务
   "q=%E4%B9%A6%E7%94%BB", -- 书画
   "q=%E6%85%88%E5%96%84", -- 慈善
   "q=%E9%9D%92%E5%B9%B4", -- 青年
   "q=%E4%BD%93%E8%82%B2", -- 体育
   "q=%E7%AF%AE%E7%90%83", -- 篮球
   "q=%E6%91%84%E5%BD%B1", -- 摄影
   "q=%E7%A4%BE%E4%BC%9A%E5%B7%A5%E4%BD%9C", -- 社会工作
   "q=%E7%8E%AF%E5%A2%83%E4%BF%9D%E6%8A%A4", -- 环境保护
   "q=%E5%8D%8F%E4%BC%9A", -- 协会
   "q=%E6%9C%8D%E5%8A%A1%E4%B8%AD%E5%BF%83", -- 服务中心
   "q=%E5%9F%BA%E9%87%91%E4%BC%9A", -- 基金会
   "q=%E4%BF%83%E8%BF%9B%E4%BC%9A", -- 促进会
   "q=%E6%B7%B1%E5%9C%B3%E5%B8%82", -- 深圳市
   "q=%E5%8D%97%E5%B1%B1", -- 南山
   "q=%E5%A4%A9%E6%B2%B3", -- 天河
   "q=%E5%8C%97%E4%BA%AC%E5%B8%82", -- 北京市
   "q=%E6%96%87%E5%8C%96", -- 文化
   "q=%E7%A7%91%E6%8A%80", -- 科技
   "q=%E5%9B%B4%E6%A3%8B", -- 围棋
   "q=%E4%B9%A1%E6%9D%91%E6%8C%AF%E5%85%B4", -- 乡村振兴
   "q=%E5%BF%83%E7%90%86%E5%81%A5%E5%BA%B7", -- 心理健康
   "q=%E6%B7%B1%E5%9C%B3%E5%B8%82%E5%8D%97%E5%B1%B1%E5%8C%BA", -- 深圳市南山区
   "q=%E8%9B%87%E5%8F%A3%E4%B9%A6%E7%94%BB", -- 蛇口书画
   "q=%E4%B8%AD%E5%8C%BB%E8%8D%AF", -- 中医药
   "q=%E8%8C%B6%E6%96%87%E5%8C%96", -- 茶文化
   "q=%E9%BE%99%E8%88%9F", -- 龙舟
   "q=%E9%9D%9E%E7%89%A9%E8%B4%A8%E6%96%87%E5%8C%96%E9%81%97%E4%BA%A7", -- 非物质文化遗产
   "q=%E4%B8%8A%E6%B5%B7%E5%B8%82%E6%B5%A6%E4%B8%9C", -- 上海市浦东
   "q=51440300",
   "q=5244030",
   "q=5344",
   "q=53440000MJB",
   "q=51110000",
   "q=5231",
   "q=52440305MJB0001",
   "q=51330000MJB000",
   "region=440300",
   "region=440305",
   "region=440000",
   "region=110000",
   "region=310000",
   "region=330000",
}
local PAGES = 5
local SIZES = 20
local DISTINCT = #searches * PAGES * SIZES

local threads = 0

function setup(thread)
   thread:set("offset", threads * math.floor(DISTINCT / 2))
   threads = threads + 1
end

local counter = 0

function request()
   local i = ((offset or 0) + counter) % DISTINCT
   counter = counter + 1
   local search = searches[i % #searches + 1]
   i = math.floor(i / #searches)
   local page = i % PAGES + 1
   local size = math.floor(i / PAGES) % SIZES + 10
   return wrk.format("GET", string.format("/api/v1/orgs?%s&page=%d&page_size=%d", search, page, size))
end
