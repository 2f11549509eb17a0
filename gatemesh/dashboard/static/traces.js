// The main page's "last traces" list: links to the trace view (/trace/{id}), refreshed
// every few seconds from /api/traces (which answers 200 with a sentence when Jaeger is off).
const REFRESH_MS = 5000;
const list = document.getElementById("traces");
const message = document.getElementById("traces-message");

async function refresh() {
  try {
    const r = await fetch("/api/traces");
    const body = await r.json();
    message.textContent = body.message || (body.traces.length ? "" : "no traces yet: make a call (or start the load)");
    list.replaceChildren(...body.traces.map((t) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/trace/${t.trace_id}`;
      a.textContent = t.trace_id.slice(0, 12) + "…";
      const what = ` ${t.name} · ${t.status ?? "?"}${t.reason ? " " + t.reason : ""} · ${t.attempts} attempts · ${t.duration_ms} ms`;
      li.append(a, what);
      return li;
    }));
  } catch (e) {
    message.textContent = "the dashboard server is unreachable";
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
