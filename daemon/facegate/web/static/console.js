// The dashboard's live timeline: poll /api/live every 2 s and redraw the table (no library).
"use strict";
(function () {
  const table = document.getElementById("timeline");
  if (!table) return;
  const body = table.querySelector("tbody");
  const banner = document.getElementById("daemon-down");
  function cell(text) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); return td; }
  async function poll() {
    try {
      const reply = await fetch(table.dataset.live, { credentials: "same-origin", cache: "no-store" });
      if (reply.status === 401) { window.location = "/login"; return; }
      const live = await reply.json();
      if (banner) banner.hidden = live.daemon !== "down";
      if (live.daemon === "down") return;
      const rows = live.events.map(function (e) {
        const tr = document.createElement("tr");
        tr.className = e.result;
        [e.when, e.door, e.method, e.label, e.subject, e.reason].forEach(function (v) { tr.appendChild(cell(v)); });
        return tr;
      });
      body.replaceChildren.apply(body, rows);
      document.getElementById("count-granted").textContent = live.today.granted;
      document.getElementById("count-denied").textContent = live.today.denied;
      const alarms = document.getElementById("alarms");
      if (live.status) alarms.textContent = live.alarms.join(", ") || alarms.dataset.none;
    } catch (err) {
      if (banner) banner.hidden = false;
    }
  }
  setInterval(poll, 2000);
})();
