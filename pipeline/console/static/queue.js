// The review queue: pick every row of the page at once, and show how many are picked.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("select-all");
  var count = document.getElementById("selected-count");
  var rows = function () { return Array.from(document.querySelectorAll("input.pick-row")); };
  var show = function () {
    if (count) {
      count.textContent = count.getAttribute("data-label") + " " + rows().filter(function (r) { return r.checked; }).length;
    }
  };
  if (all) {
    all.addEventListener("change", function () {
      rows().forEach(function (r) { r.checked = all.checked; });
      show();
    });
  }
  rows().forEach(function (r) { r.addEventListener("change", show); });
  show();
});
