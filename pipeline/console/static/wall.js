// The live wall: one card per room, riskiest first (the server orders them). The whole wall comes
// again over server-sent events (/live/events/wall) whenever it changes; the time since each
// room's last audio is counted here between events. A new high-severity hit marks its card, shows
// a banner with the count, prefixes the tab's title and, when the officer turned sound on, beeps.
// No inline script (the CSP forbids them): the first wall is read from #wall-data.
"use strict";
(function () {
  var wall = document.getElementById("wall");
  var template = document.getElementById("wall-card-template");
  var data = document.getElementById("wall-data");
  if (!wall || !template || !data) { return; }
  var banner = document.getElementById("wall-alert");
  var bannerText = document.getElementById("wall-alert-text");
  var soundButton = document.getElementById("wall-sound");
  var title = document.title;
  var SOUND_KEY = "claimwatch.wall.sound";
  var first = JSON.parse(data.textContent);
  var skew = first.now - Date.now() / 1000; // the server's clock minus ours
  var previous = byStream(first.rooms);
  var alerts = 0;
  var audio = null;

  function byStream(rooms) {
    var map = {};
    rooms.forEach(function (r) { map[r.stream_id] = r; });
    return map;
  }

  function ago(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) { return wall.dataset.agoS.replace("{n}", s); }
    if (s < 3600) { return wall.dataset.agoM.replace("{n}", Math.floor(s / 60)); }
    return wall.dataset.agoH.replace("{n}", Math.floor(s / 3600));
  }

  function field(card, name) { return card.querySelector('[data-f="' + name + '"]'); }

  function fillHit(slot, hit) {
    slot.textContent = "";
    if (!hit) { slot.textContent = slot.dataset.none; return; }
    var link = document.createElement("a");
    link.className = "hit-link";
    link.href = "/violations/" + encodeURIComponent(hit.event_id);
    link.textContent = hit.time.slice(11);
    var sev = document.createElement("span");
    sev.className = "sev sev-" + hit.severity;
    sev.textContent = hit.severity_text;
    var category = document.createElement("span");
    category.className = "hit-category" + (hit.off_card ? " hit-offcard" : "");
    category.textContent = hit.category;
    var text = document.createElement("q");
    text.className = "hit-text";
    text.textContent = hit.text;
    [link, sev, category, text].forEach(function (part, i) {
      if (i) { slot.appendChild(document.createTextNode(" ")); }
      slot.appendChild(part);
    });
  }

  function fill(card, r) {
    var alerted = card.classList.contains("alert");
    card.className = "room state-" + r.state + (alerted ? " alert" : "");
    card.dataset.stream = r.stream_id;
    var state = field(card, "state");
    state.textContent = r.state_text;
    if (r.detail) { state.title = r.detail; } else { state.removeAttribute("title"); }
    field(card, "anchor").textContent = r.anchor_id;
    field(card, "mcn").textContent = r.mcn_id;
    var product = field(card, "product");
    product.textContent = r.product || product.dataset.none;
    ["high", "medium", "low"].forEach(function (s) {
      var count = field(card, "count-" + s);
      count.querySelector("b").textContent = r.counts[s];
      count.classList.toggle("some", r.counts[s] > 0);
    });
    fillHit(field(card, "hit"), r.last_hit);
    var heard = field(card, "audio");
    if (r.last_audio === null) {
      delete heard.dataset.at;
      heard.textContent = r.last_audio_text;
    } else {
      heard.dataset.at = r.last_audio;
    }
  }

  function isNewHigh(r, before) {
    var hit = r.last_hit;
    var newHit = hit && hit.severity === "high" &&
      (!before || !before.last_hit || before.last_hit.event_id !== hit.event_id);
    return Boolean(newHit || (before && r.counts.high > before.counts.high));
  }

  function render(view) {
    skew = view.now - Date.now() / 1000;
    var cards = {};
    wall.querySelectorAll("article.room").forEach(function (c) { cards[c.dataset.stream] = c; });
    var fresh = 0;
    var kept = {};
    view.rooms.forEach(function (r) {
      var card = cards[r.stream_id] || template.content.firstElementChild.cloneNode(true);
      fill(card, r);
      if (isNewHigh(r, previous[r.stream_id])) {
        card.classList.add("alert");
        fresh += 1;
      }
      kept[r.stream_id] = true;
      wall.appendChild(card); // in the server's order: riskiest first
    });
    Object.keys(cards).forEach(function (id) { if (!kept[id]) { cards[id].remove(); } });
    var empty = wall.querySelector(".wall-empty");
    if (view.rooms.length && empty) { empty.remove(); }
    if (!view.rooms.length && !empty) {
      empty = document.createElement("p");
      empty.className = "muted wall-empty";
      empty.textContent = wall.dataset.empty;
      wall.appendChild(empty);
    }
    previous = byStream(view.rooms);
    tick();
    if (fresh) { alert(fresh); }
  }

  function tick() {
    var now = Date.now() / 1000 + skew;
    wall.querySelectorAll('[data-f="audio"][data-at]').forEach(function (e) {
      e.textContent = ago(now - Number(e.dataset.at));
    });
  }

  function alert(count) {
    alerts += count;
    wall.dataset.alerts = String(alerts);
    if (banner) {
      bannerText.textContent = banner.dataset.text.replace("{n}", alerts);
      banner.hidden = false;
    }
    document.title = "(" + alerts + ") " + title;
    beep();
  }

  function acknowledge() {
    alerts = 0;
    wall.dataset.alerts = "0";
    if (banner) { banner.hidden = true; }
    document.title = title;
    wall.querySelectorAll("article.room.alert").forEach(function (c) { c.classList.remove("alert"); });
  }

  function soundOn() { return window.localStorage && localStorage.getItem(SOUND_KEY) === "1"; }

  function beep() {
    if (!audio || !soundOn()) { return; }
    [0, 0.3].forEach(function (at) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, audio.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + at);
      osc.stop(audio.currentTime + at + 0.25);
    });
  }

  function showSound() {
    soundButton.textContent = soundOn() ? soundButton.dataset.off : soundButton.dataset.on;
  }

  var Context = window.AudioContext || window.webkitAudioContext;
  if (soundButton && Context) {
    soundButton.hidden = false;
    showSound();
    // Browsers let a page play sound only after a gesture: the click that turns it on (or any
    // click on the page, when it was left on) starts the audio context.
    document.addEventListener("click", function () {
      if (!audio && soundOn()) { audio = new Context(); }
    });
    soundButton.addEventListener("click", function () {
      localStorage.setItem(SOUND_KEY, soundOn() ? "0" : "1");
      if (soundOn()) {
        audio = audio || new Context();
        audio.resume();
        beep();
      }
      showSound();
    });
  }
  var ack = document.getElementById("wall-ack");
  if (ack) { ack.addEventListener("click", acknowledge); }
  wall.addEventListener("click", function (event) {
    var card = event.target.closest && event.target.closest("article.room");
    if (card) { card.classList.remove("alert"); }
  });

  setInterval(tick, 1000);
  tick();
  if (!window.EventSource) { return; }
  var source = new EventSource("/live/events/wall");
  source.addEventListener("wall", function (event) { render(JSON.parse(event.data)); });
})();
