// Progressive enhancement only: every page works without this file, except the live views.
"use strict";

function liveTail(section) {
  var button = section.querySelector("button[data-tail]");
  var list = section.querySelector("tbody[data-tail-rows]");
  var state = section.querySelector("[data-tail-state]");
  var source = null;
  function cell(row, text, pre) {
    var td = document.createElement("td");
    if (pre) { var p = document.createElement("pre"); p.textContent = text; td.appendChild(p); }
    else { td.textContent = text; }
    row.appendChild(td);
  }
  function stop() {
    if (source) { source.close(); source = null; }
    button.textContent = "Live tail";
    button.setAttribute("aria-pressed", "false");
    state.textContent = "stopped";
  }
  button.addEventListener("click", function () {
    if (source) { stop(); return; }
    source = new EventSource(button.getAttribute("data-tail"));
    button.textContent = "Stop tail";
    button.setAttribute("aria-pressed", "true");
    state.textContent = "connecting…";
    source.addEventListener("open", function () { state.textContent = "live: new messages appear at the top"; });
    source.addEventListener("message", function (e) {
      var m = JSON.parse(e.data);
      var row = document.createElement("tr");
      row.className = "tailed";
      cell(row, String(m.offset));
      cell(row, m.created_at || "");
      cell(row, Object.keys(m.headers).map(function (k) { return k + ": " + m.headers[k]; }).join("\n"), true);
      cell(row, m.text, true);
      list.insertBefore(row, list.firstChild);
      while (list.children.length > 200) { list.removeChild(list.lastChild); }
    });
    source.addEventListener("problem", function (e) { state.textContent = "error: " + e.data; });
    source.addEventListener("error", function () { state.textContent = "reconnecting…"; });
  });
}

function autoRefresh(el) {
  // pages that show work in progress reload themselves until it is done
  var seconds = parseInt(el.getAttribute("data-refresh"), 10) || 2;
  setTimeout(function () { window.location.reload(); }, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("section[data-live-tail]").forEach(liveTail);
  document.querySelectorAll("[data-refresh]").forEach(autoRefresh);
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
});
