/* Every page: a form that is being sent says so and cannot be sent again by a second tap.
 *
 * On submit of a POST form (not one htmx sends, and not one marked data-no-busy) its submit buttons are
 * disabled and show a spinner and "正在提交…" (or the button's data-busy-text) until the answer arrives. The
 * buttons are disabled a tick after the submit event, so the button that was pressed still sends its
 * name and value. Coming back with the back button (pageshow from the page cache) enables them again.
 * htmx requests get the same on the element that sends them. The server's one-time key
 * (bazhou.core.submissions) covers the rest: a form sent twice anyway is acted on once.
 */
(function () {
  "use strict";

  var BUSY = "正在提交…";

  function buttonsOf(form) {
    var inside = Array.prototype.slice.call(
      form.querySelectorAll('button:not([type]), button[type="submit"], input[type="submit"]')
    );
    var outside = form.id
      ? Array.prototype.slice.call(document.querySelectorAll('[form="' + form.id + '"][type="submit"]'))
      : [];
    return inside.concat(outside);
  }

  function busy(button) {
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.setAttribute("data-busy", "");
    if (button.tagName === "INPUT") {
      button.setAttribute("data-label", button.value);
      button.value = button.getAttribute("data-busy-text") || BUSY;
      return;
    }
    button.setAttribute("data-label", button.innerHTML);
    var spinner = document.createElement("span");
    spinner.className = "spinner-border spinner-border-sm me-1";
    spinner.setAttribute("aria-hidden", "true");
    button.textContent = " " + (button.getAttribute("data-busy-text") || BUSY);
    button.insertBefore(spinner, button.firstChild);
  }

  function idle(button) {
    if (!button.hasAttribute("data-busy")) return;
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.removeAttribute("data-busy");
    var label = button.getAttribute("data-label");
    if (label !== null) {
      if (button.tagName === "INPUT") button.value = label;
      else button.innerHTML = label;
      button.removeAttribute("data-label");
    }
  }

  function isPost(form) {
    return (form.getAttribute("method") || "get").toLowerCase() === "post";
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !isPost(form) || form.hasAttribute("data-no-busy")) return;
    if (form.hasAttribute("hx-post") || form.hasAttribute("data-hx-post")) return; // htmx: see below
    if (form.hasAttribute("data-sending")) {
      event.preventDefault(); // a second tap while the first is on its way
      return;
    }
    if (event.defaultPrevented) return;
    form.setAttribute("data-sending", "");
    window.setTimeout(function () {
      buttonsOf(form).forEach(busy);
    }, 0);
  });

  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      form.removeAttribute("data-sending");
      buttonsOf(form).forEach(idle);
    });
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt instanceof HTMLFormElement && !elt.hasAttribute("data-no-busy")) buttonsOf(elt).forEach(busy);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt instanceof HTMLFormElement && document.body.contains(elt)) buttonsOf(elt).forEach(idle);
  });
})();
