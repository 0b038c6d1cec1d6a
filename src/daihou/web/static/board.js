/* Team board chart (Apache ECharts, served by daihou): tasks done, pending and contacts
   per collector, from the JSON in the page (#board-data); nothing is fetched. When drawn,
   <body data-charts-ready="1"> (the browser tests read it). */
(function () {
  "use strict";
  var node = document.getElementById("board-data");
  var el = document.getElementById("chart-board");
  if (!node || !el || typeof echarts === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  var L = data.labels;
  var chart = echarts.init(el, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 50, right: 20, top: 30, bottom: 30 },
    xAxis: { type: "category", data: data.collectors },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: L.tasks_done, type: "bar", stack: "tasks", data: data.series.tasks_done },
      { name: L.tasks_pending, type: "bar", stack: "tasks", data: data.series.tasks_pending },
      { name: L.contacts, type: "bar", data: data.series.contacts }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
  document.body.setAttribute("data-charts-ready", "1");
})();
