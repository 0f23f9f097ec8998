// Live violations: new rows arrive as server-sent events (EventSource reconnects by itself and
// resumes from the last event id).
"use strict";
(function () {
  var body = document.getElementById("violation-rows");
  var template = document.getElementById("row-template");
  var status = document.getElementById("live-status");
  if (!body || !template || !window.EventSource) { return; }
  var source = new EventSource("/live/events");
  source.addEventListener("violation", function (event) {
    var v = JSON.parse(event.data);
    var row = template.content.firstElementChild.cloneNode(true);
    var cells = row.querySelectorAll("td");
    var link = cells[0].querySelector("a");
    link.textContent = v.time;
    link.setAttribute("href", "/violations/" + encodeURIComponent(v.event_id));
    [v.mcn_id, v.anchor_id, v.category, v.severity, v.term, v.text].forEach(function (text, i) {
      cells[i + 1].textContent = text;
    });
    row.classList.add("sev-" + v.severity_code);
    if (v.off_card) { row.classList.add("off-card"); }
    var empty = body.querySelector("tr.empty");
    if (empty) { empty.remove(); }
    body.insertBefore(row, body.firstChild);
    if (status) { status.textContent = v.time; }
  });
})();
