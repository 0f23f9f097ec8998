// ClaimWatch console: small helpers shared by every page (no inline scripts: the CSP forbids them).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Keep the chosen language when following the language switch on pages with a query string.
  var sw = document.getElementById("lang-switch");
  if (sw) {
    var params = new URLSearchParams(window.location.search);
    params.set("lang", new URLSearchParams(sw.getAttribute("href").slice(1)).get("lang"));
    sw.setAttribute("href", "?" + params.toString());
  }
});
