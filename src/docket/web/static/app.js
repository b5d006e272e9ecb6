/* Docket's only script: quick exit (the button, or Esc pressed twice), the idle lock, and a
   heartbeat while someone is using the page. Everything else works without it. */
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.getAttribute("data-csrf") || "";
  var exitUrl = body.getAttribute("data-exit") || "https://www.bbc.co.uk/weather";
  var idleMs = parseInt(body.getAttribute("data-idle") || "600", 10) * 1000;
  var unlocked = body.getAttribute("data-unlocked") === "yes";
  var lastActivity = Date.now();
  var lastBeat = Date.now();
  var lastEsc = 0;

  function lockBeacon() {
    try {
      navigator.sendBeacon("/lock?csrf=" + encodeURIComponent(csrf));
    } catch (e) { /* leave anyway */ }
  }

  function quickExit() {
    lockBeacon();
    body.replaceChildren();
    document.title = "";
    window.location.replace(exitUrl);
  }

  var button = document.getElementById("quick-exit");
  if (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      quickExit();
    });
  }

  document.addEventListener("keydown", function (event) {
    lastActivity = Date.now();
    if (event.key === "Escape") {
      var now = Date.now();
      if (now - lastEsc < 1500) {
        quickExit();
      }
      lastEsc = now;
    }
  }, true);

  ["pointerdown", "pointermove", "input", "scroll", "touchstart"].forEach(function (name) {
    document.addEventListener(name, function () { lastActivity = Date.now(); }, {passive: true, capture: true});
  });

  if (unlocked) {
    window.setInterval(function () {
      var now = Date.now();
      if (now - lastActivity > idleMs) {
        lockBeacon();
        body.replaceChildren();
        window.location.replace("/locked");
        return;
      }
      if (lastActivity > lastBeat && now - lastBeat > 60000) {
        lastBeat = now;
        fetch("/alive", {method: "POST", headers: {"X-CSRF-Token": csrf}, credentials: "same-origin"});
      }
    }, 5000);
  }
})();
