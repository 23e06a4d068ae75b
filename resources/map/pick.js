/* Pick mode: the dispatcher clicks where an order really is.
 *
 * Python (ui/dispatcher_ui/map/pick.py) starts it for Map > Fix position on map… and New order… > Place on
 * map, with the banner's text and the order's current position (a dashed ring, centred). A
 * click on the map goes back through the bridge as positionPicked(lat, lon); Python checks
 * it (a click on a copy of the world the map repeats, or 0,0, is refused and the mode goes
 * on with the reason in the banner). Esc or a right click cancels. While picking, markers and
 * the vehicles' canvas let clicks through to the map, so a pin may land on another stop's
 * doorstep. Loaded after bridge.js; wraps its init. Text reaches the DOM as textContent.
 */
(function () {
  "use strict";

  const DM = window.DispatcherMap;
  const baseInit = DM.init;
  DM.picking = false;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  DM.init = function (map, opts) {
    baseInit(map, opts);
    DM.pickBanner = el("div", "dm-pick-banner");
    DM.pickBanner.hidden = true;
    map.getContainer().appendChild(DM.pickBanner);
    DM.pickLayer = L.layerGroup().addTo(map);
    map.on("click", function (e) {
      if (DM.picking) picked(e.latlng);
    });
    map.on("contextmenu", function () {
      if (DM.picking) cancelled();
    });
    document.addEventListener("keydown", function (e) {
      if (DM.picking && e.key === "Escape") {
        e.preventDefault();
        cancelled();
      }
    });
  };

  function picked(ll) {
    DM.lastPick = [ll.lat, ll.lng];
    if (DM.bridge) DM.bridge.positionPicked(ll.lat, ll.lng);
  }

  function cancelled() {
    if (DM.bridge) DM.bridge.pickCancelled();
  }

  // text: "Click where <customer, address> is — Esc to cancel"; here: [lat, lon] or null
  DM.pickStart = function (text, here) {
    DM.picking = true;
    DM.map.getContainer().classList.add("dm-picking");
    DM.pickBanner.textContent = text;
    DM.pickBanner.classList.remove("dm-pick-refused");
    DM.pickBanner.hidden = false;
    DM.pickLayer.clearLayers();
    DM.setFollow(false);
    DM.autoFit = false;
    if (here) {
      L.circleMarker(here, { radius: 16, color: "#e65100", weight: 2, dashArray: "4 4",
        fill: false, interactive: false }).addTo(DM.pickLayer);
      DM.map.panTo(here, { animate: false });
    }
    return true;
  };

  // a click that was refused: the banner says why and the mode goes on
  DM.pickNote = function (text) {
    DM.pickBanner.textContent = text;
    DM.pickBanner.classList.add("dm-pick-refused");
    return true;
  };

  DM.pickEnd = function () {
    DM.picking = false;
    DM.map.getContainer().classList.remove("dm-picking");
    DM.pickBanner.hidden = true;
    DM.pickLayer.clearLayers();
    return true;
  };

  // where the click landed, while it is being saved
  DM.showPin = function (lat, lon) {
    DM.pickLayer.clearLayers();
    const icon = L.divIcon({ className: "dm-pin-icon", html: el("div", "dm-pin"),
      iconSize: [22, 22], iconAnchor: [11, 24] });
    L.marker([lat, lon], { icon: icon, interactive: false, keyboard: false, zIndexOffset: 2000 })
      .addTo(DM.pickLayer);
    return true;
  };

  DM.clearPin = function () {
    if (!DM.picking) DM.pickLayer.clearLayers();
    return true;
  };

  // --- for tests ----------------------------------------------------------------------------
  DM.pickState = function () {
    const box = DM.map.getContainer();
    const pin = DM.pickLayer.getLayers().find(function (l) { return l instanceof L.Marker; });
    const ll = pin ? pin.getLatLng() : null;
    return {
      picking: DM.picking,
      banner: DM.pickBanner.hidden ? "" : DM.pickBanner.textContent,
      refused: DM.pickBanner.classList.contains("dm-pick-refused"),
      cursor: getComputedStyle(box).cursor,
      pin: ll ? [ll.lat, ll.lng] : null,
    };
  };

  DM.stopLatLng = function (id) {
    const marker = DM.stopMarkers.get(id) || (DM.poolMarkers && DM.poolMarkers.get(id));
    if (!marker) return null;
    const ll = marker.getLatLng();
    return [ll.lat, ll.lng];
  };
})();
