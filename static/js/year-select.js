/* The year selector (templates/partials/year_select.html): choosing a year reloads the page for it.
   The 查看 button stays for keyboards and for browsers without JavaScript; with JavaScript it is hidden. */
(function () {
  "use strict";
  function ready() {
    document.querySelectorAll("select[data-year-select]").forEach(function (select) {
      if (select.dataset.yearSelectBound) return;
      select.dataset.yearSelectBound = "1";
      var button = select.form && select.form.querySelector(".year-select-go");
      if (button) button.hidden = true;
      select.addEventListener("change", function () {
        if (select.form.requestSubmit) select.form.requestSubmit();
        else select.form.submit();
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
