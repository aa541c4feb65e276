// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
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
