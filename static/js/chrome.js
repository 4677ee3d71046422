/* Every page: the header's 菜单 and keyboard access to tables that scroll sideways (templates/base.html, site.css).
 *
 * - 菜单 is a <details>: on a phone it opens and closes by itself, without this file. From 768 px site.css shows its
 *   content while it is closed (::details-content); a browser that does not know ::details-content gets it opened
 *   here instead, as long as the screen is that wide. Escape, or a tap outside the open menu, closes it on a phone.
 * - A table wider than its .table-responsive box scrolls sideways: the box becomes focusable (tabindex 0) and a
 *   named region, so that a keyboard can scroll it too; again after htmx puts new content in.
 */
(function () {
  "use strict";

  var WIDE = window.matchMedia("(min-width: 768px)");

  function setUpMenu() {
    var menu = document.querySelector("[data-site-menu]");
    if (!menu) return;
    var styled = window.CSS && CSS.supports && CSS.supports("selector(::details-content)");
    if (!styled) {
      var sync = function () {
        if (WIDE.matches) menu.open = true;
      };
      sync();
      if (WIDE.addEventListener) WIDE.addEventListener("change", sync);
    }
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open && !WIDE.matches) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (menu.open && !WIDE.matches && !menu.contains(event.target)) menu.open = false;
    });
  }

  function nameOf(box) {
    var table = box.querySelector("table");
    var caption = table && table.querySelector("caption");
    if (caption && caption.textContent.trim()) return caption.textContent.trim();
    var labelled = box.closest("[aria-labelledby]");
    var heading = labelled && document.getElementById(labelled.getAttribute("aria-labelledby"));
    if (!heading) {
      var section = box.closest("section, article, main");
      heading = section && section.querySelector("h1, h2, h3, h4");
    }
    var text = heading ? heading.textContent.trim() : "";
    return (text ? text + "：" : "") + "表格，可左右滚动";
  }

  function reachScrollables() {
    var boxes = document.querySelectorAll(".table-responsive");
    Array.prototype.forEach.call(boxes, function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute("tabindex")) {
          box.setAttribute("tabindex", "0");
          box.setAttribute("data-scroll-focus", "");
          if (!box.hasAttribute("role") && !box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby")) {
            box.setAttribute("role", "region");
            box.setAttribute("aria-label", nameOf(box));
          }
        }
      } else if (box.hasAttribute("data-scroll-focus")) {
        ["tabindex", "data-scroll-focus", "role", "aria-label"].forEach(function (name) {
          box.removeAttribute(name);
        });
      }
    });
  }

  function start() {
    setUpMenu();
    reachScrollables();
    var pending = false;
    window.addEventListener("resize", function () {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        reachScrollables();
      });
    });
    document.body.addEventListener("htmx:load", reachScrollables);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
