/* The models page's keyboard and focus helpers (what htmx has no attribute for):
 * - "/" focuses the search field;
 * - the "go to group" list moves focus to the chosen group (opening it in the compact view);
 * - a group opened from its one-line summary gets focus on its live radio;
 * - a search submitted with Enter (or a page loaded with one) puts focus on the first match;
 * - after «برگرداندن» focus returns to the group's live radio;
 * - the model list's heading checkbox selects every row of the page.
 * Switching itself (pointer, arrows, Enter/Space, the dialog) lives in app.js. */
(function () {
  "use strict";

  var focusAfterSettle = null; // a group's id, or "match" for the first search match

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function focusGroup(group) {
    if (!group) { return; }
    var radio = group.querySelector("input[type=radio]:checked:not(:disabled)") ||
      group.querySelector("input[type=radio]:not(:disabled)");
    if (radio) { radio.focus(); return; }
    var opener = group.querySelector(".group-open");
    if (opener) { opener.focus(); return; }
    group.setAttribute("tabindex", "-1");
    group.focus();
  }

  function focusFirstMatch() {
    var results = document.getElementById("model-results");
    if (!results) { return; }
    var first = results.querySelector(".model-option.is-match input[type=radio]:not(:disabled)") ||
      results.querySelector(".group-open");
    if (first) { first.focus(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var search = document.querySelector("[data-search-shortcut]");
    if (!search || document.querySelector("dialog[open]")) { return; }
    event.preventDefault();
    search.focus();
    search.select();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      event.target.form.querySelectorAll("input[name=ids]").forEach(function (box) {
        box.checked = event.target.checked;
      });
      return;
    }
    if (!event.target.matches("[data-goto-group]")) { return; }
    var group = document.getElementById(event.target.value);
    if (!group) { return; }
    group.scrollIntoView({ block: "start" });
    var opener = group.querySelector(".group-open");
    if (opener) {
      focusAfterSettle = group.id;
      opener.click();
    } else {
      focusGroup(group);
    }
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest(".group-open");
    if (opener) { focusAfterSettle = opener.closest(".model-group-line").id; }
    var undo = event.target.closest("[data-undo]");
    if (undo) { focusAfterSettle = undo.form.getAttribute("data-undo-group"); }
  });

  document.addEventListener("submit", function (event) {
    if (event.target.matches("form[role=search]")) { focusAfterSettle = "match"; }
  }, true);

  document.addEventListener("htmx:afterSettle", function () {
    if (!focusAfterSettle || document.querySelector("dialog[open]")) { return; }
    var wanted = focusAfterSettle;
    focusAfterSettle = null;
    if (wanted === "match") { focusFirstMatch(); } else { focusGroup(document.getElementById(wanted)); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var search = document.querySelector("[data-search-shortcut]");
    if (search && search.value) { focusFirstMatch(); }
  });
})();
