/* Risk dashboard charts (Apache ECharts, served by daihou). Data comes from the page
   itself (#dashboard-data); nothing is fetched from anywhere else. When every chart has
   drawn, <body data-charts-ready="N"> tells how many (the browser tests read it). */
(function () {
  "use strict";
  var node = document.getElementById("dashboard-data");
  if (!node || typeof echarts === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  if (!data) { return; }
  var L = data.labels;
  var num = function (v) { return Number(v); };
  var drawn = 0;
  var charts = [];
  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(Object.assign({ animation: false }, option));
    charts.push(chart);
    drawn += 1;
  }
  var t = data.trend;
  draw("chart-trend", {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 70, right: 20, top: 30, bottom: 30 },
    xAxis: { type: "category", data: t.dates },
    yAxis: { type: "value" },
    series: ["balance", "overdue_balance", "npl_balance"].map(function (k) {
      return { name: L[k], type: "line", showSymbol: false, data: t.series[k].map(num) };
    })
  });
  var buckets = Object.keys(data.daily.by_bucket);
  draw("chart-buckets", {
    tooltip: { trigger: "axis" },
    grid: { left: 70, right: 20, top: 20, bottom: 30 },
    xAxis: { type: "category", data: buckets },
    yAxis: { type: "value" },
    series: [{ name: L.balance, type: "bar", data: buckets.map(function (b) { return num(data.daily.by_bucket[b].balance); }) }]
  });
  var classes = Object.keys(data.daily.by_class);
  draw("chart-classes", {
    tooltip: { trigger: "item" },
    series: [{ type: "pie", radius: ["35%", "65%"], data: classes.map(function (c) {
      return { name: L[c] || c, value: num(data.daily.by_class[c].balance) };
    }) }]
  });
  var r = data.rolls;
  draw("chart-rolls", {
    tooltip: { formatter: function (p) {
      return r.rows[p.value[1]] + " → " + (L[r.columns[p.value[0]]] || r.columns[p.value[0]]) + ": " + (p.value[2] * 100).toFixed(2) + "%";
    } },
    grid: { left: 50, right: 20, top: 24, bottom: 84 },
    xAxis: { type: "category", name: L.to, nameLocation: "middle", nameGap: 24, data: r.columns.map(function (c) { return L[c] || c; }) },
    yAxis: { type: "category", name: L.from, nameLocation: "start", data: r.rows, inverse: true },
    visualMap: { min: 0, max: 1, calculable: true, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120 },
    series: [{ type: "heatmap", data: r.cells.map(function (c) { return [c[0], c[1], num(c[2])]; }),
      label: { show: true, formatter: function (p) { return (p.value[2] * 100).toFixed(0) + "%"; } } }]
  });
  var cure = t.m1_cure;
  draw("chart-cure", {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 50, right: 20, top: 30, bottom: 30 },
    xAxis: { type: "category", data: cure.map(function (c) { return c.month_end; }) },
    yAxis: { type: "value", max: 1 },
    series: [
      { name: L.cure_count, type: "line", data: cure.map(function (c) { return num(c.by_count); }) },
      { name: L.cure_amount, type: "line", data: cure.map(function (c) { return num(c.by_amount); }) }
    ]
  });
  var rec = data.recoveries.rows;
  draw("chart-recoveries", {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 70, right: 50, top: 30, bottom: 30 },
    xAxis: { type: "category", data: rec.map(function (r) { return r.bucket; }) },
    yAxis: [{ type: "value" }, { type: "value", minInterval: 1 }],
    series: [
      { name: L.recovered, type: "bar", data: rec.map(function (r) { return num(r.amount); }) },
      { name: L.payments, type: "line", yAxisIndex: 1, data: rec.map(function (r) { return r.payments; }) }
    ]
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.body.setAttribute("data-charts-ready", String(drawn));
})();
