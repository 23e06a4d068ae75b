/* The live map's page side: vehicles, trails, clusters, the day's routes, the pool, depots.
 *
 * Python (ui/dispatcher_ui/map) builds the page with folium and then calls DispatcherMap.apply(batch) once
 * per UI tick with only what changed (see dispatcher/maps/feed.py for the batch format).
 * In replay (dispatcher/maps/replay.py) the same rows draw the fleet of the past under a
 * "REPLAY hh:mm:ss" banner; "reset" drops every vehicle shown before a batch applies.
 * Clicks go back through the QWebChannel object "bridge". Every string that came from a
 * device or the database reaches the DOM through textContent or canvas fillText — never
 * innerHTML — so a vehicle named "</script><img onerror=alert(1)>" is just a name.
 */
(function () {
  "use strict";

  const DM = {
    map: null,
    opts: null,
    renderer: null,
    bridge: null,
    vehicles: new Map(), // id -> {m: marker, row: last row, trail: [[t, lat, lon]], line}
    info: new Map(), // id -> [label, driver, next stop, eta, [exception titles]]
    selected: null,
    stopMarkers: new Map(),
    poolMarkers: new Map(), // unassigned stop id -> marker
    overview: new Map(), // vehicle id -> faint polyline of its day
    routeVehicle: null, // whose route is drawn strong (the selected one)
    follow: false,
    clustered: false,
    lastCluster: 0,
    applied: 0,
    replay: null, // the banner's time while a replay is shown, else null
    lastT: 0,
  };
  window.DispatcherMap = DM;

  const STATE_RANK = ["late", "at_risk", "offline", "stale", "coarse", "idle", "on_time", "unknown"];
  const LABEL_FONT = "bold 11px sans-serif";
  // One hue per route, so faint lines that cross can still be told apart.
  const ROUTE_HUES = ["#1e88e5", "#8e24aa", "#00897b", "#f4511e", "#3949ab", "#c0ca33",
    "#6d4c41", "#d81b60", "#00acc1", "#7cb342", "#5e35b1", "#fb8c00"];

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function colour(state) {
    const entry = DM.opts.palette[state] || DM.opts.palette.unknown;
    return entry[0];
  }

  // --- canvas drawing: a vehicle is a dot with a heading wedge and, zoomed in, a label ---
  const VehicleMarker = L.CircleMarker.extend({
    _updatePath: function () {
      this._renderer._updateVehicle(this);
    },
    // The canvas redraws only dirty rectangles: the label and heading wedge lie outside the
    // dot, so they count in the bounds or a moved label would leave its old text behind.
    _updateBounds: function () {
      L.CircleMarker.prototype._updateBounds.call(this);
      const o = this.options;
      const p = this._point;
      this._pxBounds.extend(p.subtract([this._radius + 10, this._radius + 10]));
      this._pxBounds.extend(p.add([this._radius + 10, this._radius + 10]));
      if (o.labelAt) {
        this._pxBounds.extend(p.add([o.labelAt[0] - 3, o.labelAt[1] - 13]));
        this._pxBounds.extend(p.add([o.labelAt[0] + o.labelW + 3, o.labelAt[1] + 5]));
      }
    },
  });
  const ClusterMarker = L.CircleMarker.extend({
    _updatePath: function () {
      this._renderer._updateCluster(this);
    },
  });

  L.Canvas.include({
    _updateVehicle: function (layer) {
      if (!this._drawing || layer._empty()) return;
      const p = layer._point;
      const ctx = this._ctx;
      const o = layer.options;
      const r = Math.max(Math.round(layer._radius), 1);
      if (o.heading !== null && o.heading !== undefined && r >= 5) {
        const a = ((o.heading - 90) * Math.PI) / 180;
        ctx.beginPath();
        ctx.moveTo(p.x + Math.cos(a) * (r + 9), p.y + Math.sin(a) * (r + 9));
        ctx.lineTo(p.x + Math.cos(a + 2.5) * r, p.y + Math.sin(a + 2.5) * r);
        ctx.lineTo(p.x + Math.cos(a - 2.5) * r, p.y + Math.sin(a - 2.5) * r);
        ctx.closePath();
        ctx.globalAlpha = 1;
        ctx.fillStyle = "#263238";
        ctx.fill();
      }
      ctx.beginPath();
      ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
      this._fillStroke(ctx, layer);
      if (o.alert) {
        ctx.beginPath();
        ctx.arc(p.x, p.y, r + 4, 0, Math.PI * 2, false);
        ctx.globalAlpha = 0.9;
        ctx.lineWidth = 2;
        ctx.setLineDash([3, 2]);
        ctx.strokeStyle = "#d50000";
        ctx.stroke();
        ctx.setLineDash([]);
      }
      if (o.label && o.labelAt) {
        const x = p.x + o.labelAt[0];
        const y = p.y + o.labelAt[1];
        ctx.globalAlpha = 1;
        ctx.font = LABEL_FONT;
        ctx.lineWidth = 3;
        ctx.strokeStyle = "rgba(255,255,255,0.9)";
        ctx.strokeText(o.label, x, y);
        ctx.fillStyle = "#212121";
        ctx.fillText(o.label, x, y);
      }
    },
    _updateCluster: function (layer) {
      if (!this._drawing || layer._empty()) return;
      const p = layer._point;
      const ctx = this._ctx;
      const r = Math.max(Math.round(layer._radius), 1);
      ctx.beginPath();
      ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
      this._fillStroke(ctx, layer);
      ctx.globalAlpha = 1;
      ctx.font = "bold 11px sans-serif";
      ctx.textAlign = "center";
      ctx.fillStyle = "#ffffff";
      ctx.fillText(String(layer.options.count), p.x, p.y + 4);
      ctx.textAlign = "start";
    },
  });

  // --- the "no tiles" background: a light grid, so an offline map is never a blank page ---
  const GridLayer = L.GridLayer.extend({
    createTile: function (coords) {
      const tile = document.createElement("canvas");
      const size = this.getTileSize();
      tile.width = size.x;
      tile.height = size.y;
      const ctx = tile.getContext("2d");
      ctx.fillStyle = "#f3f1ec";
      ctx.fillRect(0, 0, size.x, size.y);
      ctx.strokeStyle = "#d9d5cc";
      ctx.lineWidth = 1;
      ctx.strokeRect(0.5, 0.5, size.x, size.y);
      return tile;
    },
  });

  // --- init ---------------------------------------------------------------------------
  DM.init = function (map, opts) {
    DM.map = map;
    DM.opts = opts;
    DM.renderer = L.canvas({ padding: 0.1, tolerance: 4 });
    new GridLayer({ zIndex: 0, pane: "tilePane" }).addTo(map);
    // the day's routes lie under the vehicles and stops (their own pane, below overlays)
    map.createPane("dmOverview").style.zIndex = 350;
    DM.overviewRenderer = L.canvas({ pane: "dmOverview", padding: 0.1 });
    DM.overviewLayer = L.layerGroup().addTo(map);
    DM.unassignedLayer = L.layerGroup().addTo(map);
    DM.measure = document.createElement("canvas").getContext("2d");
    DM.measure.font = LABEL_FONT;
    DM.vehicleLayer = L.layerGroup().addTo(map);
    DM.trailLayer = L.layerGroup().addTo(map);
    DM.accuracyLayer = L.layerGroup().addTo(map); // circles of coarse fixes
    DM.clusterLayer = L.layerGroup().addTo(map);
    DM.staticLayer = L.layerGroup().addTo(map);
    DM.routeLayer = L.layerGroup().addTo(map);
    DM.tooltip = L.tooltip({ direction: "top", offset: [0, -8], className: "dm-tip" });
    addControls(map);
    DM.banner = el("div", "dm-replay");
    DM.banner.hidden = true;
    map.getContainer().appendChild(DM.banner);
    setStatic(opts.depots || [], opts.geofences || []);
    map.on("zoomend", onZoom);
    map.on("moveend", function () {
      if (DM.clustered) recluster(true);
      else layoutLabels();
      spreadStops();
    });
    map.on("dragstart", function () {
      setFollow(false);
    });
    // Until the dispatcher touches the map, keep the whole fleet in view as vehicles report in.
    DM.autoFit = !!opts.autoFit;
    DM.fittedCount = 0;
    const container = map.getContainer();
    for (const type of ["mousedown", "wheel", "keydown", "touchstart"]) {
      container.addEventListener(type, function () { DM.autoFit = false; }, { passive: true });
    }
    onZoom();
    connectBridge();
  };

  function connectBridge() {
    if (typeof QWebChannel === "undefined" || !window.qt || !qt.webChannelTransport) {
      DM.ready = true;
      return;
    }
    new QWebChannel(qt.webChannelTransport, function (channel) {
      DM.bridge = channel.objects.bridge;
      DM.ready = true;
      DM.bridge.pageReady();
    });
  }

  function addControls(map) {
    const Buttons = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        const box = el("div", "leaflet-bar dm-buttons");
        const fit = el("a", "dm-btn", "⤢");
        fit.title = "Fit to fleet (Ctrl+Shift+F)";
        fit.href = "#";
        const follow = el("a", "dm-btn", "◎");
        follow.title = "Follow the selected vehicle";
        follow.href = "#";
        DM.followButton = follow;
        L.DomEvent.on(fit, "click", function (e) {
          L.DomEvent.preventDefault(e);
          DM.fitFleet();
        });
        L.DomEvent.on(follow, "click", function (e) {
          L.DomEvent.preventDefault(e);
          setFollow(!DM.follow);
        });
        box.appendChild(fit);
        box.appendChild(follow);
        L.DomEvent.disableClickPropagation(box);
        return box;
      },
    });
    new Buttons().addTo(map);
    const Legend = L.Control.extend({
      options: { position: "bottomright" },
      onAdd: function () {
        const box = el("div", "dm-legend");
        for (const state of STATE_RANK) {
          const entry = DM.opts.palette[state];
          if (!entry || state === "unknown") continue;
          const row = el("div", "dm-legend-row");
          const dot = el("span", "dm-dot");
          dot.style.background = entry[0];
          row.appendChild(dot);
          row.appendChild(el("span", null, entry[1]));
          box.appendChild(row);
        }
        DM.countBox = el("div", "dm-legend-count", "");
        box.appendChild(DM.countBox);
        return box;
      },
    });
    new Legend().addTo(map);
  }

  function setStatic(depots, fences) {
    DM.staticLayer.clearLayers();
    for (const d of depots) {
      L.circle([d[0], d[1]], {
        radius: 250, color: "#37474f", weight: 2, dashArray: "6 4", fill: false,
      }).addTo(DM.staticLayer);
      const icon = L.divIcon({ className: "dm-depot", html: el("div", "dm-depot-box", "D"),
        iconSize: [20, 20] });
      L.marker([d[0], d[1]], { icon: icon, keyboard: false })
        .bindTooltip(el("span", null, d[2]))
        .addTo(DM.staticLayer);
    }
    for (const f of fences) {
      const style = { color: "#1565c0", weight: 2, dashArray: "4 4", fillOpacity: 0.05 };
      const shape = f.p ? L.polygon(f.p, style) : L.circle(f.c, Object.assign({ radius: f.r }, style));
      shape.bindTooltip(el("span", null, f.name)).addTo(DM.staticLayer);
    }
  }

  // --- per-tick batch -------------------------------------------------------------------
  DM.apply = function (batch) {
    const t0 = performance.now();
    if (batch.reset) clearVehicles();
    if (batch.replay !== undefined) setReplay(batch.replay);
    if (DM.replay && batch.t && (batch.t < DM.lastT || batch.t - DM.lastT > 60)) clearTrails();
    if (batch.t) DM.lastT = batch.t;
    if (batch.i) {
      for (const id in batch.i) {
        DM.info.set(id, batch.i[id]);
        const v = DM.vehicles.get(id);
        if (v) styleMarker(id, v);
      }
    }
    if (batch.v) {
      for (const row of batch.v) upsert(row, batch.t);
    }
    if (batch.rm) {
      for (const id of batch.rm) remove(id);
    }
    if (batch.depots || batch.fences) setStatic(batch.depots || [], batch.fences || []);
    if (batch.routes !== undefined) setOverview(batch.routes || []);
    if (batch.unassigned !== undefined) setUnassigned(batch.unassigned || []);
    if (batch.centre) DM.autoFit = false;
    if (batch.sel !== undefined) DM.select(batch.sel, !!batch.centre && batch.route === undefined);
    if (batch.route !== undefined) {
      setRoute(batch.route);
      if (batch.centre && batch.route) fitRoute(batch.route);
    }
    if (batch.focus !== undefined) focusStop(batch.focus);
    if (batch.t) trimTrails(batch.t);
    const dayChanged = batch.routes !== undefined || batch.unassigned !== undefined;
    if (DM.autoFit && !batch.centre && (DM.vehicles.size !== DM.fittedCount || dayChanged)) {
      DM.fittedCount = DM.vehicles.size;
      DM.fitFleet();
    }
    if (DM.clustered) recluster(false);
    else if (batch.v || batch.i || batch.rm || batch.sel !== undefined || batch.reset) {
      layoutLabels(true);
    }
    if (DM.countBox) {
      DM.countBox.textContent = DM.vehicles.size + " vehicles" +
        (DM.replay ? " · replay: green = reporting" : "");
    }
    DM.applied += 1;
    return performance.now() - t0; // the page's own share of the round trip, in ms
  };

  function trailsOn(id) {
    return DM.opts.trailMinutes > 0 &&
      (DM.vehicles.size <= DM.opts.trailAllMax || id === DM.selected);
  }

  function upsert(row, t) {
    const id = row[0];
    let v = DM.vehicles.get(id);
    const ll = [row[1], row[2]];
    if (!v) {
      const m = new VehicleMarker(ll, {
        renderer: DM.renderer, radius: radiusFor(DM.map.getZoom()), weight: 1.5,
        color: "#ffffff", fillOpacity: 0.95, opacity: 1, heading: row[3],
      });
      v = { m: m, row: row, trail: [], line: null };
      m.on("click", function () { onVehicleClick(id); });
      m.on("mouseover", function () { showTip(id); });
      m.on("mouseout", function () { DM.map.closeTooltip(DM.tooltip); });
      DM.vehicles.set(id, v);
      v.row = row;
      styleMarker(id, v);
      if (!DM.clustered) m.addTo(DM.vehicleLayer);
    } else {
      const restyle = v.row[4] !== row[4] || v.row[7] !== row[7];
      v.row = row;
      v.m.options.heading = row[3];
      if (restyle) styleMarker(id, v, true);
      v.m.setLatLng(ll); // one redraw for position, heading and style together
    }
    drawAccuracy(v, ll, row[8]);
    if (trailsOn(id) && !row[8]) {
      v.trail.push([t || 0, row[1], row[2]]);
      drawTrail(id, v);
    }
    if (id === DM.selected) {
      placeSelection(v);
      if (DM.follow) DM.map.panTo(ll, { animate: false });
    }
    if (DM.tipFor === id) showTip(id);
  }

  // A coarse fix (row[8]: accuracy radius in metres, else 0) is drawn with its circle.
  function drawAccuracy(v, ll, radius) {
    if (!radius) {
      if (v.acc) { DM.accuracyLayer.removeLayer(v.acc); v.acc = null; }
      return;
    }
    if (!v.acc) {
      v.acc = L.circle(ll, { radius: radius, color: "#78909c", weight: 1, dashArray: "4 4",
        fillOpacity: 0.08, interactive: false }).addTo(DM.accuracyLayer);
    } else {
      v.acc.setLatLng(ll);
      v.acc.setRadius(radius);
    }
  }

  function styleMarker(id, v, deferRedraw) {
    const o = v.m.options;
    if (id === DM.selected && DM.selBox) DM.selBox.style.background = colour(v.row[4]);
    const row = v.row;
    o.fillColor = colour(row[4]);
    o.alert = row[7] === 1;
    const selected = id === DM.selected;
    o.color = selected ? "#000000" : "#ffffff";
    o.weight = selected ? 3 : 1.5;
    const zoom = DM.map.getZoom();
    const info = DM.info.get(id);
    const label = info ? info[0] : id;
    if (label !== o.label) {
      o.label = label;
      o.labelW = DM.measure.measureText(label).width;
    }
    const r = radiusFor(zoom) + (selected ? 3 : 0);
    if (v.m._radius !== r) v.m.setRadius(r);
    else if (!deferRedraw) v.m.redraw();
  }

  function radiusFor(zoom) {
    return zoom >= 15 ? 9 : zoom >= 13 ? 7 : zoom >= 11 ? 6 : zoom >= 9 ? 4 : 3;
  }

  function drawTrail(id, v) {
    if (v.trail.length < 2) return;
    const pts = v.trail.map(function (p) { return [p[1], p[2]]; });
    if (!v.line) {
      v.line = L.polyline(pts, {
        renderer: DM.renderer, color: colour(v.row[4]), weight: 2, opacity: 0.5,
        interactive: false,
      }).addTo(DM.trailLayer);
    } else {
      v.line.setStyle({ color: colour(v.row[4]) });
      v.line.setLatLngs(pts);
    }
  }

  function trimTrails(t) {
    const cut = t - DM.opts.trailMinutes * 60;
    for (const [id, v] of DM.vehicles) {
      if (!v.trail.length) continue;
      if (!trailsOn(id)) {
        v.trail = [];
        if (v.line) { DM.trailLayer.removeLayer(v.line); v.line = null; }
        continue;
      }
      let k = 0;
      while (k < v.trail.length && v.trail[k][0] < cut) k++;
      if (k) { v.trail.splice(0, k); drawTrail(id, v); }
    }
  }

  function remove(id) {
    const v = DM.vehicles.get(id);
    if (!v) return;
    DM.vehicleLayer.removeLayer(v.m);
    if (v.line) DM.trailLayer.removeLayer(v.line);
    if (v.acc) DM.accuracyLayer.removeLayer(v.acc);
    DM.vehicles.delete(id);
    if (!DM.replay) DM.info.delete(id); // a replayed vehicle keeps its live name
    if (DM.tipFor === id) { DM.map.closeTooltip(DM.tooltip); DM.tipFor = null; }
  }

  // --- labels: every vehicle's name where it fits, the selected and the late ones first ----
  // Greedy placement on a coarse grid: right of the dot, else left, above, below; a label
  // that would cover another label or a dot is left out (its tooltip still names it).
  function layoutLabels(throttled) {
    if (DM.clustered || !DM.map) return;
    // big fleets move every tick: their labels are re-placed at most once a second
    const now = performance.now();
    if (throttled && DM.vehicles.size > 1000 && now - (DM.lastLabels || 0) < 1000) return;
    DM.lastLabels = now;
    const map = DM.map;
    const size = map.getSize();
    const cell = 64;
    const grid = new Map();
    const put = function (b) {
      for (let gx = Math.floor(b[0] / cell); gx <= Math.floor(b[2] / cell); gx++) {
        for (let gy = Math.floor(b[1] / cell); gy <= Math.floor(b[3] / cell); gy++) {
          const key = gx + ":" + gy;
          if (!grid.has(key)) grid.set(key, []);
          grid.get(key).push(b);
        }
      }
    };
    const free = function (b) {
      for (let gx = Math.floor(b[0] / cell); gx <= Math.floor(b[2] / cell); gx++) {
        for (let gy = Math.floor(b[1] / cell); gy <= Math.floor(b[3] / cell); gy++) {
          for (const o of grid.get(gx + ":" + gy) || []) {
            if (b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]) return false;
          }
        }
      }
      return true;
    };
    const items = [];
    for (const [id, v] of DM.vehicles) {
      const p = map.latLngToContainerPoint(v.m.getLatLng());
      const r = v.m._radius || 4;
      put([p.x - r - 1, p.y - r - 1, p.x + r + 1, p.y + r + 1]); // dots are obstacles
      const rank = id === DM.selected ? -1 : STATE_RANK.indexOf(v.row[4]);
      items.push([rank, id, v, p, r]);
    }
    items.sort(function (a, b) { return a[0] - b[0] || (a[1] < b[1] ? -1 : 1); });
    let shown = 0;
    for (const [, , v, p, r] of items) {
      const o = v.m.options;
      let at = null;
      const inView = p.x > 0 && p.y > 0 && p.x < size.x && p.y < size.y;
      if (o.label && inView && shown < DM.opts.labelMax) {
        const w = o.labelW;
        const spots = [[r + 5, 4], [-r - 5 - w, 4], [-w / 2, -r - 6], [-w / 2, r + 14]];
        for (const s of spots) {
          const b = [p.x + s[0] - 1, p.y + s[1] - 11, p.x + s[0] + w + 1, p.y + s[1] + 3];
          if (b[0] < 0 || b[1] < 0 || b[2] > size.x || b[3] > size.y || !free(b)) continue;
          at = s;
          put(b);
          shown += 1;
          break;
        }
      }
      const before = o.labelAt;
      if (before === at || (before && at && before[0] === at[0] && before[1] === at[1])) continue;
      o.labelAt = at;
      v.m.redraw();
    }
  }
  DM.layoutLabels = layoutLabels;

  // --- replay: the same markers show the past; entering and leaving redraw everything ------
  function clearVehicles() {
    DM.vehicleLayer.clearLayers();
    DM.trailLayer.clearLayers();
    DM.accuracyLayer.clearLayers();
    DM.clusterLayer.clearLayers();
    DM.vehicles.clear();
    DM.map.closeTooltip(DM.tooltip);
    DM.tipFor = null;
    DM.fittedCount = 0;
    DM.lastT = 0;
    if (DM.selMarker) DM.selMarker.remove();
  }

  function clearTrails() { // a jump in replay time: old trails would draw a false path
    for (const v of DM.vehicles.values()) {
      v.trail = [];
      if (v.line) { DM.trailLayer.removeLayer(v.line); v.line = null; }
    }
  }

  function setReplay(text) {
    DM.replay = text || null;
    DM.banner.textContent = DM.replay ? "REPLAY " + DM.replay : "";
    DM.banner.hidden = !DM.replay;
    DM.map.getContainer().classList.toggle("dm-replaying", !!DM.replay);
  }

  // --- tooltips: built from text nodes only, and kept inside the map ---------------------
  // A tooltip asked to open above its marker opens below it when it would leave the map at
  // the top, and slides sideways rather than be cut at the left or right edge.
  const baseSetPosition = L.Tooltip.prototype._setPosition;
  L.Tooltip.include({
    _setPosition: function (pos) {
      baseSetPosition.call(this, pos);
      const map = this._map;
      const box = this._container;
      if (!map || !box || this.options.direction !== "top") return;
      const size = map.getSize();
      let at = map.layerPointToContainerPoint(L.DomUtil.getPosition(box));
      if (at.y < 0) {
        const offset = L.point(this.options.offset);
        this.options.direction = "bottom";
        this.options.offset = [offset.x, -offset.y];
        try { baseSetPosition.call(this, pos); } finally {
          this.options.direction = "top";
          this.options.offset = [offset.x, offset.y];
        }
        at = map.layerPointToContainerPoint(L.DomUtil.getPosition(box));
      }
      let dx = 0;
      if (at.x < 2) dx = 2 - at.x;
      else if (at.x + box.offsetWidth > size.x - 2) dx = size.x - 2 - at.x - box.offsetWidth;
      if (dx) L.DomUtil.setPosition(box, L.DomUtil.getPosition(box).add([dx, 0]));
    },
  });

  // Speeds come in the fleet's unit (km/h or mph), which the page's options name.
  function speedText(speed) {
    return speed === null ? "—" : speed + " " + (DM.opts.speedUnit || "km/h");
  }

  function tipContent(id) {
    const v = DM.vehicles.get(id);
    const info = DM.info.get(id) || [id, "", "", "", []];
    const box = el("div", "dm-tip-body");
    box.appendChild(el("div", "dm-tip-title", info[0]));
    if (DM.replay) { // the past: where and how fast, not today's next stop or exceptions
      box.appendChild(el("div", "dm-tip-state", "Replay · position of " + v.row[6]));
      if (info[1]) box.appendChild(el("div", null, "Driver: " + info[1]));
      box.appendChild(el("div", null, "Speed: " + speedText(v.row[5])));
      return box;
    }
    const state = DM.opts.palette[v.row[4]];
    box.appendChild(el("div", "dm-tip-state", state ? state[1] : v.row[4]));
    if (info[1]) box.appendChild(el("div", null, "Driver: " + info[1]));
    box.appendChild(el("div", null, "Speed: " + speedText(v.row[5]) + " · last seen " + v.row[6]));
    if (v.row[9]) box.appendChild(el("div", "dm-tip-note", v.row[9]));
    if (info[2]) {
      box.appendChild(el("div", null, "Next: " + info[2] + (info[3] ? " · ETA " + info[3] : "")));
    }
    for (const title of info[4] || []) box.appendChild(el("div", "dm-tip-alert", "⚠ " + title));
    return box;
  }

  function showTip(id) {
    const v = DM.vehicles.get(id);
    if (!v) return;
    DM.tipFor = id;
    DM.tooltip.setLatLng(v.m.getLatLng()).setContent(tipContent(id));
    if (!DM.map.hasLayer(DM.tooltip)) DM.map.openTooltip(DM.tooltip);
  }
  DM.showTip = showTip;

  // --- selection, follow, fit ------------------------------------------------------------
  function onVehicleClick(id) {
    DM.select(id, false);
    if (DM.bridge) DM.bridge.vehicleClicked(id);
  }

  // The selected vehicle also gets a DOM marker above the route's stop badges (the canvas
  // lies below the marker pane), so it is never hidden under its own next stop.
  function placeSelection(v) {
    if (!v) {
      if (DM.selMarker) DM.selMarker.remove();
      return;
    }
    if (!DM.selMarker) {
      DM.selBox = el("div", "dm-sel");
      DM.selMarker = L.marker(v.m.getLatLng(), {
        icon: L.divIcon({ className: "dm-sel-icon", html: DM.selBox, iconSize: [22, 22] }),
        zIndexOffset: 1000, interactive: false, keyboard: false,
      });
    }
    DM.selBox.style.background = colour(v.row[4]);
    DM.selMarker.setLatLng(v.m.getLatLng());
    if (!DM.map.hasLayer(DM.selMarker)) DM.selMarker.addTo(DM.map);
  }

  DM.select = function (id, centre) {
    const before = DM.selected;
    DM.selected = id || null;
    placeSelection(DM.selected ? DM.vehicles.get(DM.selected) : null);
    for (const key of [before, DM.selected]) {
      const v = key ? DM.vehicles.get(key) : null;
      if (v) { styleMarker(key, v); v.m.bringToFront(); }
    }
    styleOverview();
    const v = DM.selected ? DM.vehicles.get(DM.selected) : null;
    if (v && centre) DM.map.panTo(v.m.getLatLng());
    if (!DM.selected) setFollow(false);
  };

  function setFollow(on) {
    DM.follow = !!on && !!DM.selected;
    if (DM.followButton) DM.followButton.classList.toggle("dm-on", DM.follow);
    const v = DM.follow ? DM.vehicles.get(DM.selected) : null;
    if (v) DM.map.panTo(v.m.getLatLng());
  }
  DM.setFollow = setFollow;

  // The fleet and its day: vehicles, every route of the day and the unassigned orders, so a
  // planned day with no vehicle reporting yet (the morning before the first van leaves) is in
  // view too; the depots only when nothing else is there.
  DM.fitFleet = function () {
    const pts = [];
    for (const v of DM.vehicles.values()) pts.push(v.m.getLatLng());
    for (const line of DM.overview.values()) {
      for (const ll of line.getLatLngs()) pts.push(ll);
    }
    for (const m of DM.unassignedLayer.getLayers()) pts.push(m.getLatLng());
    if (!pts.length) {
      for (const m of DM.staticLayer.getLayers()) {
        if (m instanceof L.Marker) pts.push(m.getLatLng());
      }
    }
    if (pts.length) DM.map.fitBounds(L.latLngBounds(pts), { padding: [30, 30], maxZoom: 16 });
  };

  DM.fitBounds = function (b) {
    if (b) DM.map.fitBounds(b, { padding: [30, 30], maxZoom: 16 });
  };

  // --- the selected route: remaining path and numbered stops -----------------------------
  function fitRoute(route) {
    // the vehicle and what it still has to do, so a selection made elsewhere shows the story
    const pts = route.path.length ? route.path.slice() : route.stops.map(function (s) {
      return [s[2], s[3]];
    });
    const v = DM.vehicles.get(route.vehicle);
    if (v) pts.push(v.m.getLatLng());
    if (pts.length) DM.map.fitBounds(L.latLngBounds(pts), { padding: [30, 30], maxZoom: 15 });
  }

  function focusStop(stopId) {
    const marker = DM.stopMarkers.get(stopId);
    if (!marker) return;
    DM.map.panTo(marker.getLatLng());
    marker.openTooltip();
  }

  // --- the day: every route faintly, the selected one strong; the unassigned pool --------
  // Above this many routes the day's faint lines are a fan that hides the map (500 vans from
  // one depot): only the selected vehicle's line is drawn; every line still counts for the fit.
  const OVERVIEW_MAX = 60;

  function setOverview(rows) {
    DM.overviewLayer.clearLayers();
    DM.overview = new Map();
    DM.overviewAll = rows.length <= OVERVIEW_MAX;
    rows.forEach(function (row, i) {
      if (row[2].length < 2) return;
      const hue = ROUTE_HUES[i % ROUTE_HUES.length];
      const line = L.polyline(row[2], {
        renderer: DM.overviewRenderer, color: hue, hue: hue,
        weight: 3, opacity: 0.35, interactive: false,
      });
      if (DM.overviewAll) line.addTo(DM.overviewLayer);
      DM.overview.set(row[0], line);
    });
    styleOverview();
  }

  function styleOverview() {
    const strong = DM.routeVehicle || DM.selected;
    for (const [vid, line] of DM.overview) {
      const on = vid === strong;
      if (!DM.overviewAll) {
        if (on && !DM.overviewLayer.hasLayer(line)) line.addTo(DM.overviewLayer);
        if (!on && DM.overviewLayer.hasLayer(line)) DM.overviewLayer.removeLayer(line);
      }
      // the strong one in the stops' dark blue, under the light dashes of what is left to do
      line.setStyle(on ? { color: "#0d47a1", weight: 5, opacity: 0.85 }
        : { color: line.options.hue, weight: 3, opacity: 0.35 });
      if (on) line.bringToFront();
    }
  }

  function setUnassigned(rows) {
    DM.unassignedLayer.clearLayers();
    DM.poolMarkers = new Map();
    for (const s of rows) {
      const icon = L.divIcon({ className: "dm-unassigned-icon",
        html: el("div", "dm-unassigned"), iconSize: [18, 18] });
      const marker = L.marker([s[1], s[2]], { icon: icon, riseOnHover: true, zIndexOffset: 50 });
      const tip = el("div", "dm-tip-body");
      tip.appendChild(el("div", "dm-tip-title", "Unassigned · " + (s[3] || s[6])));
      tip.appendChild(el("div", null, s[4]));
      if (s[5]) tip.appendChild(el("div", null, "Window " + s[5]));
      tip.appendChild(el("div", "dm-tip-state", s[6] + " · on no route yet"));
      marker.bindTooltip(tip, { direction: "top", offset: [0, -9] });
      marker.on("click", function () {
        if (DM.bridge) DM.bridge.stopClicked(s[0], "");
      });
      marker.addTo(DM.unassignedLayer);
      DM.poolMarkers.set(s[0], marker);
    }
  }

  // Nearby stops' badges are spread apart by spread.js (shared with the optimize preview); a
  // dashed ring says a badge was moved; the marker keeps its true position for clicks.
  function spreadStops() {
    if (!DM.map) return;
    const items = [];
    for (const marker of DM.stopMarkers.values()) {
      const box = marker.getElement() && marker.getElement().firstChild;
      if (box) items.push([marker, box]);
    }
    const moved = DispatcherSpread.apply(DM.map, items);
    items.forEach(function (mb, i) { mb[1].classList.toggle("dm-stop-moved", moved[i]); });
  }

  function setRoute(route) {
    DM.routeLayer.clearLayers();
    DM.stopMarkers = new Map();
    DM.routeVehicle = route ? route.vehicle : null;
    styleOverview();
    if (!route) return;
    if (route.path.length > 1) {
      L.polyline(route.path, { color: "#1e88e5", weight: 4, opacity: 0.8, dashArray: "8 6",
        interactive: false }).addTo(DM.routeLayer);
    }
    for (const s of route.stops) {
      const badge = el("div", "dm-stop dm-stop-" + s[4] + (s[10] ? " dm-stop-flag" : ""), s[1]);
      const icon = L.divIcon({ className: "dm-stop-icon", html: badge, iconSize: [22, 22] });
      const marker = L.marker([s[2], s[3]], { icon: icon, riseOnHover: true,
        zIndexOffset: s[4] === "done" ? -100 : 100 });
      const tip = el("div", "dm-tip-body");
      tip.appendChild(el("div", "dm-tip-title", "#" + s[1] + " " + s[5]));
      tip.appendChild(el("div", null, s[6]));
      if (s[7]) tip.appendChild(el("div", null, "Window " + s[7]));
      if (s[8]) tip.appendChild(el("div", null, "ETA " + s[8]));
      tip.appendChild(el("div", "dm-tip-state", s[4]));
      marker.bindTooltip(tip, { direction: "top", offset: [0, -10] });
      marker.on("click", function () {
        if (DM.bridge) DM.bridge.stopClicked(s[0], route.vehicle);
      });
      marker.addTo(DM.routeLayer);
      DM.stopMarkers.set(s[0], marker);
    }
    spreadStops();
  }

  // --- zoom: declutter (labels, radius) and clustering for big fleets ---------------------
  function onZoom() {
    const zoom = DM.map.getZoom();
    const cluster = zoom < DM.opts.clusterZoom && DM.vehicles.size > DM.opts.clusterMin;
    if (cluster !== DM.clustered) {
      DM.clustered = cluster;
      if (cluster) {
        DM.map.removeLayer(DM.vehicleLayer);
        DM.map.removeLayer(DM.trailLayer);
      } else {
        DM.clusterLayer.clearLayers();
        DM.vehicleLayer.clearLayers();
        for (const v of DM.vehicles.values()) v.m.addTo(DM.vehicleLayer);
        DM.vehicleLayer.addTo(DM.map);
        DM.trailLayer.addTo(DM.map);
      }
    }
    if (DM.clustered) recluster(true);
    else {
      for (const [id, v] of DM.vehicles) styleMarker(id, v);
      layoutLabels();
    }
    spreadStops();
  }

  function recluster(force) {
    const now = performance.now();
    if (!force && now - DM.lastCluster < 1000) return;
    DM.lastCluster = now;
    const cell = 56;
    const cells = new Map();
    const map = DM.map;
    for (const v of DM.vehicles.values()) {
      const p = map.latLngToLayerPoint(v.m.getLatLng());
      const key = Math.floor(p.x / cell) + ":" + Math.floor(p.y / cell);
      let c = cells.get(key);
      if (!c) { c = { n: 0, lat: 0, lng: 0, worst: 6 }; cells.set(key, c); }
      const ll = v.m.getLatLng();
      c.n += 1; c.lat += ll.lat; c.lng += ll.lng;
      const rank = STATE_RANK.indexOf(v.row[4]);
      if (rank >= 0 && rank < c.worst) c.worst = rank;
    }
    DM.clusterLayer.clearLayers();
    for (const c of cells.values()) {
      const ll = [c.lat / c.n, c.lng / c.n];
      const m = new ClusterMarker(ll, {
        renderer: DM.renderer, radius: Math.min(10 + Math.sqrt(c.n) * 1.6, 26), count: c.n,
        fillColor: colour(STATE_RANK[c.worst]), fillOpacity: 0.85, color: "#ffffff", weight: 2,
      });
      m.on("click", function () { map.setView(ll, Math.min(map.getZoom() + 2, 18)); });
      m.addTo(DM.clusterLayer);
    }
  }

  // --- for tests and the benchmark ------------------------------------------------------
  DM.stats = function () {
    return {
      markers: DM.clustered ? 0 : DM.vehicleLayer.getLayers().length,
      vehicles: DM.vehicles.size,
      clusters: DM.clusterLayer.getLayers().length,
      circles: DM.accuracyLayer.getLayers().length,
      stops: DM.routeLayer.getLayers().length,
      labels: labelled().length,
      routes: DM.overview.size,
      drawnRoutes: DM.overviewLayer.getLayers().length,
      strongRoutes: Array.from(DM.overview.values()).filter(function (l) {
        return l.options.opacity > 0.5;
      }).length,
      unassigned: DM.unassignedLayer.getLayers().length,
      applied: DM.applied,
      zoom: DM.map.getZoom(),
      selected: DM.selected,
      replay: DM.replay,
      banner: DM.banner.hidden ? "" : DM.banner.textContent,
    };
  };
  function labelled() {
    if (DM.clustered) return [];
    const out = [];
    for (const [id, v] of DM.vehicles) {
      const o = v.m.options;
      if (!o.label || !o.labelAt) continue;
      const p = DM.map.latLngToContainerPoint(v.m.getLatLng());
      const x = p.x + o.labelAt[0];
      const y = p.y + o.labelAt[1];
      out.push([id, o.label, x, y - 11, x + o.labelW, y + 3]);
    }
    return out;
  }
  DM.labelBoxes = labelled; // [id, text, left, top, right, bottom] in map pixels
  DM.markerLatLng = function (id) {
    const v = DM.vehicles.get(id);
    if (!v) return null;
    const ll = v.m.getLatLng();
    return [ll.lat, ll.lng];
  };
  DM.markerPoint = function (id) {
    const v = DM.vehicles.get(id);
    if (!v) return null;
    const p = DM.map.latLngToContainerPoint(v.m.getLatLng());
    const r = DM.map.getContainer().getBoundingClientRect();
    return [p.x + r.left, p.y + r.top];
  };
})();
