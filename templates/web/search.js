/* Offline search: a prebuilt JSON index, matched by Chinese character bigrams. No server. */
(function () {
  "use strict";
  var form = document.querySelector("form.search");
  if (!form) { return; }
  var input = form.querySelector("input[name=q]");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var root = form.getAttribute("data-root") || "./";
  var docs = null;

  function grams(text) {
    var out = [];
    text.toLowerCase().split(/[\s,，。、；;:：!！?？"“”'‘’()（）《》【】\[\]]+/).forEach(function (word) {
      var chars = Array.from(word);
      if (chars.length === 1) { out.push(chars[0]); }
      for (var i = 0; i + 1 < chars.length; i++) { out.push(chars[i] + chars[i + 1]); }
    });
    return out;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  function show(query) {
    list.textContent = "";
    var want = grams(query);
    if (!want.length) { status.textContent = ""; return; }
    var hits = [];
    docs.forEach(function (d) {
      var title = d[1].toLowerCase(), text = title + " " + d[6];
      var score = 0;
      for (var i = 0; i < want.length; i++) {
        if (text.indexOf(want[i]) < 0) { return; }
        if (title.indexOf(want[i]) >= 0) { score += 2; } else { score += 1; }
      }
      hits.push([score, d]);
    });
    hits.sort(function (a, b) { return b[0] - a[0] || (a[1][3] < b[1][3] ? 1 : -1); });
    status.textContent = hits.length ? "找到 " + hits.length + " 条公告" : "没有找到相关公告";
    hits.slice(0, 100).forEach(function (hit) {
      var d = hit[1], li = el("li", "item"), h = el("h2", "item-title"), a = el("a", "", d[1]);
      a.href = root + "notices/" + encodeURIComponent(d[0]) + "/";
      h.appendChild(a);
      li.appendChild(el("p", "tags", d[2]));
      li.appendChild(h);
      li.appendChild(el("p", "item-meta", d[4] + " · " + d[3]));
      li.appendChild(el("p", "item-summary", d[5]));
      list.appendChild(li);
    });
  }

  function run() {
    var query = input.value.trim();
    if (docs) { show(query); return; }
    status.textContent = "正在载入索引……";
    fetch(form.getAttribute("data-index")).then(function (r) { return r.json(); }).then(function (data) {
      docs = data.docs;
      show(query);
    }).catch(function () { status.textContent = "索引载入失败，请稍后再试。"; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var url = new URL(window.location.href);
    url.searchParams.set("q", input.value.trim());
    window.history.replaceState(null, "", url);
    run();
  });
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { input.value = initial; run(); }
}());
