// Dashboard pages (providers, keys, tokens, admins, history): small behaviours that
// need script. Loaded with `defer`; no inline script anywhere (strict CSP).
(function () {
  "use strict";

  // The one-time API token: select it on focus, copy it with the button.
  function copyFrom(button) {
    var field = document.querySelector(button.getAttribute("data-copy-target"));
    if (!field) return;
    field.focus();
    field.select();
    var done = function () {
      var original = button.textContent;
      button.textContent = button.getAttribute("data-copied-text") || original;
      window.setTimeout(function () { button.textContent = original; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (button) {
      event.preventDefault();
      copyFrom(button);
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });
})();
