// A calendar popup for day fields: <input data-jalali-picker="fa"> gets a button that
// opens a month of the Solar Hijri calendar (Persian digits, weeks from Saturday) and
// writes the chosen day as ۱۴۰۵/۰۹/۰۹; data-jalali-picker="en" shows the Gregorian
// calendar and writes 2026-11-30. The browser's own calendars (Intl) do the
// arithmetic; typing a day by hand keeps working, and the server reads either form.
// Labels come from the page (data-picker-*), already translated.
(function () {
  "use strict";

  var DAY = 86400000;

  function calendarOf(lang) {
    return lang === "fa" ? "persian" : "gregory";
  }

  function partsFormatter(calendar, timeZone) {
    return new Intl.DateTimeFormat("en-US-u-ca-" + calendar + "-nu-latn", {
      timeZone: timeZone || "UTC", year: "numeric", month: "numeric", day: "numeric",
    });
  }

  function parts(formatter, date) {
    var out = {};
    formatter.formatToParts(date).forEach(function (p) {
      if (p.type === "year" || p.type === "month" || p.type === "day") {
        out[p.type === "year" ? "y" : p.type === "month" ? "m" : "d"] = parseInt(p.value, 10);
      }
    });
    return out;
  }

  // The UTC noon of the first day of month m of year y in the calendar.
  function firstOfMonth(fmt, calendar, y, m) {
    var t = calendar === "persian"
      ? Date.UTC(y + 621, 2, 21, 12) + Math.round((m - 1) * 30.44) * DAY
      : Date.UTC(y, m - 1, 1, 12);
    for (var i = 0; i < 40; i++) {
      var p = parts(fmt, new Date(t));
      var diff = (p.y - y) * 365 + (p.m - m) * 30 + (p.d - 1);
      if (diff === 0) return t;
      t -= (Math.abs(diff) > 3 ? diff : Math.sign(diff)) * DAY;
    }
    return t;
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function Picker(input) {
    this.input = input;
    this.lang = input.dataset.jalaliPicker === "fa" ? "fa" : "en";
    this.calendar = calendarOf(this.lang);
    this.fmt = partsFormatter(this.calendar);
    this.rtl = this.lang === "fa";
    var locale = this.lang === "fa" ? "fa-IR-u-ca-persian" : "en-US-u-ca-gregory";
    this.title = new Intl.DateTimeFormat(locale, { timeZone: "UTC", year: "numeric", month: "long" });
    this.number = new Intl.NumberFormat(this.lang === "fa" ? "fa-IR" : "en-US", { useGrouping: false });
    this.weekday = new Intl.DateTimeFormat(locale, { timeZone: "UTC", weekday: "narrow" });
    this.weekdayLong = new Intl.DateTimeFormat(locale, { timeZone: "UTC", weekday: "long" });
    this.build();
  }

  Picker.prototype.build = function () {
    var self = this, host = this.input.parentElement;
    host.classList.add("jalali-picker-host");
    var open = document.createElement("button");
    open.type = "button";
    open.className = "btn btn-outline-secondary btn-sm jalali-picker-open";
    open.textContent = this.input.dataset.pickerOpen || "…";
    open.setAttribute("aria-haspopup", "dialog");
    open.setAttribute("aria-expanded", "false");
    this.input.insertAdjacentElement("afterend", open);
    this.openButton = open;
    open.addEventListener("click", function () { self.toggle(); });
    this.input.addEventListener("keydown", function (e) {
      if (e.altKey && e.key === "ArrowDown") { e.preventDefault(); self.show(); }
    });
    document.addEventListener("click", function (e) {
      if (self.popup && !self.popup.hidden && !host.contains(e.target)) self.hide(false);
    });
  };

  Picker.prototype.toggle = function () {
    if (this.popup && !this.popup.hidden) this.hide(true); else this.show();
  };

  // The day typed in the field, if it is one, else today in Tehran.
  Picker.prototype.startDay = function () {
    var text = this.input.value.trim().replace(/[۰-۹]/g, function (c) {
      return String("۰۱۲۳۴۵۶۷۸۹".indexOf(c));
    });
    var m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/.exec(text);
    if (m) {
      var y = +m[1], mo = +m[2], d = +m[3];
      var persian = y < 1700;
      if ((persian ? "persian" : "gregory") === this.calendar && mo >= 1 && mo <= 12) {
        return { y: y, m: mo, d: d };
      }
    }
    return parts(partsFormatter(this.calendar, "Asia/Tehran"), new Date());
  };

  Picker.prototype.show = function () {
    if (!this.popup) {
      this.popup = document.createElement("div");
      this.popup.className = "jalali-picker card shadow-sm p-2";
      this.popup.setAttribute("role", "dialog");
      this.popup.setAttribute("aria-label", this.input.dataset.pickerTitle || "");
      this.input.parentElement.appendChild(this.popup);
      this.popup.addEventListener("keydown", this.onKey.bind(this));
    }
    var start = this.startDay();
    this.today = parts(partsFormatter(this.calendar, "Asia/Tehran"), new Date());
    this.render(start.y, start.m, start.d);
    this.popup.hidden = false;
    this.openButton.setAttribute("aria-expanded", "true");
    this.focusDay(start.d);
  };

  Picker.prototype.hide = function (refocus) {
    if (!this.popup) return;
    this.popup.hidden = true;
    this.openButton.setAttribute("aria-expanded", "false");
    if (refocus) this.input.focus();
  };

  Picker.prototype.render = function (y, m) {
    var self = this;
    this.y = y; this.m = m;
    var first = firstOfMonth(this.fmt, this.calendar, y, m);
    var length = 28;
    while (length < 31 && parts(this.fmt, new Date(first + length * DAY)).m === m) length++;
    this.length = length;
    this.popup.textContent = "";

    var head = document.createElement("div");
    head.className = "d-flex align-items-center justify-content-between gap-1 mb-1";
    var prev = this.navButton(this.input.dataset.pickerPrev, this.rtl ? "›" : "‹", -1);
    var next = this.navButton(this.input.dataset.pickerNext, this.rtl ? "‹" : "›", 1);
    var title = document.createElement("strong");
    title.className = "jalali-picker-title";
    title.setAttribute("aria-live", "polite");
    title.textContent = this.title.format(new Date(first));
    head.append(prev, title, next);
    this.popup.appendChild(head);

    var grid = document.createElement("table");
    grid.className = "jalali-picker-grid";
    grid.setAttribute("role", "grid");
    var row = document.createElement("tr");
    // Column 0 is the first day of the week: Saturday in Persian, Sunday in English.
    var weekStart = this.lang === "fa" ? 6 : 0;
    var sunday = Date.UTC(2024, 0, 7, 12); // a Sunday
    for (var c = 0; c < 7; c++) {
      var th = document.createElement("th");
      th.scope = "col";
      var wd = new Date(sunday + ((weekStart + c) % 7) * DAY);
      th.textContent = this.weekday.format(wd);
      th.title = this.weekdayLong.format(wd);
      row.appendChild(th);
    }
    var thead = document.createElement("thead");
    thead.appendChild(row);
    grid.appendChild(thead);
    var body = document.createElement("tbody");
    var offset = (new Date(first).getUTCDay() - weekStart + 7) % 7;
    row = document.createElement("tr");
    for (var blank = 0; blank < offset; blank++) row.appendChild(document.createElement("td"));
    for (var d = 1; d <= length; d++) {
      if (row.children.length === 7) { body.appendChild(row); row = document.createElement("tr"); }
      var cell = document.createElement("td");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm jalali-picker-day";
      button.dataset.day = String(d);
      button.tabIndex = -1;
      button.textContent = this.number.format(d);
      if (this.today.y === y && this.today.m === m && this.today.d === d) {
        button.classList.add("is-today");
        button.setAttribute("aria-current", "date");
      }
      button.addEventListener("click", function (e) { self.choose(+e.currentTarget.dataset.day); });
      cell.appendChild(button);
      row.appendChild(cell);
    }
    body.appendChild(row);
    grid.appendChild(body);
    this.popup.appendChild(grid);

    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn btn-link btn-sm p-0 mt-1";
    close.textContent = this.input.dataset.pickerClose || "×";
    close.addEventListener("click", function () { self.hide(true); });
    this.popup.appendChild(close);
  };

  Picker.prototype.navButton = function (label, symbol, step) {
    var self = this, b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-outline-secondary btn-sm jalali-picker-nav";
    b.setAttribute("aria-label", label || "");
    b.textContent = symbol;
    b.addEventListener("click", function () { self.move(step); });
    return b;
  };

  Picker.prototype.move = function (months, day) {
    var m = this.m + months, y = this.y;
    while (m < 1) { m += 12; y -= 1; }
    while (m > 12) { m -= 12; y += 1; }
    this.render(y, m);
    this.focusDay(day === undefined ? 1 : day <= 0 ? this.length + day : day);
  };

  Picker.prototype.focusDay = function (d) {
    var day = Math.max(1, Math.min(d, this.length));
    var buttons = this.popup.querySelectorAll(".jalali-picker-day");
    buttons.forEach(function (b) { b.tabIndex = -1; });
    var target = buttons[day - 1];
    target.tabIndex = 0;
    target.focus();
  };

  Picker.prototype.onKey = function (e) {
    var current = document.activeElement && document.activeElement.dataset
      ? +document.activeElement.dataset.day : 0;
    if (e.key === "Escape") { e.preventDefault(); this.hide(true); return; }
    if (!current) return;
    var forward = this.rtl ? "ArrowLeft" : "ArrowRight";
    var back = this.rtl ? "ArrowRight" : "ArrowLeft";
    var step = { ArrowUp: -7, ArrowDown: 7 };
    step[forward] = 1; step[back] = -1;
    if (e.key in step) {
      e.preventDefault();
      var d = current + step[e.key];
      if (d < 1) this.move(-1, d); // 0 is the last day of the month before
      else if (d > this.length) this.move(1, d - this.length);
      else this.focusDay(d);
    } else if (e.key === "PageUp" || e.key === "PageDown") {
      e.preventDefault();
      this.move(e.key === "PageUp" ? -1 : 1, current);
    }
  };

  Picker.prototype.choose = function (d) {
    var text = this.lang === "fa"
      ? (this.y + "/" + pad(this.m) + "/" + pad(d)).replace(/\d/g, function (c) {
        return "۰۱۲۳۴۵۶۷۸۹"[+c];
      })
      : this.y + "-" + pad(this.m) + "-" + pad(d);
    this.input.value = text;
    this.input.dispatchEvent(new Event("change", { bubbles: true }));
    this.hide(true);
  };

  function init() {
    if (typeof Intl === "undefined" || !Intl.DateTimeFormat.prototype.formatToParts) return;
    document.querySelectorAll("input[data-jalali-picker]").forEach(function (input) {
      if (!input.dataset.pickerReady) {
        input.dataset.pickerReady = "1";
        new Picker(input);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
