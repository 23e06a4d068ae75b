/* The optimizer preview's small map (ui/dispatcher_ui/routes/preview_map.py, payload from
 * dispatcher/maps/optimize_preview.py): every vehicle's route in its own colour, as proposed
 * or as it is now (or both, the current one dashed), with the stops that move marked — a
 * thick dark ring when the stop changes vehicle, a thin one when only its place changes.
 * Numbers are drawn for one vehicle at a time (the row picked in the dialog's table) or for
 * every stop on a small day; a whole fleet shows dots, as numbers there would cover each other.
 * Strings from the database reach the DOM through textContent only.
 */
(function () {
  "use strict";

  const NUMBERS_MAX = 80; // stops drawn with numbers when no vehicle is picked
  const P = { map: null, data: null, layer: null, mode: "after", focus: null, legend: null,
    counts: { routes: 0, stops: 0, numbered: 0, moved: 0, unassigned: 0 } };
  window.OptimizePreview = P;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  P.init = function (map, data) {
    P.map = map;
    P.data = data;
    P.renderer = L.canvas({ padding: 0.5 });
    P.layer = L.layerGroup().addTo(map);
    const Legend = L.Control.extend({
      options: { position: "topright" },
      onAdd: function () {
        P.legend = el("div", "op-legend");
        L.DomEvent.disableClickPropagation(P.legend);
        L.DomEvent.disableScrollPropagation(P.legend);
        return P.legend;
      },
    });
    new Legend().addTo(map);
    map.on("zoomend", spread);
    P.draw();
    P.fit();
  };

  function vehicle(id) {
    return P.data.vehicles.find(function (v) { return v.id === id; }) || null;
  }

  function routeOf(v, mode) {
    return mode === "before" ? v.before : v.after;
  }

  function path(v, stops) {
    const pts = [v.start];
    for (const i of stops) pts.push([P.data.stops[i][0], P.data.stops[i][1]]);
    if (v.end) pts.push(v.end);
    return pts;
  }

  function tip(s, title) {
    const box = el("div", "op-tip");
    box.appendChild(el("div", "op-tip-title", title));
    if (s[3]) box.appendChild(el("div", null, s[3]));
    if (s[4]) box.appendChild(el("div", "op-tip-dim", s[4]));
    const when = [];
    if (s[7]) when.push("now " + s[7]);
    if (s[8]) when.push("proposed " + s[8]);
    if (when.length) box.appendChild(el("div", null, "ETA " + when.join(" → ")));
    if (s[5] === 2) box.appendChild(el("div", "op-tip-moved", "changes vehicle"));
    else if (s[5] === 1) box.appendChild(el("div", "op-tip-moved", "new place in the route"));
    if (s[6]) box.appendChild(el("div", "op-tip-late", "late in the proposal"));
    if (s[9]) box.appendChild(el("div", "op-tip-dim", "done"));
    return box;
  }

  function addStop(s, number, v, numbered) {
    const title = (number ? "#" + number + " " : "") + s[2] + " · " + v.name;
    let marker;
    if (numbered) {
      const cls = "op-stop" + (s[5] === 2 ? " op-moved-vehicle" : s[5] === 1 ? " op-moved-place" : "")
        + (s[6] ? " op-late" : "") + (s[9] ? " op-done" : "");
      const badge = el("div", cls, number);
      badge.style.background = s[9] ? "#9e9e9e" : v.colour;
      const icon = L.divIcon({ className: "op-stop-icon", html: badge, iconSize: [22, 22] });
      marker = L.marker([s[0], s[1]], { icon: icon, riseOnHover: true,
        zIndexOffset: s[5] ? 200 : 100 });
      P.counts.numbered += 1;
    } else {
      marker = L.circleMarker([s[0], s[1]], {
        renderer: P.renderer,
        radius: s[5] ? 6 : 4,
        color: s[5] === 2 ? "#111" : s[5] === 1 ? "#444" : "#fff",
        weight: s[5] === 2 ? 3 : s[5] === 1 ? 2 : 1,
        dashArray: s[5] === 1 ? "2 2" : null,
        fillColor: s[6] ? "#e5484d" : s[9] ? "#9e9e9e" : v.colour,
        fillOpacity: 0.95,
      });
    }
    marker.bindTooltip(tip(s, title), { direction: "top", offset: [0, -8] });
    marker.addTo(P.layer);
    P.counts.stops += 1;
    if (s[5]) P.counts.moved += 1;
  }

  function addStart(v, faint) {
    const box = el("div", "op-start");
    box.style.borderColor = v.colour;
    const icon = L.divIcon({ className: "op-start-icon", html: box, iconSize: [14, 14] });
    const marker = L.marker(v.start, { icon: icon, opacity: faint ? 0.3 : 1, zIndexOffset: 50 });
    marker.bindTooltip(el("span", null, v.name + " starts here"), { direction: "top" });
    marker.addTo(P.layer);
  }

  P.draw = function () {
    if (!P.map) return;
    P.layer.clearLayers();
    P.counts = { routes: 0, stops: 0, numbered: 0, moved: 0, unassigned: 0 };
    const main = P.mode === "before" ? "before" : "after";
    const total = P.data.vehicles.reduce(function (n, v) { return n + routeOf(v, main).length; }, 0);
    for (const v of P.data.vehicles) {
      const faint = P.focus !== null && P.focus !== v.id;
      if (P.mode === "both") {
        L.polyline(path(v, v.before), { color: v.colour, weight: 2, opacity: faint ? 0.1 : 0.6,
          dashArray: "6 6", interactive: false }).addTo(P.layer);
      }
      const stops = routeOf(v, main);
      L.polyline(path(v, stops), { color: v.colour, weight: faint ? 2 : 4,
        opacity: faint ? 0.15 : 0.85, interactive: false }).addTo(P.layer);
      P.counts.routes += 1;
      addStart(v, faint);
      if (faint) continue;
      const numbered = P.focus === v.id || total <= NUMBERS_MAX;
      stops.forEach(function (i, k) { addStop(P.data.stops[i], k + 1, v, numbered); });
    }
    for (const i of P.data.unassigned[main]) {
      const s = P.data.stops[i];
      const icon = L.divIcon({ className: "op-unassigned-icon", html: el("div", "op-unassigned"),
        iconSize: [16, 16] });
      const marker = L.marker([s[0], s[1]], { icon: icon, zIndexOffset: 150 });
      marker.bindTooltip(tip(s, s[2] + " · unassigned"), { direction: "top", offset: [0, -8] });
      marker.addTo(P.layer);
      P.counts.unassigned += 1;
    }
    legend();
    spread();
  };

  function legend() {
    const box = P.legend;
    if (!box) return;
    box.replaceChildren();
    const titles = { after: "Proposed routes", before: "Current routes",
      both: "Proposed (solid) and current (dashed)" };
    box.appendChild(el("div", "op-legend-title", titles[P.mode]));
    const list = el("div", "op-legend-list" + (P.data.vehicles.length > 6 ? " op-legend-two" : ""));
    for (const v of P.data.vehicles) {
      const row = el("div", "op-legend-row" + (P.focus === v.id ? " op-legend-on" : ""));
      const swatch = el("span", "op-swatch");
      swatch.style.background = v.colour;
      row.appendChild(swatch);
      row.appendChild(el("span", "op-legend-name", v.name));
      row.title = v.name + ": " + (v.changes || "") + " (click: show only this vehicle)";
      L.DomEvent.on(row, "click", function () { P.setFocus(P.focus === v.id ? null : v.id); });
      list.appendChild(row);
    }
    box.appendChild(list);
    const keys = el("div", "op-legend-keys");
    const ring = el("div", "op-legend-row");
    ring.appendChild(el("span", "op-key op-key-vehicle"));
    ring.appendChild(el("span", null, "changes vehicle"));
    const place = el("div", "op-legend-row");
    place.appendChild(el("span", "op-key op-key-place"));
    place.appendChild(el("span", null, "new place in its route"));
    keys.appendChild(ring);
    keys.appendChild(place);
    if (P.data.stops.some(function (s) { return s[6]; })) {
      const late = el("div", "op-legend-row");
      late.appendChild(el("span", "op-key op-key-late"));
      late.appendChild(el("span", null, "late in the proposal"));
      keys.appendChild(late);
    }
    if (P.data.unassigned.after.length || P.data.unassigned.before.length) {
      const pool = el("div", "op-legend-row");
      pool.appendChild(el("span", "op-key op-key-unassigned"));
      pool.appendChild(el("span", null, "unassigned"));
      keys.appendChild(pool);
    }
    box.appendChild(keys);
  }

  // Nearby stops' badges are spread apart as on the live map (spread.js, shared).
  function spread() {
    const items = [];
    P.layer.eachLayer(function (marker) {
      const box = marker.getElement && marker.getElement() && marker.getElement().firstChild;
      if (box && box.classList && box.classList.contains("op-stop")) items.push([marker, box]);
    });
    DispatcherSpread.apply(P.map, items);
  }

  P.setMode = function (mode) {
    P.mode = mode === "before" || mode === "both" ? mode : "after";
    P.draw();
    P.fit();
  };

  P.setFocus = function (id) {
    P.focus = id && vehicle(id) ? id : null;
    P.draw();
    P.fit();
  };

  P.fit = function () {
    P.map.invalidateSize({ pan: false }); // the dialog may have resized the view meanwhile
    const pts = [];
    const shown = P.focus === null ? P.data.vehicles : [vehicle(P.focus)];
    for (const v of shown) {
      pts.push(v.start);
      const stops = P.mode === "both" ? v.before.concat(v.after) : routeOf(v, P.mode);
      for (const i of stops) pts.push([P.data.stops[i][0], P.data.stops[i][1]]);
    }
    if (P.focus === null) {
      const pool = P.data.unassigned[P.mode === "before" ? "before" : "after"];
      for (const i of pool) pts.push([P.data.stops[i][0], P.data.stops[i][1]]);
    }
    if (pts.length) P.map.fitBounds(L.latLngBounds(pts), { padding: [56, 56], maxZoom: 16, animate: false });
    spread();
  };

  // JSON text: what QtWebEngine hands back to Python is then one plain string.
  P.summary = function () {
    return JSON.stringify({ mode: P.mode, focus: P.focus, routes: P.counts.routes, stops: P.counts.stops,
      numbered: P.counts.numbered, moved: P.counts.moved, unassigned: P.counts.unassigned });
  };
})();
