/* The printable agreement page: buttons marked [data-print] open the browser's print dialog
 * (where "Save as PDF" makes the PDF copy). Without JavaScript the page prints all the same. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var el = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (el) {
      window.print();
    }
  });
})();
