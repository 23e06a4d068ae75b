// The tracking page's updates: listen on the order's stream (server-sent events), or poll
// its status when the browser or the server cannot stream; show the van once it is near.
// Values are written with textContent only (never HTML), so nothing a name or an
// instruction contains can run. The map has no tiles from the internet: the van, the
// customer's address and the line between them on a plain background.
(function () {
  "use strict";
  var box = document.getElementById("status");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var streamUrl = box.getAttribute("data-stream-url");
  var every = Math.max(1, parseFloat(box.getAttribute("data-poll") || "15")) * 1000;
  var map = null, van = null, home = null, line = null;

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value || ""; }
  }
  function show(id, on) {
    var el = document.getElementById(id);
    if (el) { el.hidden = !on; }
  }
  function icon(cls) {
    return L.divIcon({ className: cls, iconSize: [18, 18], iconAnchor: [9, 9] });
  }
  function drawMap(v) {
    show("map-card", !!v.van);
    if (!v.van || typeof L === "undefined") { return; }
    if (!map) {
      map = L.map("map", { attributionControl: false, zoomControl: true });
      van = L.marker(v.van, { icon: icon("van-icon"), title: "Your driver" }).addTo(map);
      if (v.home) {
        home = L.marker(v.home, { icon: icon("home-icon"), title: "Your address" }).addTo(map);
        line = L.polyline([v.van, v.home], { color: "#5f6b7a", dashArray: "4 6" }).addTo(map);
      }
    } else {
      van.setLatLng(v.van);
      if (line && v.home) { line.setLatLngs([v.van, v.home]); }
    }
    var pts = v.home ? [v.van, v.home] : [v.van];
    map.invalidateSize();
    map.fitBounds(L.latLngBounds(pts).pad(0.4), { maxZoom: 16 });
    document.body.setAttribute("data-van", "shown");
  }
  function apply(v) {
    // Delivered (or failed) while the page was open: load it again once, for the feedback
    // step's form (it carries its own CSRF token, so it is rendered by the server).
    if (v.ask_feedback && !document.getElementById("feedback") &&
        !document.getElementById("feedback-done")) {
      window.location.reload();
      return;
    }
    setText("headline", v.headline);
    setText("eta", v.eta_window);
    show("eta-line", !!v.eta_window);
    setText("position", v.position_text);
    setText("window", v.window);
    show("window-line", !!v.window);
    setText("delivered-at", v.delivered_at);
    show("delivered-line", !!v.delivered_at);
    setText("failure", v.failure_reason);
    show("failure-line", !!v.failure_reason);
    setText("instructions", v.instructions);
    show("instructions-line", !!v.instructions);
    if (!v.may_change) { show("actions", false); }
    drawMap(v);
  }
  var polling = false;
  function poll() {
    polling = true;
    fetch(url, { cache: "no-store", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (v) { if (v) { apply(v); } })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  function listen() {
    var source = new EventSource(streamUrl);
    document.body.setAttribute("data-updates", "stream");
    source.addEventListener("view", function (e) {
      try { apply(JSON.parse(e.data)); } catch (err) { /* a bad event: wait for the next */ }
    });
    source.addEventListener("gone", function () {
      // The link expired or the order is gone: stop listening; a reload says so.
      source.close();
      document.body.setAttribute("data-updates", "gone");
    });
    source.onerror = function () {
      // The browser reconnects by itself after a dropped stream; when it gave up (the
      // server refused: too many open pages, or the link is no longer valid), poll.
      if (source.readyState === EventSource.CLOSED && !polling) {
        document.body.setAttribute("data-updates", "poll");
        window.setTimeout(poll, every);
      }
    };
  }
  if (streamUrl && typeof window.EventSource === "function") {
    listen();
  } else {
    document.body.setAttribute("data-updates", "poll");
    poll();
  }
})();
