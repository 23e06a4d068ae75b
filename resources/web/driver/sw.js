// The driver app's service worker: the app shell from the cache, so the app opens without
// signal. The API is never cached here: the run sheet's last copy lives in localStorage and
// the actions wait in IndexedDB (app.js).
const CACHE = "driver-shell-v2";
const SHELL = ["/driver/", "/driver/app.js", "/driver/app.css", "/driver/manifest.webmanifest", "/driver/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || url.pathname.startsWith("/driver/api/")) {
    return;
  }
  const key = url.pathname === "/driver" ? "/driver/" : url.pathname;
  event.respondWith(
    fetch(event.request).then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((c) => c.put(key, copy));
      }
      return response;
    }).catch(() => caches.match(key).then((hit) => hit || Response.error())));
});
