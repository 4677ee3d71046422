/* 年度对比 (templates/dashboard/compare.html): the cumulative completion % at each month's end, this year and the
 * year before, as two lines (ECharts, SVG renderer). Data from the page's json_script element; months still to
 * come are gaps (null). Sizes follow the box on resize. */
(function () {
  "use strict";

  function init() {
    var source = document.getElementById("compare-chart");
    var el = document.getElementById("chart-compare");
    if (!source || !el || typeof echarts === "undefined") return;
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 16, top: 36, bottom: 24, containLabel: true },
      legend: { top: 0, data: [data.this_label, data.last_label] },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v + "%"; } },
      xAxis: { type: "category", data: data.labels, axisLabel: { interval: el.clientWidth < 480 ? 1 : 0 } },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: [
        { name: data.this_label, type: "line", data: data.this, itemStyle: { color: "#c62828" }, connectNulls: false },
        { name: data.last_label, type: "line", data: data.last, itemStyle: { color: "#78909c" }, lineStyle: { type: "dashed" } }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
