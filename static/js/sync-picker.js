// The sync page's list of models to add: a search that hides the rows that do not
// match, «select all shown» / «select none», and the number of chosen models on the
// add button (in the page's digits). Without JavaScript the table still works: tick
// and add. Labels come from the page (data-template), already translated.
(function () {
  "use strict";

  function digits(n) {
    var persian = document.documentElement.lang === "fa";
    return persian ? String(n).replace(/\d/g, function (c) { return "۰۱۲۳۴۵۶۷۸۹"[+c]; }) : String(n);
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return digits(values[k]); });
  }

  function setUp(form) {
    var rows = Array.prototype.slice.call(form.querySelectorAll("tr[data-sync-row]"));
    var search = form.querySelector("[data-sync-search]");
    var submit = form.querySelector("[data-sync-submit]");
    var shown = form.querySelector("[data-sync-shown]");

    function box(row) { return row.querySelector("[data-sync-choice]"); }

    function update() {
      var chosen = rows.filter(function (r) { return box(r).checked; }).length;
      var visible = rows.filter(function (r) { return !r.hidden; }).length;
      submit.textContent = fill(submit.dataset.template, { count: chosen });
      submit.disabled = chosen === 0;
      shown.textContent = fill(shown.dataset.template, { shown: visible, total: rows.length });
    }

    function filter() {
      var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      rows.forEach(function (row) {
        var name = row.querySelector("input[name^='display_name-']");
        var hay = (row.dataset.syncRow + " " + (name ? name.value : "")).toLowerCase();
        row.hidden = !words.every(function (w) { return hay.indexOf(w) !== -1; });
      });
      update();
    }

    search.addEventListener("input", filter);
    form.querySelector("[data-sync-all]").addEventListener("click", function () {
      rows.forEach(function (r) { if (!r.hidden) box(r).checked = true; });
      update();
    });
    form.querySelector("[data-sync-none]").addEventListener("click", function () {
      rows.forEach(function (r) { box(r).checked = false; });
      update();
    });
    form.addEventListener("change", update);
    // Enter in the search box filters; it never submits the form.
    search.addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });
    update();
  }

  function init() {
    document.querySelectorAll("form[data-sync-picker]").forEach(setUp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
