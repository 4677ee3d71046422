/* The dashboard's charts: data from the page's json_script element, drawn by ECharts with its SVG renderer.
 *
 * Completion by area: horizontal bars, best first from the top, every name on its own line and the value at the
 * end of its bar, so 28 townships read as a ranking (a vertical bar chart labels every third one). The box grows
 * with the number of bars. Funds by category: horizontal bars too, the legend above the plot (never over an axis).
 * Overdue rows by week: a line with the count on each point. Sizes follow the box on resize (a phone turned). */
(function () {
  "use strict";

  var RED = "#c62828";
  var GREY = "#78909c";
  var GREEN = "#2e7d32";
  var BAR_HEIGHT = 22; // px per bar (per category for the funds, two bars each)

  function money(v) {
    return Number(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function narrow(el) {
    return el.clientWidth < 480;
  }

  function barsHeight(el, count, per, extra) {
    var h = Math.max(160, count * per + extra);
    el.style.height = h + "px"; // CSSOM, not a style attribute in the markup: allowed by the CSP
  }

  function completion(el, data, print) {
    var c = data.completion;
    barsHeight(el, c.labels.length, BAR_HEIGHT, 40);
    return {
      animation: !print,
      grid: { left: 8, right: 48, top: 8, bottom: 24, containLabel: true },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: function (items) {
          var i = items[0].dataIndex;
          return c.labels[i] + "：" + c.values[i] + "%（" + c.done[i] + " / " + c.total[i] + " 项）";
        }
      },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: {
        type: "category",
        inverse: true, // the first (best) at the top
        data: c.labels,
        axisTick: { show: false },
        axisLabel: { interval: 0, width: narrow(el) ? 84 : 140, overflow: "truncate", fontSize: 12 }
      },
      series: [{
        name: "完成率",
        type: "bar",
        data: c.values,
        barMaxWidth: 16,
        itemStyle: { color: RED },
        label: { show: true, position: "right", formatter: "{c}%", fontSize: 11, color: "#333" }
      }]
    };
  }

  function funds(el, data, print) {
    var f = data.funds;
    barsHeight(el, f.labels.length, BAR_HEIGHT * 2, 64);
    return {
      animation: !print,
      legend: { data: ["计划", "已投入"], top: 0, left: 0 },
      grid: { left: 8, right: 88, top: 32, bottom: 24, containLabel: true },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        valueFormatter: function (v) { return money(v) + " 万元"; }
      },
      xAxis: { type: "value", axisLabel: { formatter: function (v) { return Number(v).toLocaleString("zh-CN"); } } },
      yAxis: {
        type: "category",
        inverse: true,
        data: f.labels,
        axisTick: { show: false },
        axisLabel: { interval: 0, width: narrow(el) ? 84 : 140, overflow: "truncate", fontSize: 12 }
      },
      series: [
        { name: "计划", type: "bar", data: f.planned, barMaxWidth: 14, itemStyle: { color: GREY },
          label: { show: true, position: "right", fontSize: 10, formatter: function (p) { return money(p.value); } } },
        { name: "已投入", type: "bar", data: f.invested, barMaxWidth: 14, itemStyle: { color: GREEN },
          label: { show: true, position: "right", fontSize: 10, formatter: function (p) { return money(p.value); } } }
      ]
    };
  }

  function overdue(el, data, print) {
    var o = data.overdue;
    return {
      animation: !print,
      grid: { left: 8, right: 24, top: 28, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v + " 项"; } },
      xAxis: { type: "category", data: o.labels, boundaryGap: false, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{
        name: "逾期任务",
        type: "line",
        data: o.values,
        itemStyle: { color: RED },
        areaStyle: { color: "rgba(198, 40, 40, 0.08)" },
        label: { show: true, position: "top", fontSize: 11, formatter: function (p) { return p.value ? p.value : ""; } }
      }]
    };
  }

  var BUILDERS = { completion: completion, funds: funds, overdue: overdue };

  function init() {
    var source = document.getElementById("dashboard-charts");
    if (!source || typeof echarts === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var print = document.body.classList.contains("dashboard-print");
    var drawn = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var build = BUILDERS[el.getAttribute("data-chart")];
      if (!build) {
        return;
      }
      var option = build(el, data, print);
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(option);
      el.setAttribute("data-drawn", "1");
      drawn.push({ el: el, chart: chart, build: build });
    });
    var wasNarrow = null;
    window.addEventListener("resize", function () {
      drawn.forEach(function (d) {
        var now = narrow(d.el);
        if (now !== wasNarrow) {
          d.chart.setOption(d.build(d.el, data, print));
        }
        d.chart.resize();
      });
      wasNarrow = drawn.length ? narrow(drawn[0].el) : null;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
