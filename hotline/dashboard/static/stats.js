// Bar charts on <canvas> for the statistics page, from the JSON embedded in the page.
(function () {
  "use strict";
  var dataNode = document.getElementById("stats-data");
  if (!dataNode) return;
  var data = JSON.parse(dataNode.textContent);
  var COLORS = ["#4a78b5", "#57bb8a"];

  function draw(canvas) {
    var series = data[canvas.getAttribute("data-series")] || [];
    var labels = (canvas.getAttribute("data-labels") || "").split(",");
    var legend = (canvas.getAttribute("data-legend") || "").split(",");
    var ctx = canvas.getContext("2d");
    var W = canvas.width, H = canvas.height, left = 40, bottom = 24, top = 22;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, H);
    var peak = 1;
    series.forEach(function (pair) { pair.forEach(function (v) { if (v > peak) peak = v; }); });
    // Whole-number gridlines: four steps of a step that is at least 1.
    var step = Math.ceil(peak / 4), max = step * 4;
    var plotH = H - bottom - top, slot = (W - left - 10) / Math.max(series.length, 1);
    var barW = Math.max(2, (slot - 6) / 2);
    ctx.strokeStyle = "#ccc";
    ctx.fillStyle = "#555";
    ctx.font = "11px sans-serif";
    ctx.textAlign = "right";
    for (var i = 0; i <= 4; i++) {
      var y = top + plotH - (plotH * i) / 4;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(W - 10, y); ctx.stroke();
      ctx.fillText(String(step * i), left - 4, y + 4);
    }
    ctx.textAlign = "center";
    series.forEach(function (pair, idx) {
      var x = left + idx * slot + 3;
      pair.forEach(function (v, k) {
        var h = (plotH * v) / max;
        ctx.fillStyle = COLORS[k % COLORS.length];
        ctx.fillRect(x + k * barW, top + plotH - h, barW - 1, h);
      });
      ctx.fillStyle = "#555";
      ctx.fillText(labels[idx] || "", x + barW, H - 8);
    });
    ctx.textAlign = "left";
    legend.forEach(function (name, k) {
      ctx.fillStyle = COLORS[k % COLORS.length];
      ctx.fillRect(left + k * 110, 4, 10, 10);
      ctx.fillStyle = "#333";
      ctx.fillText(name, left + k * 110 + 14, 13);
    });
    canvas.setAttribute("data-drawn", "1");
  }

  Array.prototype.forEach.call(document.querySelectorAll("canvas[data-series]"), draw);
})();
