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
