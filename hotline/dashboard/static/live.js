// The live board: polls the JSON endpoint every few seconds and redraws the two tables.
// Text goes in with textContent only, never as HTML.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) return;
  var source = root.getAttribute("data-source");
  var labels = JSON.parse(root.getAttribute("data-labels") || "{}");
  var POLL_MS = 5000;

  function duration(s) {
    if (s === null || s === undefined) return "—";
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m));
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }

  function fill(tbody, rows) {
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (cell) {
        var td = document.createElement("td");
        td.textContent = cell.text;
        if (cell.cls) td.className = cell.cls;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  function render(data) {
    fill(document.querySelector("#queues tbody"), data.queues.map(function (q) {
      return [{ text: labels[q.language] || q.language }, { text: String(q.waiting) },
              { text: q.waiting ? duration(q.longest_wait) : "—" }];
    }));
    fill(document.querySelector("#counselor-states tbody"), data.counselors.map(function (c) {
      return [{ text: c.name }, { text: c.state, cls: "state-" + c.state }, { text: duration(c.in_state) }];
    }));
    document.getElementById("live-updated").textContent = new Date().toLocaleTimeString();
  }

  function poll() {
    fetch(source, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(render)
      .catch(function () { document.getElementById("live-updated").textContent = "…"; })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }
  poll();
})();
