// Numbered badges of nearby stops would cover each other: each badge that would overlap one
// already placed moves to the nearest free spot around its stop (rings of 8, 16 and 24 spots,
// 23 px apart). The live map (bridge.js) and the optimize preview (preview.js) both use it, so
// a stop's badge sits in the same place on both.
(function () {
  "use strict";
  const SPREAD = [[0, 0]];
  for (const ring of [1, 2, 3]) {
    for (let k = 0; k < 8 * ring; k++) {
      const a = (k / (8 * ring)) * Math.PI * 2 - Math.PI / 2;
      SPREAD.push([Math.round(Math.cos(a) * 23 * ring), Math.round(Math.sin(a) * 23 * ring)]);
    }
  }

  // points: [[x, y], …] in container pixels, in placing order; returns one [dx, dy] each.
  function offsets(points) {
    const placed = [];
    return points.map(function (p) {
      let off = SPREAD[0];
      for (const c of SPREAD) {
        const x = p[0] + c[0];
        const y = p[1] + c[1];
        if (!placed.some(function (q) { return Math.abs(q[0] - x) < 22 && Math.abs(q[1] - y) < 22; })) {
          off = c;
          break;
        }
      }
      placed.push([p[0] + off[0], p[1] + off[1]]);
      return off;
    });
  }

  // Moves each badge element by its offset; true where it moved (the caller may mark it).
  function apply(map, markersAndBoxes) {
    const pts = markersAndBoxes.map(function (mb) {
      const p = map.latLngToContainerPoint(mb[0].getLatLng());
      return [p.x, p.y];
    });
    return offsets(pts).map(function (off, i) {
      const box = markersAndBoxes[i][1];
      const moved = !!(off[0] || off[1]);
      box.style.transform = moved ? "translate(" + off[0] + "px," + off[1] + "px)" : "";
      return moved;
    });
  }

  window.DispatcherSpread = { offsets: offsets, apply: apply };
})();
