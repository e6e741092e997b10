/* The colour theme, set before the page paints (loaded without defer in <head>: the CSP
 * allows no inline script). The choice («روشن», «تیره» or «مانند سیستم») is remembered in
 * localStorage; "system" follows prefers-color-scheme, also when it changes later.
 * The layout's [data-theme-switch] box (a <select>) is shown and wired once the page has loaded. */
(function () {
  "use strict";

  var KEY = "theme";
  var root = document.documentElement;
  var dark = window.matchMedia("(prefers-color-scheme: dark)");

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "system";
    } catch (e) {
      return "system"; // storage blocked: follow the system
    }
  }

  function apply(choice) {
    var theme = choice === "system" ? (dark.matches ? "dark" : "light") : choice;
    root.setAttribute("data-bs-theme", theme);
    root.setAttribute("data-theme-choice", choice);
  }

  apply(stored());
  root.classList.add("js"); // the layout's menu and filters fold only when a script can open them
  dark.addEventListener("change", function () { apply(stored()); });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-theme-switch]").forEach(function (box) {
      var select = box.querySelector("select");
      select.value = stored();
      box.hidden = false;
      select.addEventListener("change", function () {
        try {
          if (select.value === "system") { window.localStorage.removeItem(KEY); }
          else { window.localStorage.setItem(KEY, select.value); }
        } catch (e) { /* not remembered, still applied */ }
        apply(select.value);
      });
    });
  });
})();
