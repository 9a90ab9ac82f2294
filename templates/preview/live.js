// Live reload without reloading: on each finished build the page fetches itself again and
// swaps only the [data-live] sections whose HTML changed, so unchanged frames keep playing.
(function () {
  "use strict";
  var body = document.body;
  var status = document.getElementById("live-text");
  var current = Number(body.dataset.generation);
  var fetching = null, again = false;

  function remember(root) {
    root.querySelectorAll("[data-live]").forEach(function (el) { el._src = el.outerHTML; });
  }

  function say(text) { if (status) { status.textContent = text; } }

  function swap(doc) {
    var olds = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
    var news = Array.prototype.slice.call(doc.querySelectorAll("[data-live]"));
    var same = olds.length === news.length && olds.every(function (el, i) {
      return el.id === news[i].id;
    });
    if (!same) {
      var main = document.querySelector("main");
      main.replaceWith(document.adoptNode(doc.querySelector("main")));
      remember(document);
    } else {
      news.forEach(function (el, i) {
        if (olds[i]._src !== el.outerHTML) {
          var fresh = document.adoptNode(el);
          olds[i].replaceWith(fresh);
          fresh._src = fresh.outerHTML;
        }
      });
    }
    document.title = doc.title;
    body.dataset.generation = doc.body.dataset.generation;
  }

  function refresh() {
    if (fetching) { again = true; return fetching; }
    fetching = fetch(location.href, { cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (html) { swap(new DOMParser().parseFromString(html, "text/html")); })
      .catch(function () { say("刷新失败 refresh failed"); })
      .then(function () {
        fetching = null;
        if (again) { again = false; refresh(); }
      });
    return fetching;
  }

  function listen() {
    var source = new EventSource("/events");
    source.addEventListener("hello", function (e) {
      body.classList.remove("offline", "building");
      var data = JSON.parse(e.data);
      if (data.generation !== current) { current = data.generation; refresh(); }
      say("实时 live");
    });
    source.addEventListener("building", function () {
      body.classList.add("building");
      say("正在生成… building");
    });
    source.addEventListener("built", function (e) {
      var data = JSON.parse(e.data);
      current = data.generation;
      if (data.pending.length) {
        say("正在生成… building " + data.pending.join(", "));
      } else {
        body.classList.remove("building");
        say("已更新 updated " + new Date().toLocaleTimeString() + " (" + data.seconds + " s)");
      }
      refresh();
    });
    source.onerror = function () {
      body.classList.add("offline");
      say("连接中断，重连中… reconnecting");
    };
    return source;
  }

  remember(document);
  if (!window.EventSource) { return; }
  var source = listen();
  // A browser keeps only a few connections per server: a tab in the background gives its
  // stream back, and catches up (through "hello") when it is shown again.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && source) { source.close(); source = null; }
    else if (!document.hidden && !source) { source = listen(); }
  });
  window.noticecastRefresh = refresh;
})();
