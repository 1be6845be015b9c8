// Progressive enhancements. The CSP forbids inline script, so every
// behaviour hangs off data attributes here.
(function () {
  "use strict";

  // Print buttons: the page's print stylesheet decides what goes on paper.
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      event.preventDefault();
      window.print();
    }
  });

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
        var first = dialog.querySelector(
          "[autofocus], input:not([type=hidden]), textarea, select, button"
        );
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
    var bar = form.querySelector("progress");
    if (bar) { bar.hidden = true; bar.value = 0; }
  });

  // htmx puts error messages into #messages at the top of the page. They are
  // scrolled into view because the form that failed may be far below.
  document.addEventListener("htmx:afterSwap", function (event) {
    var messages = document.getElementById("messages");
    if (event.detail.target === messages && messages.children.length) {
      messages.scrollIntoView({ block: "nearest" });
    }
  });

  // Upload progress for htmx forms with a <progress> element inside.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var bar = event.target.querySelector("progress");
    if (bar && event.detail.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    }
  });

  // A table or chart wider than the screen scrolls inside its wrapper.
  // Keyboard users can scroll it only if the wrapper takes focus, so while it
  // overflows it becomes a focusable region named after its figure caption or
  // section heading.
  var SCROLL_WRAPPERS = ".table-wrap, .chart-wrap";

  function scrollRegionName(wrap) {
    var figure = wrap.closest("figure");
    var section = wrap.closest("section");
    var title = (figure && figure.querySelector("figcaption")) ||
      (section && section.querySelector("h1, h2, h3"));
    return title ? title.textContent.trim() : "Tabel";
  }

  function updateScrollRegion(wrap) {
    var overflows = wrap.scrollWidth > wrap.clientWidth + 1;
    if (overflows && !wrap.hasAttribute("tabindex")) {
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", scrollRegionName(wrap));
      wrap.dataset.scrollRegion = "1";
    } else if (!overflows && wrap.dataset.scrollRegion === "1") {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
      wrap.removeAttribute("aria-label");
      delete wrap.dataset.scrollRegion;
    }
  }

  var resizeObserver = typeof ResizeObserver === "function"
    ? new ResizeObserver(function (entries) {
      entries.forEach(function (entry) { updateScrollRegion(entry.target); });
    })
    : null;

  function watchScrollRegions(root) {
    root.querySelectorAll(SCROLL_WRAPPERS).forEach(function (wrap) {
      updateScrollRegion(wrap);
      if (resizeObserver) { resizeObserver.observe(wrap); }
    });
  }

  watchScrollRegions(document);
  document.addEventListener("htmx:load", function (event) {
    watchScrollRegions(event.detail.elt.parentElement || document);
  });
})();
