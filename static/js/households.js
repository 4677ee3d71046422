/* The household list: an ID number typed into the name/number search box (a GET form) is searched through
   the ID-number form (a POST) instead, so it never lands in the address bar, the browser history or a log.
   Listens in the capture phase, before htmx sees the change or the submit of the filter form. */
(function () {
  "use strict";

  var ID_NUMBER = /[0-9]{17}[0-9Xx]/;
  var leaving = false; // the ID-number search is on its way: the filter form sends nothing more

  function guard(event) {
    var target = event.target;
    var form = target && (target.form || (target.tagName === "FORM" ? target : null));
    if (!form || form.id === "id-number-search" || !form.elements.namedItem("q")) {
      return;
    }
    var q = form.elements.namedItem("q");
    var match = ID_NUMBER.exec(q.value);
    var idForm = document.getElementById("id-number-search");
    if (!leaving && (!match || !idForm)) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    if (leaving) {
      return;
    }
    leaving = true;
    q.value = "";
    idForm.elements.namedItem("id_number").value = match[0];
    if (typeof idForm.requestSubmit === "function") {
      idForm.requestSubmit();
    } else {
      idForm.submit();
    }
  }

  document.addEventListener("change", guard, true);
  document.addEventListener("submit", guard, true);
  // Back from the results (the page restored from the browser's cache): filtering works again.
  window.addEventListener("pageshow", function () {
    leaving = false;
  });
})();
