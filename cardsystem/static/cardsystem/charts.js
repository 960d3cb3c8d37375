/* Draws every chart on a back-office page with Chart.js (static/vendor/chart.js).
   A chart is a <canvas data-chart="ID"> beside <script id="ID" type="application/json">
   holding the whole Chart.js configuration, written by the server with json_script
   (templates/admin/includes/chart.html): no page builds chart code of its own.
   Once drawn, the canvas carries data-points: how many data points it shows, so that a
   browser test can tell a chart that drew data from an empty one. */
(function () {
  "use strict";

  function countPoints(config) {
    var datasets = (config.data && config.data.datasets) || [];
    return datasets.reduce(function (total, dataset) {
      return total + (dataset.data || []).filter(function (value) {
        return value !== null && value !== undefined;
      }).length;
    }, 0);
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) { return; }
    var config = JSON.parse(source.textContent);
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false }, config.options);
    new window.Chart(canvas, config);
    canvas.dataset.points = String(countPoints(config));
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
  window.cardsystemCharts = { draw: draw };
})();
