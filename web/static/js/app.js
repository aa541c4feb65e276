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
      box.textContent = "The server could not complete that request (" + ev.detail.xhr.status + "). Please try again.";
      box.className = "flash flash-error";
    }
  });
})();
