// The topology as SVG: client, gateway, services with their instances (Toxiproxy chip,
// sidecar, app), the control plane; edges with requests/s, success, p50/p99. Every node
// and edge carries role="img" and an aria-label with its state in words (from the server).
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const ROW = 24, HEAD = 22, W = 270;
const LEFT = ["storefront", "orders"];

function instClass(i) {
  if (i.alive === false || i.sidecar === "killed") return "dead";
  const b = i.breaker || {};
  const open = ["edge", "mesh"].some((p) => b[p] && b[p].state !== "closed");
  if (i.paused || i.proxy_down || open || i.misbehave || (i.ejected && Object.keys(i.ejected).length)) return "bad";
  if ((i.toxics || []).length || i.sidecar === "paused") return "warn";
  return "ok";
}

function breakerDot(x, y, place, b) {
  if (!b) return "";
  const cls = b.state === "closed" ? "ok" : b.state === "open" ? "bad" : "warn";
  return `<circle cx="${x}" cy="${y}" r="5" class="${cls}"/><text x="${x - 3}" y="${y + 3}" font-size="8">${place}</text>`;
}

function service(svc, x, y, target, sidecars) {
  const h = HEAD + svc.instances.length * ROW + 6;
  let out = `<g class="svc" role="img" aria-label="${esc(svc.label)}" data-service="${esc(svc.name)}"><title>${esc(svc.label)}</title>
    <rect class="box" x="${x}" y="${y}" width="${W}" height="${h}" rx="6"/>
    <text x="${x + 8}" y="${y + 15}" font-weight="600">${esc(svc.name)}</text></g>`;
  svc.instances.forEach((i, n) => {
    const ry = y + HEAD + n * ROW;
    const cls = instClass(i);
    const chip = (i.toxics || []).length || i.proxy_down ? "chip bad" : "chip node";
    const sc = sidecars["sidecar-" + i.name];
    const side = i.sidecar ? `<g role="img" aria-label="${esc(sc ? sc.label : "sidecar-" + i.name)}" data-sidecar="sidecar-${esc(i.name)}"><title>${esc(sc ? sc.label : "")}</title>
      <circle cx="${x + 38}" cy="${ry + 10}" r="6" class="${i.sidecar === "running" && (!sc || sc.up) ? "node" : "dead"}"/></g>` : "";
    const flags = [...(i.toxics || []), i.misbehave ? "misbehave" : "", i.proxy_down ? "down" : ""].filter(Boolean).join(", ");
    out += `<g class="inst" role="img" tabindex="-1" aria-label="${esc(i.label)}" data-instance="${esc(i.name)}"
        data-state="${cls}" data-rps="${i.rps.toFixed(2)}" data-ok-rps="${i.ok_rps.toFixed(2)}"><title>${esc(i.label)}</title>
      <rect x="${x + 6}" y="${ry}" width="${W - 12}" height="${ROW - 4}" rx="4" class="${cls}${i.name === target ? " sel" : ""}"/>
      <rect x="${x + 14}" y="${ry + 5}" width="10" height="10" transform="rotate(45 ${x + 19} ${ry + 10})" class="${chip}"/>
      <text x="${x + 50}" y="${ry + 14}">${esc(i.name)}</text>
      <text x="${x + 140}" y="${ry + 14}" font-size="10">${i.rps.toFixed(1)}/s</text>
      <text x="${x + 185}" y="${ry + 14}" font-size="11">${i.alive === false ? "✕ killed" : i.paused ? "⏸ paused" : flags ? "⚡ fault" : ""}</text>
      ${breakerDot(x + W - 34, ry + 10, "E", (i.breaker || {}).edge)}${breakerDot(x + W - 18, ry + 10, "M", (i.breaker || {}).mesh)}
    </g>${side}`;
  });
  return [out, h];
}

function edge(e, x1, y1, x2, y2) {
  const bad = e.success !== null && e.success < 0.95;
  const mx = (x1 + x2) / 2;
  return `<g role="img" aria-label="${esc(e.label)}" data-edge="${esc(e.id)}"><title>${esc(e.label)}</title>
    <path class="edge${bad ? " bad" : ""}" stroke-width="${Math.min(6, 1 + Math.log1p(e.rps))}" d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}"/>
    </g>`;
}

function edgeText(e, lx, ly, tag) {
  const text = `${tag}${e.rps.toFixed(1)}/s ${e.success === null ? "" : Math.round(e.success * 100) + "%"}${e.p99 != null ? " p99 " + Math.round(e.p99 * 1000) + "ms" : ""}`;
  return `<text aria-hidden="true" x="${lx}" y="${ly}" font-size="10">${esc(text)}</text>`;
}

function simple(name, label, up, x, y, w = 110) {
  return `<g role="img" aria-label="${esc(label)}" data-part="${esc(name)}"><title>${esc(label)}</title>
    <rect x="${x}" y="${y}" width="${w}" height="34" rx="6" class="${up ? "node" : "dead"}"/>
    <text x="${x + 8}" y="${y + 21}">${esc(name)}${up ? "" : " (down)"}</text></g>`;
}

export function renderPicture(el, view, target) {
  const pos = {};
  const sidecars = Object.fromEntries(view.proxies.filter((p) => p.kind === "sidecar").map((p) => [p.name, p]));
  let body = "";
  const cols = { left: [], right: [] };
  view.services.forEach((s) => (LEFT.includes(s.name) ? cols.left : cols.right).push(s));
  let height = 0;
  for (const [col, x] of [["left", 330], ["right", 660]]) {
    let y = 14;
    for (const s of cols[col]) {
      const [svg, h] = service(s, x, y, target, sidecars);
      body += svg;
      pos[s.name] = { x, y: y + 11, h };
      y += h + 16;
    }
    height = Math.max(height, y);
  }
  height = Math.max(height, 260);
  const gw = view.proxies.find((p) => p.kind === "gateway");
  const mid = 60;
  let edges = "", texts = "";
  for (const e of view.edges) {
    const to = pos[e.to];
    if (!to) continue;
    if (e.from === "gateway") {
      edges += edge(e, 150, mid + 77, to.x, to.y);
      texts += edgeText(e, to.x + 80, to.y + 4, "edge ");
    } else if (pos.storefront) {
      edges += edge(e, pos.storefront.x + W, pos.storefront.y + 10, to.x, to.y + 8);
      texts += edgeText(e, to.x + 80, to.y - 13, "mesh ");
    }
  }
  let left = simple("client", "client: the built-in load or any HTTP client " + ((view.load || {}).running ? "(load running)" : ""), true, 10, mid);
  if (gw) left += simple("gateway", gw.label, gw.up, 40, mid + 60, 110);
  left += `<path class="edge" d="M60,${mid + 34} L80,${mid + 60}"/>`;
  const cp = view.parts.controlplane, tp = view.parts.toxiproxy;
  left += simple("control plane", cp.label, cp.up, 10, height - 90, 130);
  left += simple("Toxiproxy", tp.label, tp.up, 10, height - 45, 130);
  const all = Object.values(sidecars);
  const down = all.filter((p) => !p.up).length;
  left += `<g role="img" aria-label="${esc(`sidecars: ${all.length - down} of ${all.length} answering`)}"><text x="10" y="${mid + 130}">sidecars: ${all.length - down}/${all.length} up</text></g>`;
  el.innerHTML = `<svg viewBox="0 0 940 ${height}" width="100%" xmlns="http://www.w3.org/2000/svg">${edges}${left}${body}${texts}</svg>`;
  el.querySelectorAll("g.inst").forEach((g) => g.addEventListener("click", () => {
    const sel = document.getElementById("fault-target");
    sel.value = g.dataset.instance;
    sel.dispatchEvent(new Event("change"));
  }));
}
