// The timeline: breaker transitions, ejections, endpoint and policy changes, faults
// injected or removed (the dashboard's own entries), each with its cause sentence.
const list = document.getElementById("timeline");
const MAX = 300;

function item(ev) {
  const li = document.createElement("li");
  const at = new Date(ev.at * 1000).toLocaleTimeString([], { hour12: false });
  const where = [ev.upstream, ev.instance].filter(Boolean).join("/");
  li.innerHTML = `<time></time> <span class="proxy"></span> <span class="kind"></span> <span class="where"></span>: <span class="cause"></span>`;
  li.querySelector("time").textContent = at;
  li.querySelector(".proxy").textContent = ev.proxy;
  li.querySelector(".kind").textContent = ev.kind;
  li.querySelector(".where").textContent = where;
  li.querySelector(".cause").textContent = ev.cause;
  li.dataset.kind = ev.kind;
  return li;
}

export function addEvents(events, replace) {
  if (replace) list.textContent = "";
  for (const ev of events) list.prepend(item(ev));
  while (list.children.length > MAX) list.lastChild.remove();
}
