// The controls: every one posts to the dashboard server, which calls the same APIs as
// the CLI. The answer (a sentence, or the API's one-line error) shows in #message.
const $ = (id) => document.getElementById(id);
const DEFAULTS = {
  latency: "ms=2000", timeout: "ms=0", reset_peer: "timeout_ms=0", bandwidth: "rate_kbps=1",
  slicer: "average_size_bytes=1 delay_us=2000", limit_data: "bytes=1", slow_close: "delay_ms=1000", down: "",
  misbehave: "error_rate=1 error_status=503", kill: "signal=SIGKILL", pause: "", resume: "", restart: "",
};

function parseSettings(text) {
  const out = {};
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const [k, ...rest] = part.split("=");
    const v = rest.join("=");
    out[k] = v !== "" && !isNaN(Number(v)) ? Number(v) : v;
  }
  return out;
}

function fillSelect(sel, values) {
  const want = values.join("\n");
  if (sel.dataset.values === want) return;
  const keep = sel.value;
  sel.textContent = "";
  for (const v of values) sel.add(new Option(v, v));
  if (values.includes(keep)) sel.value = keep;
  sel.dataset.values = want;
}

export class Controls {
  constructor() {
    this.lastView = null;
    this.patterns = [];
    this.onTarget = null;
    fetch("/api/meta").then((r) => r.json()).then((meta) => {
      this.patterns = meta.patterns;
      fillSelect($("fault-kind"), meta.kinds);
      fillSelect($("preset"), meta.presets);
      $("fault-params").value = DEFAULTS[$("fault-kind").value] ?? "";
      if (this.lastView) this.update(this.lastView);
    });
    $("fault-kind").addEventListener("change", () => ($("fault-params").value = DEFAULTS[$("fault-kind").value] ?? ""));
    $("fault-target").addEventListener("change", () => this.onTarget && this.onTarget());
    $("fault-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.post("/api/faults", { target: $("fault-target").value, kind: $("fault-kind").value,
        params: parseSettings($("fault-params").value) });
    });
    $("fault-remove").addEventListener("click", () => this.post("/api/faults/remove", { target: $("fault-target").value }));
    $("preset-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.post("/api/preset", { service: $("svc").value, at: $("preset-at").value, preset: $("preset").value });
    });
    $("scale-apply").addEventListener("click", () => this.post("/api/scale", { service: $("svc").value, count: Number($("scale-count").value) }));
    $("load-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.post("/api/load", { rate_per_s: Number($("load-rate").value), duration_s: Number($("load-duration").value),
        mix: parseSettings($("load-mix").value) });
    });
    $("load-stop").addEventListener("click", () => this.post("/api/load/stop", {}));
    $("reset").addEventListener("click", () => this.post("/api/reset", {}));
  }

  target() { return $("fault-target").value; }

  async post(path, body) {
    const msg = $("message");
    msg.className = "";
    msg.textContent = "working…";
    try {
      const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      msg.className = r.ok ? "ok" : "error";
      msg.textContent = r.ok ? data.message : data.error;
    } catch (err) {
      msg.className = "error";
      msg.textContent = "the dashboard server did not answer";
    }
  }

  update(view) {
    this.lastView = view;
    const instances = view.services.flatMap((s) => s.instances.map((i) => i.name));
    const components = [...instances, ...view.services.flatMap((s) => s.instances.filter((i) => i.sidecar).map((i) => "sidecar-" + i.name)),
      ...(view.gateway ? ["gateway"] : []), "controlplane", "toxiproxy"];
    fillSelect($("fault-target"), components);
    fillSelect($("svc"), view.services.map((s) => s.name));
    const load = view.load || {};
    $("load-state").textContent = load.running ? `running: ${load.rate_per_s}/s, ${Math.round(load.left_s)} s left, ${load.ok} of ${load.sent} ok` : "stopped";
    this.patternTable(view);
  }

  patternTable(view) {
    const table = $("patterns");
    const where = Object.keys(view.policies || {}).sort();
    const key = view.services.map((s) => s.name).join() + "|" + where.join() + "|" + this.patterns.join();
    if (table.dataset.key !== key && this.patterns.length) {
      table.dataset.key = key;
      table.querySelectorAll("tr").forEach((tr) => tr.remove());
      const head = table.insertRow();
      head.innerHTML = "<th scope=col>service</th>" + this.patterns.map((p) => `<th scope=col>${p}</th>`).join("");
      for (const s of view.services) {
        const row = table.insertRow();
        row.innerHTML = `<th scope=row>${s.name}</th>`;
        for (const p of this.patterns) {
          const cell = row.insertCell();
          for (const w of where) {
            const label = document.createElement("label");
            const box = document.createElement("input");
            box.type = "checkbox";
            box.dataset.service = s.name; box.dataset.pattern = p; box.dataset.at = w;
            box.setAttribute("aria-label", `${p} for ${s.name} ${w === "edge" ? "at the gateway" : "in the mesh"}`);
            box.addEventListener("change", () => this.post("/api/policy", { service: s.name, at: w, pattern: p, enabled: box.checked }));
            label.append(box, w[0]);
            cell.append(label);
          }
        }
      }
    }
    table.querySelectorAll("input[type=checkbox]").forEach((box) => {
      const on = ((view.policies[box.dataset.at] || {})[box.dataset.service] || {})[box.dataset.pattern];
      if (document.activeElement !== box || on === box.checked) box.checked = !!on;
    });
  }
}
