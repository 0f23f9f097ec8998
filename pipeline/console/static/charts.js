// Overview charts (ECharts, vendored): data comes from the page's JSON block, rendered server-side
// (serialised with <, >, & and ' escaped, so no value can close the block). Every code the charts
// show (violation kinds, categories) is named in the reader's language from data.labels; a trend
// chart shows the TREND_TOP subjects with the lowest scores of the latest month, and a search box
// adds any other one (legends stay readable with fifty anchors).
"use strict";
(function () {
  var TREND_TOP = 10;
  var node = document.getElementById("chart-data");
  if (!node || !window.echarts) { return; }
  var data = JSON.parse(node.textContent);
  var labels = data.labels || { kinds: {}, categories: {} };
  var words = data.text || {};
  function named(table, code) { return Object.prototype.hasOwnProperty.call(table, code) ? table[code] : code; }
  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    option.animation = false;  // draw at once: what you see is the data, also in screenshots
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
    return chart;
  }
  function say(key, values) {
    var text = words[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(values[k])); });
    return text;
  }
  // Worst first: the lowest score of the latest month with one, more recent months first.
  function ranked(trendData) {
    var months = trendData.months.length;
    function latest(name) {
      var s = trendData.series[name];
      for (var i = s.length - 1; i >= 0; i--) { if (s[i] !== null && s[i] !== undefined) { return [months - 1 - i, s[i]]; } }
      return [months, 101];
    }
    return Object.keys(trendData.series).sort(function (a, b) {
      var x = latest(a), y = latest(b);
      return (x[0] - y[0]) || (x[1] - y[1]) || (a < b ? -1 : a > b ? 1 : 0);
    });
  }
  function trend(id, trendData) {
    var all = ranked(trendData);
    var shown = all.slice(0, TREND_TOP);
    var chart = draw(id, {
      tooltip: { trigger: "axis", confine: true }, legend: { top: 0, type: "scroll" },
      grid: { top: 40, left: 10, right: 20, bottom: 10, containLabel: true },
      xAxis: { type: "category", data: trendData.months },
      yAxis: { type: "value", min: 0, max: 100 },
      series: []
    });
    if (!chart) { return; }
    function render() {
      chart.setOption({
        legend: { data: shown },
        series: shown.map(function (n) {
          return { name: n, type: "line", connectNulls: false, data: trendData.series[n] };
        })
      }, { replaceMerge: ["series"] });
    }
    render();
    if (all.length <= TREND_TOP) { return; }
    var el = document.getElementById(id);
    var tools = document.createElement("div");
    tools.className = "chart-tools";
    tools.id = id + "-tools";
    var note = document.createElement("span");
    note.className = "muted";
    note.textContent = say("chart_top", { n: TREND_TOP, total: all.length });
    var label = document.createElement("label");
    label.textContent = say("chart_add") + " ";
    var input = document.createElement("input");
    input.type = "search";
    input.className = "chart-search";
    input.placeholder = say("chart_pick");
    input.setAttribute("list", id + "-names");
    var list = document.createElement("datalist");
    list.id = id + "-names";
    all.forEach(function (n) { var o = document.createElement("option"); o.value = n; list.appendChild(o); });
    label.appendChild(input);
    var reset = document.createElement("button");
    reset.type = "button";
    reset.className = "chart-reset";
    reset.textContent = say("chart_reset");
    tools.appendChild(note); tools.appendChild(label); tools.appendChild(list); tools.appendChild(reset);
    el.parentNode.insertBefore(tools, el);
    function add() {
      var name = input.value.trim();
      if (Object.prototype.hasOwnProperty.call(trendData.series, name) && shown.indexOf(name) < 0) {
        shown.push(name);
        render();
        input.value = "";
      }
    }
    input.addEventListener("change", add);
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); add(); } });
    reset.addEventListener("click", function () { shown = all.slice(0, TREND_TOP); render(); });
  }
  trend("chart-trend-mcn", data.trend_mcn);
  trend("chart-trend-anchor", data.trend_anchor);
  var kinds = ["claims", "qualifications", "ledger"];
  draw("chart-per-day", {
    tooltip: { trigger: "axis", confine: true }, legend: { top: 0 },
    grid: { top: 40, left: 10, right: 20, bottom: 10, containLabel: true },
    xAxis: { type: "category", data: data.per_day.map(function (r) { return r.day; }) },
    yAxis: { type: "value", minInterval: 1 },
    series: kinds.map(function (k) {
      return {
        name: named(labels.kinds, k), type: "bar", stack: "all",
        data: data.per_day.map(function (r) { return r[k]; })
      };
    })
  });
  var cats = {};
  data.by_category.forEach(function (r) { cats[r.category] = (cats[r.category] || 0) + r.violations; });
  var codes = Object.keys(cats).sort(function (a, b) { return cats[a] - cats[b]; });
  draw("chart-by-category", {
    tooltip: { confine: true },
    grid: { top: 10, left: 10, right: 30, bottom: 10, containLabel: true },  // whole names, never clipped
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: codes.map(function (c) { return named(labels.categories, c); }) },
    series: [{ type: "bar", data: codes.map(function (c) { return cats[c]; }), label: { show: true, position: "right" } }]
  });
})();
