// The page: one EventSource (the aggregator's stream), every part rendered from it.
import { renderPicture } from "./picture.js";
import { addEvents } from "./timeline.js";
import { Charts } from "./charts.js";
import { Controls } from "./controls.js";

const link = document.getElementById("link");
const charts = new Charts(document.getElementById("charts"));
const controls = new Controls();
let source = null;

function show(view) {
  if (!view || !view.services) return;
  document.getElementById("topology").textContent = view.topology || "";
  renderPicture(document.getElementById("picture"), view, controls.target());
  controls.update(view);
}

function connect() {
  source = new EventSource("/api/stream");
  source.addEventListener("hello", (e) => {
    const hello = JSON.parse(e.data);
    charts.reset(hello.history || []);
    addEvents(hello.events || [], true);
    show(hello.view);
    link.textContent = "live";
    link.classList.remove("down");
  });
  source.addEventListener("view", (e) => show(JSON.parse(e.data)));
  source.addEventListener("point", (e) => charts.add(JSON.parse(e.data)));
  source.addEventListener("events", (e) => addEvents(JSON.parse(e.data), false));
  source.onerror = () => {
    // EventSource reconnects by itself; say so while it does.
    link.textContent = "dashboard server unreachable; reconnecting…";
    link.classList.add("down");
  };
}

controls.onTarget = () => controls.lastView && show(controls.lastView);
connect();
