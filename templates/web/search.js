/* Offline search over the prebuilt n-gram index (pipeline/renderers/web_search.py). No server.
   The query is cut like the text: runs of letters and digits, then single characters (a
   one-character run) or overlapping pairs. A notice matches a run when it holds all of its
   pairs (a full match), or three quarters of them for runs of four pairs or more (马祖村道路
   finds 马祖村…道路); full matches rank first, then title, place and issuer above the body. */
(function () {
  "use strict";
  var form = document.querySelector("form.search");
  if (!form) { return; }
  var input = form.querySelector("input[name=q]");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var pager = document.getElementById("search-pager");
  var pageLabel = document.getElementById("search-page");
  var prev = document.getElementById("search-prev");
  var next = document.getElementById("search-next");
  var filters = ["area", "year", "kind", "status"].map(function (name) {
    return form.querySelector("select[name=" + name + "]");
  });
  var root = form.getAttribute("data-root") || "./";
  var base = form.getAttribute("data-index");
  var PAGE = 10;
  var RUN = /[\p{L}\p{N}_.%-]+/gu;
  var meta = null, metaPromise = null, shards = {}, postings = {}, documents = {};
  var labels = {}, page = 1, generation = 0, timer = null;

  function normalise(text) { return text.normalize("NFKC").toLowerCase(); }

  function terms(query) {
    var out = [];
    (normalise(query).match(RUN) || []).forEach(function (run) {
      var chars = Array.from(run), grams = [], seen = {};
      if (chars.length === 1) { grams.push(chars[0]); }
      for (var i = 0; i + 1 < chars.length; i++) {
        var gram = chars[i] + chars[i + 1];
        if (!seen[gram]) { seen[gram] = true; grams.push(gram); }
      }
      out.push({ text: run, grams: grams });
    });
    return out;
  }

  function shardOf(gram, count) {
    var hash = 0x811c9dc5;
    for (var i = 0; i < gram.length; i++) {
      hash ^= gram.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash % count;
  }

  function getJSON(url) {
    return fetch(url).then(function (r) {
      if (!r.ok) { throw new Error(url + ": " + r.status); }
      return r.json();
    });
  }

  function loadMeta() {
    if (!metaPromise) {
      metaPromise = getJSON(base + "meta.json").then(function (data) {
        meta = data;
        data.filters.kinds.forEach(function (k) { labels["kind:" + k[0]] = k[1]; });
        data.filters.status.forEach(function (s) { labels["status:" + s[0]] = s[1]; });
        return data;
      });
    }
    return metaPromise;
  }

  function loadShard(number) {
    if (!shards[number]) { shards[number] = getJSON(base + "s/" + number + ".json"); }
    return shards[number];
  }

  /* gram -> {docNumber: 1 (body) or 3 (title, place, issuer)} */
  function decode(text) {
    var out = {}, number = 0;
    if (!text) { return out; }
    text.split(",").forEach(function (part) {
      var heading = part.charAt(part.length - 1) === "*";
      number += parseInt(heading ? part.slice(0, -1) : part, 36);
      out[number] = heading ? 3 : 1;
    });
    return out;
  }

  function loadGrams(grams) {
    var wanted = grams.filter(function (g) { return !postings[g]; });
    var numbers = {};
    wanted.forEach(function (g) { numbers[shardOf(g, meta.shards)] = true; });
    return Promise.all(Object.keys(numbers).map(function (n) {
      return loadShard(n).then(function (shard) {
        wanted.forEach(function (g) {
          if (!postings[g] && shardOf(g, meta.shards) === Number(n)) {
            postings[g] = decode(shard[g]);
          }
        });
      });
    }));
  }

  function chosen() {
    var out = {};
    filters.forEach(function (select) { if (select && select.value) { out[select.name] = select.value; } });
    return out;
  }

  function passes(doc, f) {
    if (f.area && doc[4] !== f.area && doc[4].indexOf(f.area + "/") !== 0) { return false; }
    if (f.year && doc[3].slice(0, 4) !== f.year) { return false; }
    if (f.kind && doc[2] !== f.kind) { return false; }
    if (f.status && doc[6] !== f.status) { return false; }
    return true;
  }

  function rank(query, f) {
    var wanted = terms(query), docs = meta.docs, total = docs.length, hits = [];
    if (!wanted.length) {
      docs.forEach(function (doc, i) { if (passes(doc, f)) { hits.push({ i: i, score: -i, full: true }); } });
      return { hits: hits, terms: wanted };
    }
    var scores = {}, fullCount = {}, okCount = {};
    wanted.forEach(function (term) {
      var matched = {}, weight = {};
      term.grams.forEach(function (gram) {
        var post = postings[gram] || {}, keys = Object.keys(post);
        var idf = Math.log(1 + total / (keys.length || 1));
        keys.forEach(function (k) {
          matched[k] = (matched[k] || 0) + 1;
          weight[k] = (weight[k] || 0) + post[k] * idf;
        });
      });
      var need = term.grams.length, partial = need >= 4 ? Math.ceil(need * 0.75) : need;
      Object.keys(matched).forEach(function (k) {
        if (matched[k] < partial) { return; }
        okCount[k] = (okCount[k] || 0) + 1;
        if (matched[k] === need) { fullCount[k] = (fullCount[k] || 0) + 1; }
        var doc = docs[k], bonus = 0;
        if (normalise(doc[1]).indexOf(term.text) >= 0) { bonus += 40; }
        if (normalise(doc[4] + doc[5]).indexOf(term.text) >= 0) { bonus += 20; }
        scores[k] = (scores[k] || 0) + weight[k] + bonus;
      });
    });
    Object.keys(okCount).forEach(function (k) {
      if (okCount[k] !== wanted.length || !passes(docs[k], f)) { return; }
      var full = fullCount[k] === wanted.length;
      hits.push({ i: Number(k), score: scores[k] + (full ? 100000 : 0), full: full });
    });
    hits.sort(function (a, b) { return b.score - a.score || a.i - b.i; });
    return { hits: hits, terms: wanted };
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  /* Appends ``text`` to ``node`` with every needle found in it wrapped in <mark>. */
  function highlight(node, text, needles) {
    var lower = text.toLowerCase(), marks = [];
    needles.forEach(function (needle) {
      if (!needle) { return; }
      var at = lower.indexOf(needle);
      while (at >= 0) { marks.push([at, at + needle.length]); at = lower.indexOf(needle, at + needle.length); }
    });
    marks.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var pos = 0;
    marks.forEach(function (m) {
      if (m[0] < pos) { if (m[1] > pos) { node.lastChild.textContent += text.slice(pos, m[1]); pos = m[1]; } return; }
      node.appendChild(document.createTextNode(text.slice(pos, m[0])));
      node.appendChild(el("mark", "", text.slice(m[0], m[1])));
      pos = m[1];
    });
    node.appendChild(document.createTextNode(text.slice(pos)));
    return node;
  }

  function needlesOf(wanted) {
    var out = [];
    wanted.forEach(function (t) { out.push(t.text); if (t.grams.length > 1) { out = out.concat(t.grams); } });
    return out;
  }

  function documentText(d) {
    var parts = [d.body_text];
    if (d.project) {
      var p = d.project;
      parts.push(p.name, p.location, p.content, p.subsidy_standard || "", p.implementer,
        p.responsible.name, p.responsible.phone || "", p.performance_goal || "", p.poverty_mechanism || "");
      p.funds.forEach(function (f) { parts.push(f.source + " " + f.amount_display); });
    }
    if (d.withdrawal) { parts.push("已撤回：" + d.withdrawal.reason); }
    ["office_phone", "supervision_phone", "hotline", "address"].forEach(function (k) {
      if (d.contact && d.contact[k]) { parts.push(d.contact[k]); }
    });
    return parts.filter(Boolean).join(" · ");
  }

  function snippet(node, id, wanted) {
    var exact = wanted.map(function (t) { return t.text; });
    if (!documents[id]) { documents[id] = getJSON(root + "notices/" + encodeURIComponent(id) + "/index.json"); }
    documents[id].then(function (d) {
      var text = documentText(d), lower = text.toLowerCase(), at = -1;
      exact.concat(needlesOf(wanted)).some(function (n) { at = lower.indexOf(n); return at >= 0; });
      if (at < 0) { return; }
      var start = Math.max(0, at - 30), piece = (start ? "…" : "") + text.slice(start, at + 60) + (at + 60 < text.length ? "…" : "");
      highlight(node, piece, needlesOf(wanted));
      node.hidden = false;
    }).catch(function () { /* the snippet is a nicety; the result stands without it */ });
  }

  function show(result, query) {
    list.textContent = "";
    list.setAttribute("data-query", query);  /* what the list answers (tests wait for it) */
    var hits = result.hits, count = hits.length, fullCount = hits.filter(function (h) { return h.full; }).length;
    var pages = Math.max(1, Math.ceil(count / PAGE));
    if (page > pages) { page = pages; }
    if (!count) {
      status.textContent = "没有找到相关公告";
    } else if (fullCount === count) {
      status.textContent = "找到 " + count + " 条公告";
    } else if (!fullCount) {
      status.textContent = "找到 " + count + " 条相关公告（包含查询中的词语，但不连在一起）";
    } else {
      status.textContent = "找到 " + fullCount + " 条公告，另有 " + (count - fullCount) + " 条部分匹配";
    }
    var needles = needlesOf(result.terms);
    hits.slice((page - 1) * PAGE, page * PAGE).forEach(function (hit) {
      var d = meta.docs[hit.i], li = el("li", "item" + (d[6] === "withdrawn" ? " is-withdrawn" : ""));
      var tags = el("p", "tags");
      tags.appendChild(el("span", "badge badge-" + d[2], labels["kind:" + d[2]] || d[2]));
      if (labels["status:" + d[6]]) {
        tags.appendChild(document.createTextNode(" "));
        tags.appendChild(el("span", "state state-" + d[6], labels["status:" + d[6]]));
      }
      var h = el("h2", "item-title"), a = el("a", "");
      a.href = root + "notices/" + encodeURIComponent(d[0]) + "/";
      highlight(a, d[1], needles);
      h.appendChild(a);
      li.appendChild(tags);
      li.appendChild(h);
      li.appendChild(highlight(el("p", "item-meta"), d[5] + " · " + d[4].split("/").join("") + " · " + d[3], needles));
      li.appendChild(highlight(el("p", "item-summary"), d[7], needles));
      if (result.terms.length) {
        var snip = el("p", "item-snippet");
        snip.hidden = true;
        li.appendChild(snip);
        snippet(snip, d[0], result.terms);
      }
      list.appendChild(li);
    });
    pager.hidden = pages < 2;
    pageLabel.textContent = "第 " + page + " / " + pages + " 页";
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
  }

  function remember(query, f) {
    var url = new URL(window.location.href);
    ["q", "area", "year", "kind", "status", "p"].forEach(function (k) { url.searchParams.delete(k); });
    if (query) { url.searchParams.set("q", query); }
    Object.keys(f).forEach(function (k) { url.searchParams.set(k, f[k]); });
    if (page > 1) { url.searchParams.set("p", String(page)); }
    window.history.replaceState(null, "", url);
  }

  function run() {
    var query = input.value.trim(), f = chosen(), mine = ++generation;
    remember(query, f);
    if (!query && !Object.keys(f).length) {
      list.textContent = ""; status.textContent = ""; pager.hidden = true; return;
    }
    if (!meta) { status.textContent = "正在载入索引……"; }
    loadMeta().then(function () {
      var grams = [];
      terms(query).forEach(function (t) { grams = grams.concat(t.grams); });
      return loadGrams(grams);
    }).then(function () {
      if (mine !== generation) { return; }  // a newer keystroke has taken over
      show(rank(query, f), query);
    }).catch(function () {
      if (mine === generation) { status.textContent = "索引载入失败，请稍后再试。"; }
    });
  }

  function soon() {
    page = 1;
    window.clearTimeout(timer);
    timer = window.setTimeout(run, 150);
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); page = 1; run(); });
  input.addEventListener("input", soon);
  filters.forEach(function (select) { if (select) { select.addEventListener("change", soon); } });
  prev.addEventListener("click", function () { if (page > 1) { page--; run(); list.scrollIntoView(); } });
  next.addEventListener("click", function () { page++; run(); list.scrollIntoView(); });

  var params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  filters.forEach(function (select) { if (select && params.get(select.name)) { select.value = params.get(select.name); } });
  page = Math.max(1, parseInt(params.get("p") || "1", 10) || 1);
  if (input.value || Object.keys(chosen()).length) { run(); }
}());
