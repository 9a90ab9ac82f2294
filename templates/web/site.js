/* The large-text (适老化) switch: a class on <html>, remembered in localStorage. Loaded in
   <head> so that the class is set before the first paint; the button is wired once the page
   has loaded. Without JavaScript the button stays hidden and the browser's zoom still works. */
(function () {
  "use strict";
  var KEY = "noticecast-large-text";
  var root = document.documentElement;
  function stored() {
    try { return window.localStorage.getItem(KEY) === "1"; } catch (e) { return false; }
  }
  function apply(on) {
    root.classList.toggle("large-text", on);
    var button = document.getElementById("text-size");
    if (button) {
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? "标准字号" : "大字版";
    }
  }
  apply(stored());
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("text-size");
    if (!button) { return; }
    button.hidden = false;
    apply(stored());
    button.addEventListener("click", function () {
      var on = !root.classList.contains("large-text");
      try { window.localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* private mode */ }
      apply(on);
    });
  });
}());
