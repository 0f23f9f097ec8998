// Overview charts (ECharts, vendored): data comes from the page's JSON block, rendered server-side
// (serialised with <, >, & and ' escaped, so no value can close the block).
"use strict";
(function () {
  var node = document.getElementById("chart-data");
  if (!node || !window.echarts) { return; }
  var data = JSON.parse(node.textContent);
  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    option.animation = false;  // draw at once: what you see is the data, also in screenshots
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function trend(id, trendData) {
    var names = Object.keys(trendData.series);
    draw(id, {
      tooltip: { trigger: "axis" }, legend: { top: 0, type: "scroll" },
      grid: { top: 40, left: 40, right: 20, bottom: 30 },
      xAxis: { type: "category", data: trendData.months },
      yAxis: { type: "value", min: 0, max: 100 },
      series: names.map(function (n) {
        return { name: n, type: "line", connectNulls: false, data: trendData.series[n] };
      })
    });
  }
  trend("chart-trend-mcn", data.trend_mcn);
  trend("chart-trend-anchor", data.trend_anchor);
  draw("chart-per-day", {
    tooltip: { trigger: "axis" }, legend: { top: 0 },
    grid: { top: 40, left: 40, right: 20, bottom: 30 },
    xAxis: { type: "category", data: data.per_day.map(function (r) { return r.day; }) },
    yAxis: { type: "value", minInterval: 1 },
    series: ["claims", "qualifications", "ledger"].map(function (k) {
      return { name: k, type: "bar", stack: "all", data: data.per_day.map(function (r) { return r[k]; }) };
    })
  });
  var cats = {};
  data.by_category.forEach(function (r) { cats[r.category] = (cats[r.category] || 0) + r.violations; });
  var names = Object.keys(cats);
  draw("chart-by-category", {
    tooltip: {}, grid: { top: 20, left: 160, right: 20, bottom: 30 },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: names },
    series: [{ type: "bar", data: names.map(function (n) { return cats[n]; }) }]
  });
})();
