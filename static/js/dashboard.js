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

  // The monthly trend (月度趋势) from the snapshots: the overdue rows on the left axis, the completion % and the
  // invested % (资金投入率; the 万元 in the tooltip) on the right one; a corrected month (已更正) is drawn hollow and
  // its reason is in the tooltip. Its own json_script element.
  function trend(el, t, print) {
    var reasons = t.reasons || [];
    function hollow(v, p) { return t.corrected[p.dataIndex] ? "emptyCircle" : "circle"; }
    return {
      animation: !print,
      legend: { data: ["逾期任务", "完成率", "资金投入率"], top: 0, left: 0 },
      grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var i = items[0].dataIndex;
          var lines = [t.labels[i] + (t.corrected[i] ? "（已更正：" + reasons[i] + "）" : "")];
          items.forEach(function (it) {
            var unit = it.seriesName === "逾期任务" ? " 项" : "%";
            lines.push(it.marker + it.seriesName + "：" + (it.value === null ? "—" : it.value + unit));
          });
          if (t.invested[i] !== null) {
            lines.push("已投入：" + money(t.invested[i]) + " 万元");
          }
          return lines.join("<br>");
        }
      },
      xAxis: { type: "category", data: t.labels, boundaryGap: false, axisLabel: { hideOverlap: true } },
      yAxis: [
        { type: "value", minInterval: 1 },
        { type: "value", max: 100, splitLine: { show: false }, axisLabel: { formatter: "{value}%" } }
      ],
      series: [
        { name: "逾期任务", type: "line", data: t.overdue, itemStyle: { color: RED }, symbol: hollow, symbolSize: 7 },
        { name: "完成率", type: "line", yAxisIndex: 1, data: t.done_percent, itemStyle: { color: GREEN },
          symbol: hollow, symbolSize: 7 },
        { name: "资金投入率", type: "line", yAxisIndex: 1, data: t.invested_percent, itemStyle: { color: GREY },
          symbol: hollow, symbolSize: 7 }
      ]
    };
  }

  function drawTrend(print) {
    var source = document.getElementById("dashboard-trend");
    var el = document.querySelector("[data-chart=trend]");
    if (!source || !el || typeof echarts === "undefined") {
      return;
    }
    var t = JSON.parse(source.textContent);
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(trend(el, t, print));
    el.setAttribute("data-drawn", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  }

  var BUILDERS = { completion: completion, funds: funds, overdue: overdue };

  function init() {
    drawTrend(document.body.classList.contains("dashboard-print"));
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
