/* What htmx has no attribute for (no inline scripts: the CSP forbids them). htmx itself
 * swaps the server's messages in (out of band, error answers included), keeps focus on a
 * re-rendered radio and shows the busy indicators.
 * - the confirmation <dialog> the server sends becomes modal with focus on «تأیید»;
 *   so does a group's policies dialog, focus going back to its opener when it closes;
 *   Escape or «انصراف» closes it, puts the group's radios back and focus on the live one;
 * - a failed request puts the group's radios back; an unreachable server gets the
 *   layout's prepared message;
 * - flash messages can be dismissed; the one-time API token is copied with a button;
 * - on a small screen the navbar's menu opens with its button, and each search form
 *   (role=search) folds behind a «فیلترها» button (open when a filter is set);
 * - a toolbar ([data-roving], a group's actions) is one tab stop: the arrow keys move
 *   between its items (in reading order, right to left in Persian), Home and End to the
 *   first and the last; Tab leaves it. Without JavaScript every item stays a tab stop. */
(function () {
  "use strict";

  var opener = null; // the id of the radio the open dialog is about

  var pointerAt = 0; // when a pointer last pressed inside a group

  // Whether the group's checked radio differs from its live model.
  function pending(group) {
    var checked = group.querySelector("input[type=radio]:checked");
    return !!checked && checked.id !== group.getAttribute("data-selected");
  }

  // Put a group's radios back to what the server last rendered; answer the checked one.
  function restoreGroup(group) {
    var radio = group && document.getElementById(group.getAttribute("data-selected"));
    if (radio) { radio.checked = true; }
    if (group) { showApply(group); }
    return radio;
  }

  function showApply(group) {
    var apply = group.querySelector("[data-apply]");
    if (apply) { apply.hidden = !pending(group); }
  }

  // A pointer click switches at once; arrow keys only move the selection and show «اعمال».
  document.addEventListener("pointerdown", function (event) {
    if (event.target.closest(".model-group")) { pointerAt = Date.now(); }
  });
  document.addEventListener("change", function (event) {
    var group = event.target.type === "radio" && event.target.closest(".model-group");
    if (!group) { return; }
    if (Date.now() - pointerAt < 1000) { group.requestSubmit(); return; }
    showApply(group);
  });
  document.addEventListener("keydown", function (event) {
    var group = event.target.type === "radio" && event.target.closest(".model-group");
    if (!group || (event.key !== "Enter" && event.key !== " ")) { return; }
    if (event.key === "Enter" || pending(group)) { event.preventDefault(); }
    if (pending(group)) { group.requestSubmit(); }
  });

  function dialogGroup(dialog) {
    return document.getElementById(dialog.getAttribute("data-group"));
  }

  function dropDialog(dialog, restore) {
    var radio = restore ? restoreGroup(dialogGroup(dialog)) : null;
    if (dialog.open) { dialog.close(); }
    dialog.remove();
    return radio;
  }

  function cancelDialog(dialog) {
    var radio = dropDialog(dialog, true);
    opener = null;
    if (radio) { radio.focus(); }
  }

  function openDialogs() {
    document.querySelectorAll("dialog.confirm-dialog[open]:not([data-ready])").forEach(function (dialog) {
      dialog.setAttribute("data-ready", "");
      opener = dialog.getAttribute("data-choice"); // the radio it would make live
      // Re-open as a modal: focus is trapped inside, the page behind is inert.
      dialog.close();
      dialog.showModal();
      dialog.querySelector("[data-dialog-confirm]").focus();
      dialog.addEventListener("cancel", function (event) { // Escape: the same as «انصراف»
        event.preventDefault();
        cancelDialog(dialog);
      });
    });
  }

  // The policies dialog (a group's schedule and routing forms) is modal too: focus on its
  // first field (the refused one after an error, «تأیید» at the confirmation step);
  // Escape or its close button removes it and focus goes back to the button that opened
  // it, as it does when a saved change empties it.
  var policyOpener = null;

  function openPolicyDialogs() {
    document.querySelectorAll("dialog.policy-dialog[open]:not([data-ready])").forEach(function (dialog) {
      dialog.setAttribute("data-ready", "");
      dialog.close();
      dialog.showModal();
      var target = dialog.querySelector("[aria-invalid=true]") ||
        dialog.querySelector("[data-confirm-schedule] button, [data-confirm-routing] button") ||
        dialog.querySelector("select, input:not([type=hidden]), textarea");
      if (target) { target.focus(); }
      dialog.addEventListener("close", function () {
        if (dialog.open) { return; } // the close() above, reported after showModal()
        dialog.remove();
        backToPolicyOpener();
      });
    });
  }

  function backToPolicyOpener() {
    if (!policyOpener || document.querySelector("dialog[open]")) { return; }
    if (document.contains(policyOpener)) { policyOpener.focus(); }
    policyOpener = null;
  }

  document.addEventListener("click", function (event) {
    var policies = event.target.closest("[data-open-schedule], [data-open-routing]");
    if (policies) { policyOpener = policies; }
  }, true);

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest("[data-dialog-cancel]");
    if (cancel) { cancelDialog(cancel.closest("dialog")); }
    var dismiss = event.target.closest("[data-dismiss-flash]");
    if (dismiss) { dismiss.closest("[data-flash]").remove(); }
    var copy = event.target.closest("[data-copy-target]");
    if (copy) { copyToken(copy); }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) { event.target.select(); }
  });

  // Confirmed: the dialog closes; focus goes back to the radio once its group is swapped in.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var dialog = event.target.closest("dialog");
    if (dialog && event.target.hasAttribute("data-confirm-form") && dialog.open) { dialog.close(); }
  });

  document.addEventListener("htmx:afterSettle", function () {
    openDialogs();
    openPolicyDialogs();
    backToPolicyOpener();
    if (!opener || document.querySelector("dialog[open]")) { return; }
    var radio = document.getElementById(opener);
    opener = null;
    if (radio && document.activeElement !== radio) { radio.focus(); }
  });

  function failed(event) {
    var elt = event.detail.elt;
    var dialog = elt.closest("dialog");
    if (dialog) { dropDialog(dialog, true); } else { restoreGroup(elt.closest(".model-group")); }
  }

  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", function (event) {
    failed(event);
    var message = document.getElementById("network-error");
    document.getElementById("flash-alert").replaceChildren(message.content.cloneNode(true));
  });

  // The navbar's menu button (small screens; CSS shows the menu open on wide ones);
  // Escape inside the open menu closes it and puts focus back on the button.
  function setMenu(toggle, open) {
    toggle.setAttribute("aria-expanded", String(open));
    document.getElementById(toggle.getAttribute("aria-controls")).classList.toggle("is-open", open);
  }
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) { setMenu(toggle, toggle.getAttribute("aria-expanded") !== "true"); }
  });
  document.addEventListener("keydown", function (event) {
    var toggle = document.querySelector("[data-nav-toggle][aria-expanded=true]");
    if (event.key !== "Escape" || !toggle || !event.target.closest(".app-nav-collapse")) { return; }
    setMenu(toggle, false);
    toggle.focus();
  });

  // Search forms fold behind a button on small screens (CSS hides the button on wide ones).
  function foldFilters() {
    var label = document.body.getAttribute("data-fold-label");
    document.querySelectorAll("form[role=search]:not([data-folded])").forEach(function (form, index) {
      form.setAttribute("data-folded", "");
      if (!form.id) { form.id = "search-form-" + index; }
      var set = Array.prototype.some.call(form.elements, function (field) {
        if (field.type === "checkbox" || field.type === "radio") { return field.checked; }
        return field.type !== "hidden" && field.type !== "submit" && field.type !== "button" &&
          field.value !== "" && (field.tagName !== "SELECT" || field.selectedIndex > 0);
      });
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-outline-secondary filters-toggle";
      button.textContent = label;
      button.setAttribute("aria-controls", form.id);
      button.setAttribute("aria-expanded", String(set));
      form.classList.toggle("is-folded", !set);
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        form.classList.toggle("is-folded", !open);
        if (open) { var first = form.querySelector("input:not([type=hidden]), select"); if (first) { first.focus(); } }
      });
      form.parentNode.insertBefore(button, form);
    });
  }
  foldFilters();

  function copyToken(button) {
    var field = document.querySelector(button.getAttribute("data-copy-target"));
    field.focus();
    field.select();
    var original = button.textContent;
    var done = function () {
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

  // --- toolbars: one tab stop each ------------------------------------------------------
  var ROVING_ITEMS = "a[href], button:not([disabled]), summary";

  // Its items as they show: a closed menu's links are left out until it opens.
  function rovingItems(bar) {
    var all = bar.querySelectorAll(ROVING_ITEMS);
    return Array.prototype.filter.call(all, function (item) {
      var menu = item.closest("details");
      return item.tagName === "SUMMARY" || !menu || menu.open;
    });
  }

  function initRoving(root) {
    var bars = root.matches && root.matches("[data-roving]") ? [root] : [];
    if (root.querySelectorAll) {
      bars = bars.concat(Array.prototype.slice.call(root.querySelectorAll("[data-roving]")));
    }
    bars.forEach(function (bar) {
      bar.querySelectorAll(ROVING_ITEMS).forEach(function (item, i) {
        item.setAttribute("tabindex", i === 0 ? "0" : "-1");
      });
    });
  }

  document.addEventListener("htmx:load", function (event) { initRoving(event.detail.elt); });

  document.addEventListener("keydown", function (event) {
    var bar = event.target.closest ? event.target.closest("[data-roving]") : null;
    if (!bar || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var items = rovingItems(bar);
    var at = items.indexOf(event.target);
    if (at < 0) { return; }
    var rtl = getComputedStyle(bar).direction === "rtl";
    var step = { ArrowDown: 1, ArrowUp: -1, ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1 }[event.key];
    var to;
    if (event.key === "Home") { to = 0; } else if (event.key === "End") { to = items.length - 1; } else if (step) {
      to = (at + step + items.length) % items.length;
    } else { return; }
    event.preventDefault();
    items[at].setAttribute("tabindex", "-1");
    items[to].setAttribute("tabindex", "0");
    items[to].focus();
  });
})();
