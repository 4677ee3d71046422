/* The dashboard's charts: data from the page's json_script element, drawn by ECharts with its SVG renderer. */
(function () {
  "use strict";

  function init() {
    var source = document.getElementById("dashboard-charts");
    if (!source || typeof echarts === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var print = document.body.classList.contains("dashboard-print");
    var common = { animation: !print, grid: { left: 48, right: 16, top: 32, bottom: 56 }, tooltip: { trigger: "axis" } };
    var options = {
      completion: {
        xAxis: { type: "category", data: data.completion.labels, axisLabel: { rotate: 30 } },
        yAxis: { type: "value", max: 100 },
        series: [{ name: "完成率（%）", type: "bar", data: data.completion.values, itemStyle: { color: "#c62828" } }]
      },
      funds: {
        legend: { data: ["计划", "已投入"] },
        xAxis: { type: "category", data: data.funds.labels, axisLabel: { rotate: 30 } },
        yAxis: { type: "value" },
        series: [
          { name: "计划", type: "bar", data: data.funds.planned, itemStyle: { color: "#90a4ae" } },
          { name: "已投入", type: "bar", data: data.funds.invested, itemStyle: { color: "#2e7d32" } }
        ]
      },
      overdue: {
        xAxis: { type: "category", data: data.overdue.labels },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: "逾期任务", type: "line", data: data.overdue.values, itemStyle: { color: "#c62828" } }]
      }
    };
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var option = options[el.getAttribute("data-chart")];
      if (!option) {
        return;
      }
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(Object.assign({}, common, option));
      el.setAttribute("data-drawn", "1");
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
