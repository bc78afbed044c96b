// The inbox's pages reload themselves (every main[data-refresh] seconds) so that a new
// customer message shows without a tap, but never while a person is typing: a page with
// text in a box, or a box in focus, waits for the next turn.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  if (!main) { return; }
  var seconds = parseInt(main.getAttribute("data-refresh"), 10) || 15;
  function typing() {
    var active = document.activeElement;
    if (active && (active.tagName === "TEXTAREA" || active.tagName === "INPUT" || active.tagName === "SELECT")) {
      return true;
    }
    var boxes = document.querySelectorAll("textarea, input[type=text]");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].value.trim() !== "" && boxes[i].value !== boxes[i].defaultValue) { return true; }
    }
    return false;
  }
  window.setInterval(function () {
    if (typing() || document.hidden) { return; }
    // What was just done ("?done=sent") was said once: not again at every refresh.
    var url = new URL(window.location.href);
    url.searchParams.delete("done");
    window.location.replace(url.toString());
  }, seconds * 1000);
})();
