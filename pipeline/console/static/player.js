// The violation page's player (no inline scripts: the CSP forbids them). The clip starts at the
// claim (data-hit-s, seconds into the clip); the timeline under the player marks where the claim
// was said and follows playback; a click on the timeline or on a transcript line (data-at-s)
// seeks there. Without this script the clip still starts at the claim (#t= in its address).
"use strict";
(function () {
  var box = document.getElementById("player");
  var audio = document.getElementById("clip");
  if (!box || !audio) { return; }
  var hitS = parseFloat(box.getAttribute("data-hit-s")) || 0;
  var hitEndS = parseFloat(box.getAttribute("data-hit-end-s")) || hitS;
  var timeline = document.getElementById("clip-timeline");
  var marker = document.getElementById("claim-marker");
  var head = document.getElementById("timeline-head");
  var started = false;

  function percent(s) {
    var d = audio.duration;
    if (!isFinite(d) || d <= 0) { return null; }
    return Math.max(0, Math.min(100, 100 * s / d));
  }

  function place() {  // the marker, where the clip really holds the claim (its real duration)
    var from = percent(hitS), to = percent(hitEndS);
    if (marker && from !== null) {
      marker.style.left = from + "%";
      marker.style.width = Math.max(0.6, to - from) + "%";
    }
    follow();
  }

  function follow() {
    var at = percent(audio.currentTime);
    if (head && at !== null) { head.style.left = at + "%"; }
  }

  function seek(s) {
    audio.currentTime = Math.max(0, s);
    follow();
  }

  function start() {  // once the clip can be seeked (its ranges fetched), go to the claim once
    place();
    if (!started && audio.seekable.length > 0) {
      started = true;
      if (Math.abs(audio.currentTime - hitS) > 0.25) { seek(hitS); }
    }
  }

  ["loadedmetadata", "durationchange", "canplay", "progress"].forEach(function (name) {
    audio.addEventListener(name, start);
  });
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("seeked", follow);
  if (audio.readyState >= 1) { start(); }

  if (timeline) {
    timeline.addEventListener("click", function (event) {
      var box = timeline.getBoundingClientRect();
      if (isFinite(audio.duration) && box.width > 0) {
        seek(audio.duration * (event.clientX - box.left) / box.width);
      }
    });
  }

  document.querySelectorAll("#transcript tr[data-at-s]").forEach(function (row) {
    function go() {
      seek(parseFloat(row.getAttribute("data-at-s")) || 0);
      document.querySelectorAll("#transcript tr.playing").forEach(function (r) { r.classList.remove("playing"); });
      row.classList.add("playing");
    }
    row.addEventListener("click", go);
    row.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); go(); }
    });
  });
})();
