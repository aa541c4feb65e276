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
  // Show UTC on hover for local times rendered by the server.
  document.addEventListener("htmx:responseError", function (ev) {
    var box = document.getElementById("flash-area");
    if (box) {
      // The message comes from the page, in the user's language.
      var msg = document.body.getAttribute("data-msg-request-failed") ||
        "The server could not complete that request (%s). Please try again.";
      box.textContent = msg.replace("%s", String(ev.detail.xhr.status));
      box.className = "flash flash-error";
    }
  });
})();
