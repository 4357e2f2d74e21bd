// Debrief archive search: loads the prebuilt index (search-index.json) and matches every word
// of the query as a prefix of a word of a report. No network beyond this site, no libraries.
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var status = document.getElementById("search-status");
  var results = document.getElementById("results");
  if (!form || !input || !status || !results) { return; }
  var index = null;

  function tokens(text) {
    return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(function (w) { return w.length > 0; });
  }

  function render(query) {
    while (results.firstChild) { results.removeChild(results.firstChild); }
    var words = tokens(query);
    if (words.length === 0) { status.textContent = "Type words to search the reports."; return; }
    var hits = [];
    index.docs.forEach(function (doc) {
      var hay = " " + doc.words;
      var title = doc.title.toLowerCase();
      var ok = words.every(function (w) { return hay.indexOf(" " + w) !== -1; });
      if (ok) {
        var score = words.filter(function (w) { return title.indexOf(w) !== -1; }).length;
        hits.push({ doc: doc, score: score });
      }
    });
    hits.sort(function (a, b) { return b.score - a.score || a.doc.title.localeCompare(b.doc.title); });
    status.textContent = hits.length + (hits.length === 1 ? " report matches " : " reports match ") +
      "\u201c" + query + "\u201d.";
    hits.forEach(function (h) {
      var li = document.createElement("li");
      li.className = "report";
      li.setAttribute("data-slug", h.doc.slug);
      var h3 = document.createElement("h3");
      var a = document.createElement("a");
      a.href = "../" + h.doc.url;
      a.textContent = h.doc.title;
      h3.appendChild(a);
      li.appendChild(h3);
      var p = document.createElement("p");
      p.textContent = h.doc.summary;
      li.appendChild(p);
      results.appendChild(li);
    });
  }

  function run() {
    var q = input.value;
    if (index) { render(q); return; }
    status.textContent = "Loading the search index\u2026";
    fetch("../search-index.json").then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (data) { index = data; render(input.value); })
      .catch(function (e) { status.textContent = "The search index could not be loaded (" + e.message + ")."; });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var url = new URL(window.location.href);
    url.searchParams.set("q", input.value);
    window.history.replaceState(null, "", url.toString());
    run();
  });
  input.addEventListener("input", function () { if (index) { render(input.value); } });
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { input.value = initial; run(); }
}());
