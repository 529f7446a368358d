// Registers the service worker, and on pages that say so (after signing in or out, or deleting the
// account) drops the copy of the person's commitments it keeps, so a shared phone does not show them.
(function () {
  "use strict";
  var PERSONAL_CACHE = "lx-personal-v1";
  if (!("serviceWorker" in navigator)) return;
  if (document.body && document.body.hasAttribute("data-clear-personal")) {
    if (navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "clear-personal" });
    }
    if (window.caches) window.caches.delete(PERSONAL_CACHE);
  }
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* the site works without it */ });
  });
})();
