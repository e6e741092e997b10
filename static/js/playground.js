// Playground: say "waiting for the provider" while a prompt is on its way (htmx request).
(function () {
  "use strict";
  function setBusy(event, busy) {
    var form = event.target && event.target.closest ? event.target.closest("#playground-form") : null;
    if (!form) return;
    var note = document.getElementById("playground-busy");
    if (note) note.hidden = !busy;
    var result = document.getElementById("playground-result");
    if (result) result.setAttribute("aria-busy", busy ? "true" : "false");
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target && event.target.id === "playground-form") setBusy(event, true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.target && event.target.id === "playground-form") setBusy(event, false);
  });
})();
