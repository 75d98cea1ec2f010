// Draws every element with a data-chart attribute ({dates, series}) as an ECharts line chart.
document.querySelectorAll("[data-chart]").forEach(function (el) {
  var spec = JSON.parse(el.dataset.chart);
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: {trigger: "axis"},
    legend: {type: "scroll"},
    xAxis: {type: "category", data: spec.dates},
    yAxis: {type: "value"},
    series: spec.series
  });
  window.addEventListener("resize", function () { chart.resize(); });
});
