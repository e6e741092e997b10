/* The dashboard's behaviour (no inline scripts: the CSP forbids them).
 * - the confirmation <dialog> the server sends becomes modal: focus on «تأیید»,
 *   Escape or «انصراف» closes it and puts the group's radios back as they were;
 * - a failed htmx request shows the server's message in the role="alert" area;
 * - keyboard focus survives a group being re-rendered;
 * - flash messages can be dismissed. */
(function () {
  "use strict";

  var body = document.body;
  var pendingFocus = null;

  function alertArea() { return document.getElementById("flash-alert"); }
  function statusArea() { return document.getElementById("flash-status"); }

  function messageElement(text) {
    var box = document.createElement("div");
    box.className = "alert alert-danger flash-message d-flex align-items-start gap-2";
    box.setAttribute("data-flash", "");
    var icon = document.createElement("span");
    icon.className = "flash-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "!";
    var span = document.createElement("span");
    span.className = "flex-grow-1";
    span.textContent = text;
    box.appendChild(icon);
    box.appendChild(span);
    return box;
  }

  function showError(fragmentHtml, fallback) {
    var area = alertArea();
    if (!area) { return; }
    var found = null;
    if (fragmentHtml) {
      var tpl = document.createElement("template");
      tpl.innerHTML = fragmentHtml;
      found = tpl.content.querySelector("[data-flash]");
    }
    var status = statusArea();
    if (status) { status.replaceChildren(); }
    area.replaceChildren(found ? document.importNode(found, true) : messageElement(fallback));
  }

  // Put a group's radios back to what the server last rendered.
  function restoreGroup(groupId) {
    var group = groupId && document.getElementById(groupId);
    if (!group) { return; }
    var selected = group.getAttribute("data-selected");
    var radio = selected && document.getElementById(selected);
    if (radio) { radio.checked = true; }
  }

  function openDialogs() {
    document.querySelectorAll("dialog.confirm-dialog[open]:not([data-ready])").forEach(function (dialog) {
      dialog.setAttribute("data-ready", "");
      var opener = document.activeElement;
      dialog.__opener = opener && opener.id ? opener.id : null;
      // Re-open as a modal: focus is trapped inside, the page behind is inert,
      // and Escape fires "cancel".
      if (typeof dialog.showModal === "function") {
        dialog.close();
        dialog.showModal();
      }
      var confirm = dialog.querySelector("[data-dialog-confirm]");
      if (confirm) { confirm.focus(); }
      // Escape on a modal dialog fires "cancel": the same as «انصراف».
      dialog.addEventListener("cancel", function (event) {
        event.preventDefault();
        cancelDialog(dialog);
      });
    });
  }

  function closeDialog(dialog, confirmed) {
    if (!dialog) { return; }
    if (confirmed) { dialog.setAttribute("data-confirmed", "1"); }
    if (dialog.open) { dialog.close(); }
  }

  // Cancelled («انصراف» or Escape): nothing was written; put the radios back and the
  // focus on the one that is checked again.
  function cancelDialog(dialog) {
    if (!dialog || dialog.getAttribute("data-confirmed") === "1") { return; }
    var groupId = dialog.getAttribute("data-group");
    restoreGroup(groupId);
    var group = document.getElementById(groupId);
    pendingFocus = (group && group.getAttribute("data-selected")) || dialog.__opener;
    if (dialog.open) { dialog.close(); }
    dialog.remove();
    focusPending();
  }

  function focusPending() {
    if (!pendingFocus) { return; }
    var el = document.getElementById(pendingFocus);
    pendingFocus = null;
    if (el && document.activeElement !== el) { el.focus(); }
  }

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest("[data-dialog-cancel]");
    if (cancel) {
      event.preventDefault();
      cancelDialog(cancel.closest("dialog"));
      return;
    }
    var dismiss = event.target.closest("[data-dismiss-flash]");
    if (dismiss) {
      var box = dismiss.closest("[data-flash]");
      if (box) { box.remove(); }
    }
  });

  // The confirm form is about to post: the dialog closes without restoring.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.target;
    if (form && form.hasAttribute && form.hasAttribute("data-confirm-form")) {
      var dialog = form.closest("dialog");
      if (dialog && dialog.__opener) { pendingFocus = dialog.__opener; }
      closeDialog(dialog, true);
    }
  });

  // Remember which radio had focus: the group it sits in is about to be replaced.
  document.addEventListener("htmx:beforeSwap", function () {
    var active = document.activeElement;
    if (active && active.id && active.closest(".model-group")) { pendingFocus = active.id; }
  });

  document.addEventListener("htmx:afterSettle", function () {
    openDialogs();
    if (!document.querySelector("dialog.confirm-dialog[open]")) { focusPending(); }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    showError(xhr && xhr.responseText, body.getAttribute("data-msg-error"));
    var elt = event.detail.elt;
    var group = elt && elt.closest && elt.closest(".model-group");
    if (group) { restoreGroup(group.id); }
    var dialog = elt && elt.closest && elt.closest("dialog");
    if (dialog) { restoreGroup(dialog.getAttribute("data-group")); closeDialog(dialog, true); dialog.remove(); }
    document.querySelectorAll("dialog.confirm-dialog[data-confirmed]").forEach(function (d) {
      restoreGroup(d.getAttribute("data-group"));
      d.remove();
    });
  });

  document.addEventListener("htmx:sendError", function (event) {
    showError(null, body.getAttribute("data-msg-network"));
    var elt = event.detail.elt;
    var group = elt && elt.closest && elt.closest(".model-group");
    if (group) { restoreGroup(group.id); }
  });

  // A page loaded with a dialog in it (never in practice, but keep it usable).
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", openDialogs);
  } else {
    openDialogs();
  }
})();
