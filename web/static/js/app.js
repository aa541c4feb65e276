// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // The phone header folds its menu behind a button; without this script
  // the menu simply stays open (the CSS hides it only under .js).
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest(".menu-toggle");
    if (!btn) return;
    var menu = document.getElementById(btn.getAttribute("aria-controls"));
    var open = btn.getAttribute("aria-expanded") !== "true";
    btn.setAttribute("aria-expanded", String(open));
    if (menu) menu.classList.toggle("open", open);
  });
  // Confirm destructive actions marked with data-confirm (no inline handlers: CSP).
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var msg = form.getAttribute && form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
    }
  }, true);
  // Approvals queue: select all, live totals per currency of the selection,
  // and a confirmation that says how many refunds and how much in each
  // currency. Amounts stay integers (minor units, summed as BigInt).
  function money(minor, cur, exp, lang) {
    var neg = minor < 0n, digits = (neg ? -minor : minor).toString();
    while (digits.length <= exp) digits = "0" + digits;
    var whole = digits.slice(0, digits.length - exp), frac = digits.slice(digits.length - exp);
    var vnd = cur === "VND", dotGroups = vnd || lang === "vi";
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, dotGroups ? "." : ",");
    var n = (neg ? "-" : "") + whole + (exp > 0 ? (dotGroups ? "," : ".") + frac : "");
    if (vnd) return n + " ₫";
    return lang === "vi" ? n + " " + cur : cur + " " + n;
  }
  function fill(msg) {
    var args = Array.prototype.slice.call(arguments, 1);
    return msg.replace(/%[ds]/g, function () { return String(args.shift()); });
  }
  var queue = document.querySelector("form[data-bulk-many]");
  if (queue) {
    var boxes = function () { return Array.prototype.slice.call(queue.querySelectorAll("input[name=id]")); };
    var selection = function () {
      var sums = {}, exps = {}, n = 0;
      boxes().forEach(function (b) {
        if (!b.checked) return;
        n++;
        var cur = b.getAttribute("data-currency");
        sums[cur] = (sums[cur] || 0n) + BigInt(b.getAttribute("data-amount"));
        exps[cur] = Number(b.getAttribute("data-exp"));
      });
      var lang = queue.getAttribute("data-bulk-lang");
      var totals = Object.keys(sums).sort().map(function (c) { return money(sums[c], c, exps[c], lang); }).join(", ");
      return { n: n, totals: totals };
    };
    var summary = queue.querySelector(".selection");
    var update = function () {
      var s = selection();
      summary.textContent = s.n ? fill(queue.getAttribute("data-bulk-summary"), s.n, s.totals) : "";
      var all = queue.querySelector("[data-select-all]");
      if (all) all.checked = s.n > 0 && s.n === boxes().length;
    };
    queue.addEventListener("change", function (ev) {
      if (ev.target.hasAttribute("data-select-all")) {
        boxes().forEach(function (b) { b.checked = ev.target.checked; });
      }
      update();
    });
    queue.addEventListener("submit", function (ev) {
      var s = selection();
      if (!s.n) {
        ev.preventDefault();
        summary.textContent = queue.getAttribute("data-bulk-none");
        return;
      }
      var msg = s.n === 1 ? fill(queue.getAttribute("data-bulk-one"), s.totals) : fill(queue.getAttribute("data-bulk-many"), s.n, s.totals);
      if (!window.confirm(msg)) ev.preventDefault();
    });
    update();
  }

  // A list row that stands for a refund opens it wherever it is clicked
  // (its first cell keeps a real link for keyboards and screen readers).
  document.addEventListener("click", function (ev) {
    var row = ev.target.closest && ev.target.closest("tr[data-href]");
    if (!row || ev.target.closest("a, button, input, select, label, textarea") || ev.defaultPrevented) return;
    if (window.getSelection && String(window.getSelection())) return; // selecting text, not opening
    window.location.href = row.getAttribute("data-href");
  });

  // Polling: the refund page follows its refund every data-poll ms while
  // the tab is visible (a hidden tab asks nothing), and once more when it
  // comes back. Polls say they are background requests, so they never keep
  // a session alive; a final refund's page has no data-poll and stops.
  function poll() {
    if (document.hidden || !window.htmx) return;
    document.querySelectorAll("[data-poll]").forEach(function (el) { window.htmx.trigger(el, "poll"); });
  }
  setInterval(poll, 2000);
  document.addEventListener("visibilitychange", poll);

  // Idle warning: a minute before the session ends, a notice offers to
  // stay signed in. The server says how long is left (another tab may have
  // been used meanwhile), asked in the background so asking is not activity.
  var idle = document.getElementById("idle-notice");
  var left = Number(document.body.getAttribute("data-idle-left"));
  var timer;
  function schedule(seconds) {
    clearTimeout(timer);
    timer = setTimeout(check, Math.max(seconds - 60, 0) * 1000);
  }
  function answer(res) {
    if (!res.ok || (res.headers.get("Content-Type") || "").indexOf("application/json") !== 0) return { left: 0 };
    return res.json();
  }
  function ended() {
    var text = idle.querySelector("[data-ended]");
    text.textContent = text.getAttribute("data-ended");
    idle.querySelector("button").hidden = true;
    idle.hidden = false;
    // Reloading goes through sign-in and comes back here.
    setTimeout(function () { window.location.reload(); }, 3000);
  }
  function check() {
    fetch("/account/session", { headers: { "X-Background": "true" }, credentials: "same-origin", redirect: "manual" })
      .then(answer).then(function (s) {
        if (s.left <= 0) return ended();
        if (s.left > 75) { idle.hidden = true; return schedule(s.left); }
        idle.hidden = false;
        clearTimeout(timer);
        timer = setTimeout(check, s.left * 1000);
      }).catch(function () { schedule(120); });
  }
  if (idle && left > 0) {
    schedule(left);
    idle.querySelector("button").addEventListener("click", function () {
      fetch("/account/keepalive", { method: "POST", credentials: "same-origin", redirect: "manual" })
        .then(answer).then(function (s) {
          if (s.left <= 0) return ended();
          idle.hidden = true;
          schedule(s.left);
        });
    });
    // Work done through htmx (lookups, filters) is activity too; the
    // server records it at most once a minute, so ask a minute earlier.
    document.addEventListener("htmx:afterRequest", function (ev) {
      var hdrs = ev.detail.requestConfig && ev.detail.requestConfig.headers;
      if (!hdrs || hdrs["X-Background"] !== "true") schedule(left - 60);
    });
  }

  // Forms and results, for keyboards and screen readers. After a page
  // load and after a swap the person asked for (not a background poll): a
  // failed submit's error summary takes focus; otherwise a lookup's result
  // is announced in the live region (outside #main, so it is not replaced)
  // and its heading takes focus.
  function settle(root) {
    if (!root) return;
    var summary = root.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
      return;
    }
    var result = root.querySelector("[data-announce]");
    if (!result) return;
    var live = document.getElementById("live-region");
    if (live) {
      // Emptied first, so the same words said again are a change too.
      live.textContent = "";
      setTimeout(function () { live.textContent = result.getAttribute("data-announce"); }, 50);
    }
    var head = result.querySelector("[data-focus-result]");
    if (head) head.focus();
  }
  settle(document);
  document.addEventListener("htmx:afterSettle", function (ev) {
    var hdrs = ev.detail.requestConfig && ev.detail.requestConfig.headers;
    if (hdrs && hdrs["X-Background"] === "true") return;
    settle(document.getElementById("main"));
  });
  // A link of the error summary takes the person into its field.
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("[data-error-summary] a[data-field]");
    var field = a && document.getElementById(a.getAttribute("data-field"));
    if (!field) return;
    ev.preventDefault();
    field.focus();
    field.scrollIntoView({ block: "center" });
  });

  // Show UTC on hover for local times rendered by the server.
  document.addEventListener("htmx:responseError", function (ev) {
    var box = document.getElementById("flash-area");
    if (box) {
      // The message comes from the page, in the user's language.
      var msg = document.body.getAttribute("data-msg-request-failed") ||
        "The server could not complete that request (%s). Please try again.";
      msg = msg.replace("%s", String(ev.detail.xhr.status));
      // An error the server explained comes as its flash fragment
      // (handlers' fail): show its words, as text, instead.
      try {
        var doc = new DOMParser().parseFromString(ev.detail.xhr.responseText || "", "text/html");
        var said = doc.querySelector("[data-testid=flash].flash-error");
        if (said && said.textContent.trim()) msg = said.textContent.trim();
      } catch (e) { /* keep the generic message */ }
      box.textContent = msg;
      box.className = "flash flash-error";
    }
  });
})();
