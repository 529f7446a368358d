// Labour Exchange service worker. Keeps the app shell (styles, htmx, icons, the offline page) and the
// person's own commitments page, fetched network-first so it is fresh when online and there when not.
// Nothing else is kept: no API answers, no other pages, nobody else's data.
"use strict";

var SHELL_CACHE = "lx-shell-v1";
var PERSONAL_CACHE = "lx-personal-v1";
var SHELL = [
  "/static/app.css",
  "/static/app.js",
  "/static/vendor/htmx/htmx.min.js",
  "/static/favicon.svg",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
  "/offline",
];
var PERSONAL_PAGES = ["/me/commitments"];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) { return cache.addAll(SHELL); }).then(function () {
      return self.skipWaiting();
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n !== SHELL_CACHE && n !== PERSONAL_CACHE;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "clear-personal") {
    event.waitUntil(caches.delete(PERSONAL_CACHE));
  }
});

function isShell(url) {
  return SHELL.indexOf(url.pathname) !== -1;
}

function offlinePage() {
  return caches.match("/offline", { cacheName: SHELL_CACHE }).then(function (page) {
    return page || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
  });
}

// Network first: a fresh copy is kept only when it really is the page (200, not a redirect to sign in).
function personal(request) {
  return fetch(request).then(function (response) {
    if (response.ok && !response.redirected && response.type === "basic") {
      var copy = response.clone();
      caches.open(PERSONAL_CACHE).then(function (cache) { return cache.put(request.url.split("?")[0], copy); });
    } else if (response.type === "opaqueredirect" || response.redirected || response.status === 401) {
      // Sent to sign in: whoever this is, the kept copy is no longer theirs to see.
      caches.delete(PERSONAL_CACHE);
    }
    return response;
  }).catch(function () {
    return caches.match(request.url.split("?")[0], { cacheName: PERSONAL_CACHE }).then(function (kept) {
      return kept || offlinePage();
    });
  });
}

// The shell: from the cache at once, refreshed in the background for the next visit.
function shell(request) {
  return caches.open(SHELL_CACHE).then(function (cache) {
    return cache.match(request).then(function (kept) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) cache.put(request, response.clone());
        return response;
      }).catch(function () { return kept || Response.error(); });
      return kept || fresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) return;
  if (PERSONAL_PAGES.indexOf(url.pathname) !== -1) {
    event.respondWith(personal(request));
  } else if (isShell(url)) {
    event.respondWith(shell(request));
  } else if (request.mode === "navigate") {
    // Any other page: always from the network, never kept; the offline page when there is none.
    event.respondWith(fetch(request).catch(offlinePage));
  }
});
