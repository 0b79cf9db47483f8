/* Draw every chart whose figure JSON sits in a <script type="application/json"> element. */
(function () {
  "use strict";
  function render(root) {
    if (typeof Plotly === "undefined") { return; }
    var nodes = (root || document).querySelectorAll(".lf-chart[data-figure]");
    Array.prototype.forEach.call(nodes, function (el) {
      if (el.getAttribute("data-drawn")) { return; }
      var src = document.getElementById(el.getAttribute("data-figure"));
      if (!src) { return; }
      var fig = JSON.parse(src.textContent);
      var layout = fig.layout || {};
      delete layout.title; // the card's caption names the chart (results cached before it did)
      layout.autosize = true;
      delete layout.width;
      if (!layout.height) { layout.height = 360; }
      layout.margin = layout.margin || { l: 56, r: 16, t: 36, b: 56 };
      Plotly.newPlot(el, fig.data || [], layout, {
        responsive: true, displaylogo: false, displayModeBar: false
      });
      el.setAttribute("data-drawn", "1");
    });
  }
  window.lfRenderCharts = render;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { render(document); });
  } else {
    render(document);
  }
  document.addEventListener("htmx:afterSettle", function (e) { render(e.target); });
})();
