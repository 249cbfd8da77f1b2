// The live parts of the explorer: new frames every 0.3 s (GET /api/live/frames?after=N), the
// LIVE badge every two seconds (GET /api/live), pause/resume, filter on change. Plain JS, no library.
(function () {
  "use strict";
  const table = document.getElementById("frames");
  if (!table) return;
  const body = table.tBodies[0];
  const state = document.getElementById("live-state");
  const pause = document.getElementById("pause");
  const badge = document.getElementById("live-badge");
  const filter = document.getElementById("event-filter");
  const event = table.dataset.event || "";
  const MAX_ROWS = 500;
  let after = parseInt(table.dataset.after || "0", 10);
  let paused = false;
  let busy = false;
  let received = 0;

  pause.hidden = false;
  pause.addEventListener("click", function () {
    paused = !paused;
    pause.textContent = paused ? "resume" : "pause";
    state.textContent = paused ? "paused" : "live";
  });
  filter.addEventListener("change", function () { filter.form.submit(); });

  function td(tr, child) {
    const cell = document.createElement("td");
    if (typeof child === "string") cell.textContent = child; else if (child) cell.appendChild(child);
    tr.appendChild(cell);
    return cell;
  }
  function a(href, text) {
    const link = document.createElement("a");
    link.href = href;
    link.textContent = text;
    return link;
  }
  function row(f, classes) {
    const name = f.event_name || f.doc_type;
    const tr = document.createElement("tr");
    tr.className = "frame new " + (classes[name] || "");
    tr.dataset.event = name;
    td(tr, f.ts.substring(11, 23));
    td(tr, f.direction);
    td(tr, f.doc_type === "ws_event" ? a("/events/" + encodeURIComponent(name), name) : name);
    td(tr, f.game_id ? a("/games/" + encodeURIComponent(f.game_id), f.game_id) : "");
    const code = document.createElement("code");
    code.textContent = f.preview;
    td(tr, code);
    return tr;
  }
  async function frames() {
    if (paused || busy) return;
    busy = true;
    try {
      const q = new URLSearchParams({ after: String(after) });
      if (event) q.set("event", event);
      const r = await fetch("/api/live/frames?" + q.toString(), { headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error(String(r.status));
      const data = await r.json();
      for (const f of data.frames) body.insertBefore(row(f, data.classes), body.firstChild);
      received += data.frames.length;
      after = data.last;
      while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
      state.textContent = "live · " + received + " new frame(s) since load";
    } catch (err) {
      state.textContent = "explorer not reachable (" + err.message + ")";
    } finally {
      busy = false;
    }
  }
  async function status() {
    try {
      const r = await fetch("/api/live", { headers: { Accept: "application/json" } });
      const s = await r.json();
      if (s.connected) {
        badge.className = "live on";
        const age = s.last_frame_age_seconds;
        badge.textContent = "LIVE · " + (s.source || "?") + (age === null ? "" : " · last frame " + age.toFixed(1) + " s ago");
      } else if (s.running) {
        badge.className = "live warn";
        badge.textContent = "daemon " + s.state;
      } else {
        badge.className = "live off";
        badge.textContent = "not capturing";
      }
    } catch (err) { /* the frames poll reports it */ }
  }
  setInterval(frames, 300);
  setInterval(status, 2000);
  frames();
})();
