// Charts of the usage page (uPlot, vendored). Each `[data-chart]` element holds its data in
// a `<script type="application/json">` child (no inline script: strict CSP); the table
// beside it carries the same numbers for screen readers.
(function () {
  "use strict";

  var COLOURS = ["#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#5f3dc4", "#0b7285", "#946200"];
  var COLOURS_DARK = ["#91a7ff", "#ffa94d", "#8ce99a", "#faa2c1", "#b197fc", "#66d9e8", "#ffd43b"];

  function persian() { return document.documentElement.lang === "fa"; }
  function rtl() { return document.documentElement.dir === "rtl"; }
  function dark() { return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches; }

  function number(value) {
    if (value === null || value === undefined) return "—";
    return Number(value).toLocaleString(persian() ? "fa-IR" : "en-US", { maximumFractionDigits: 1 });
  }

  function seriesName(s) {
    return [s.provider, s.model].filter(Boolean).join(" · ") || "—";
  }

  function options(el, data) {
    var ink = getComputedStyle(el).color;
    var grid = dark() ? "rgba(255,255,255,.12)" : "rgba(0,0,0,.08)";
    var palette = dark() ? COLOURS_DARK : COLOURS;
    var labels = data.labels || [];
    var axis = { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid } };
    return {
      width: Math.max(el.clientWidth, 200),
      height: 220,
      scales: { x: { time: false, dir: rtl() ? -1 : 1 } },
      axes: [
        Object.assign({}, axis, {
          values: function (u, splits) {
            return splits.map(function (i) { return labels[i] !== undefined ? labels[i] : ""; });
          },
          space: 90,
        }),
        Object.assign({}, axis, {
          side: rtl() ? 1 : 3,
          values: function (u, splits) { return splits.map(number); },
          size: 60,
        }),
      ],
      series: [{ label: data.x_label || "", value: function (u, i) { return labels[i] || ""; } }].concat(
        data.series.map(function (s, n) {
          return {
            label: seriesName(s),
            stroke: palette[n % palette.length],
            width: 2,
            points: { show: labels.length < 40 },
            value: function (u, v) { return number(v); },
          };
        })
      ),
    };
  }

  function draw(el) {
    var source = el.querySelector('script[type="application/json"]');
    if (!source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    var xs = data.buckets.map(function (_, i) { return i; });
    var columns = [xs].concat(data.series.map(function (s) { return s.values; }));
    var plot = new uPlot(options(el, data), columns, el);
    el.setAttribute("data-drawn", String(data.series.length));
    var resize = function () { plot.setSize({ width: Math.max(el.clientWidth, 200), height: 220 }); };
    window.addEventListener("resize", resize);
  }

  function start() {
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  // «ارتقا» on a split's arms runs the models page's activation (its dialog, then its
  // answer, which re-renders only the models page's groups): once a confirmed one succeeds,
  // the arms shown here are out of date, so their buttons go and a note says to reload.
  // (Before the swap: the answer removes the dialog, whose later events reach no one.)
  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = event.detail.elt;
    if (event.detail.xhr.status !== 200 || !form.matches || !form.matches("[data-confirm-form]")) return;
    if (!form.querySelector('input[name="confirm"]')) return;
    document.querySelectorAll("[data-split]").forEach(function (split) {
      split.querySelectorAll("form").forEach(function (f) { f.remove(); });
      var note = split.querySelector("[data-split-stale]");
      if (note) note.hidden = false;
    });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
