/* Small progressive enhancements. Every page works without this file; with it:
 * - the sidebar collapses into a "Menu" toggle on small screens,
 * - flash messages can be dismissed,
 * - table rows with [data-expand] buttons open their detail row,
 * - an open user menu closes on Escape or on a click elsewhere.
 * Listeners are delegated to the document, so content swapped in by htmx needs no re-binding.
 */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  function setNavOpen(toggle, open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    document.body.classList.toggle("nav-open", open);
  }

  function toggleExpand(button) {
    var target = document.getElementById(button.getAttribute("aria-controls"));
    if (!target) {
      return;
    }
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    target.hidden = !open;
  }

  document.addEventListener("click", function (event) {
    var el = event.target instanceof Element ? event.target : null;
    if (!el) {
      return;
    }

    var navToggle = el.closest("[data-nav-toggle]");
    if (navToggle) {
      setNavOpen(navToggle, navToggle.getAttribute("aria-expanded") !== "true");
      return;
    }

    var dismiss = el.closest("[data-dismiss]");
    if (dismiss) {
      var message = dismiss.closest(".message");
      var list = message && message.parentElement;
      if (message) {
        message.remove();
      }
      if (list && list.children.length === 0) {
        list.remove();
      }
      return;
    }

    var expand = el.closest("[data-expand]");
    if (expand) {
      toggleExpand(expand);
      return;
    }

    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(el)) {
        menu.open = false;
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      menu.open = false;
      var summary = menu.querySelector("summary");
      if (summary) {
        summary.focus();
      }
    });
    var navToggle = document.querySelector("[data-nav-toggle][aria-expanded='true']");
    if (navToggle) {
      setNavOpen(navToggle, false);
      navToggle.focus();
    }
  });
})();
