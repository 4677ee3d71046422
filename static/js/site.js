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

/* Every page: an htmx request that fails says so.
 *
 * htmx swaps nothing when the answer is an error (4xx/5xx) or when no answer comes (offline, server down): without
 * this the user sees the spinner stop and nothing else, and may believe the save went through. The alert region of
 * base.html ([data-testid="htmx-error"], role="alert") then shows the server's own message when the answer carries
 * one — an error page's [data-error-message] (400, 403, 404, 413, 429, 500, 503: templates/4xx.html, 5xx.html) or
 * an API body's "detail" — else a sentence for the status; "网络连接失败，请检查网络后重试" when nothing came back.
 * The next htmx request hides it again; its × closes it. Failure pages' 上一页 buttons go back in history.
 */
(function () {
  "use strict";

  var OFFLINE = "网络连接失败，请检查网络后重试。本次操作没有保存。";
  var BY_STATUS = {
    400: "提交的内容有误，本次操作没有保存。请刷新页面后重试。",
    403: "您无权执行这个操作，或页面已过期。请刷新页面后重试。",
    404: "要操作的记录不存在，或不在您的管理范围内。",
    409: "这条记录正在被处理或已被修改。请刷新页面查看最新内容。",
    413: "提交的内容太大，本次操作没有保存。",
    429: "操作太频繁，请稍等片刻后再试。",
    503: "系统暂时无法使用，本次操作没有保存。请稍等片刻后重试。"
  };
  var SERVER = "服务器出错，本次操作没有保存。请稍后重试；如果一再出现，请联系系统管理员。";

  function region() {
    return document.querySelector('[data-testid="htmx-error"]');
  }

  function show(text) {
    var box = region();
    if (!box) {
      window.alert(text);
      return;
    }
    box.querySelector("[data-htmx-error-text]").textContent = text;
    box.hidden = false;
    if (box.scrollIntoView && box.getBoundingClientRect().top < 0) box.scrollIntoView({ block: "nearest" });
  }

  function hide() {
    var box = region();
    if (box) box.hidden = true;
  }

  function serverMessage(xhr) {
    var text = (xhr && xhr.responseText) || "";
    if (!text) return "";
    var type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
    try {
      if (type.indexOf("json") !== -1) {
        var body = JSON.parse(text);
        return body && typeof body.detail === "string" ? body.detail : "";
      }
      if (type.indexOf("html") !== -1) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var found =
          doc.querySelector("[data-error-message]") || doc.querySelector("main .alert:not(.htmx-error)");
        return found ? found.textContent.replace(/\s+/g, " ").trim() : "";
      }
    } catch (ignored) {
      return "";
    }
    return "";
  }

  function fallback(status) {
    if (BY_STATUS[status]) return BY_STATUS[status];
    if (status >= 500) return SERVER;
    return "操作没有完成（错误 " + status + "），本次操作没有保存。请刷新页面后重试。";
  }

  // A new request the user made (a click, a submit: a trusted event) hides the last message; polling does not.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var config = event.detail && event.detail.requestConfig;
    var trigger = config && config.triggeringEvent;
    if (trigger && trigger.isTrusted) hide();
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail && event.detail.xhr;
    var status = xhr ? xhr.status : 0;
    show(serverMessage(xhr) || fallback(status));
  });
  document.addEventListener("htmx:sendError", function () {
    show(OFFLINE);
  });
  document.addEventListener("htmx:timeout", function () {
    show(OFFLINE);
  });

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest("[data-htmx-error-close]")) {
      hide();
      return;
    }
    if (target.closest("[data-history-back]")) {
      if (window.history.length > 1) window.history.back();
      else window.location.href = "/";
    }
  });
})();
