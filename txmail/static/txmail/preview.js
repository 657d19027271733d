// txmail preview: remembers the chosen part, width and dark mode across pages.
// Optional: every control works without it (hidden radios + CSS).
(function () {
  "use strict";
  var KEY = "txmail-preview-view";
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem(KEY) || "{}"); } catch (e) { saved = {}; }
  var states = document.querySelectorAll(".viewer input.state");
  states.forEach(function (input) {
    var want = saved[input.name || input.id];
    if (input.type === "checkbox" && typeof want === "boolean") input.checked = want;
    if (input.type === "radio" && want === input.value && !input.disabled) input.checked = true;
    input.addEventListener("change", function () {
      saved[input.name || input.id] = input.type === "checkbox" ? input.checked : input.value;
      try { localStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) { /* private mode */ }
    });
  });
})();

// Size each HTML frame to its content: one scrollbar (the page's), none in the
// frame. The frames are sandboxed without scripts but same-origin, so their
// height can be read from here. Without this script they keep a fixed height.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var MAX = 100000;  // a message sized by 100vh would otherwise grow for ever
  var frames = Array.prototype.slice.call(document.querySelectorAll("iframe.frame"));

  function fit(frame) {
    var doc;
    try { doc = frame.contentDocument; } catch (e) { return; }
    if (!doc || !doc.documentElement || doc.readyState === "loading") return;
    if (!frame.getClientRects().length) return;  // hidden: measured when shown
    var x = window.scrollX, y = window.scrollY;
    // Shrink first: scrollHeight is never less than the frame's own height.
    frame.style.height = "0px";
    var root = doc.documentElement;
    var height = Math.min(MAX, root.scrollHeight);
    frame.style.height = height + "px";
    // A horizontal scrollbar (a wide message in a narrow frame) takes height too.
    if (root.scrollHeight > root.clientHeight) {
      frame.style.height = Math.min(MAX, height + root.scrollHeight - root.clientHeight) + "px";
    }
    frame.classList.add("is-fitted");
    window.scrollTo(x, y);
  }

  function fitAll() { frames.forEach(fit); }

  frames.forEach(function (frame) {
    frame.addEventListener("load", function () {
      fit(frame);
      // Images that arrive later, and web fonts, change the height again.
      var doc = frame.contentDocument;
      if (!doc) return;
      doc.querySelectorAll("img").forEach(function (img) {
        if (!img.complete) img.addEventListener("load", function () { fit(frame); });
      });
      if (doc.fonts && doc.fonts.ready) doc.fonts.ready.then(function () { fit(frame); });
    });
    fit(frame);
    if (window.ResizeObserver) {
      var width = 0;
      new ResizeObserver(function () {
        // Only a new width (mobile, desktop, full, the window) changes the content's
        // height; the height set here must not set it off again.
        if (frame.clientWidth !== width) { width = frame.clientWidth; fit(frame); }
      }).observe(frame);
    }
  });
  document.querySelectorAll(".viewer input.state").forEach(function (input) {
    input.addEventListener("change", fitAll);
  });

  // The language drop-down shows its choice at once.
  document.querySelectorAll(".seg-lang-select select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();

// The findings fold: show the findings at the chosen severity (or worse) that
// affect the chosen client (findings for every client always do).
(function () {
  "use strict";
  var RANK = { error: 0, warning: 1, info: 2 };
  document.querySelectorAll(".findings").forEach(function (box) {
    var severity = box.querySelector(".findings-severity");
    var client = box.querySelector(".findings-client");
    var items = box.querySelectorAll(".finding");
    var none = box.querySelector(".findings-none");
    var count = box.querySelector(".findings-count");
    function apply() {
      var floor = RANK[severity.value], wanted = client ? client.value : "", shown = 0;
      items.forEach(function (item) {
        var clients = item.dataset.clients ? item.dataset.clients.split(" ") : [];
        var visible = RANK[item.dataset.severity] <= floor &&
          (!wanted || !clients.length || clients.indexOf(wanted) !== -1);
        item.hidden = !visible;
        if (visible) shown += 1;
      });
      none.hidden = shown > 0;
      count.textContent = shown + " of " + items.length + " shown";
    }
    severity.addEventListener("change", apply);
    if (client) client.addEventListener("change", apply);
    apply();
  });
})();
