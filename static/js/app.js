// Progressive enhancements. The CSP forbids inline script, so every
// behaviour hangs off data attributes here.
(function () {
  "use strict";

  // Ask before a destructive or final action.
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  // Buttons that open a modal <dialog>; the dialog keeps focus inside and
  // closes with Escape.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
        var first = dialog.querySelector("input, textarea, select, button");
        if (first) { first.focus(); }
      }
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      event.preventDefault();
      closer.closest("dialog").close();
    }
  });

  // A form marked data-busy shows that work is under way and cannot be sent
  // twice by a second click.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-busy")) { return; }
    if (form.dataset.sent === "1") { event.preventDefault(); return; }
    form.dataset.sent = "1";
    var button = form.querySelector("button[type=submit]");
    if (button) {
      button.dataset.label = button.textContent;
      button.setAttribute("aria-disabled", "true");
      button.textContent = form.getAttribute("data-busy");
    }
    var status = form.querySelector("[data-busy-status]");
    if (status) { status.hidden = false; }
  });

  // After an htmx answer (for example an error message) the form may be sent again.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target.closest("form[data-busy]");
    if (!form) { return; }
    form.dataset.sent = "";
    var button = form.querySelector("button[type=submit]");
    if (button && button.dataset.label) {
      button.textContent = button.dataset.label;
      button.removeAttribute("aria-disabled");
    }
    var status = form.querySelector("[data-busy-status]");
    if (status) { status.hidden = true; }
  });

  // Upload progress for htmx forms with a <progress> element inside.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var bar = event.target.querySelector("progress");
    if (bar && event.detail.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    }
  });
})();
