// instore staff dashboard: draws the floor plan from /api/layout and renders the live
// state pushed over Server-Sent Events (/api/stream). Plain script, no build step.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const RECONNECT_MAX_MS = 10000;
  const ALERT_LABELS = {
    click_collect: "Click & collect order waiting",
    click_and_collect: "Click & collect order waiting",
    order_ready: "Click & collect order waiting",
    vip: "VIP",
    birthday: "Birthday",
  };
  const $ = (id) => document.getElementById(id);
  const human = (text) => String(text).replace(/_/g, " ");
  const euro = (v) => `€${Number(v).toFixed(0)}`;
  let layout = null;
  let heatOn = false;
  let lastHeat = null;
  let source = null;
  let retryMs = 1000;
  const dots = new Map();
  const announced = new Set();
  let lastPeople = "";
  let lastLog = "";
  let lastScanners = "";
  let scannerTrouble = false;

  const SVG_TAGS = new Set(["g", "rect", "polygon", "line", "circle", "text", "title"]);

  function el(tag, attrs, text) {
    const node = SVG_TAGS.has(tag) ? document.createElementNS(SVG, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Layout metres (origin bottom-left, y up) -> SVG user units (y down).
  const sy = (y) => layout.height - y;
  const points = (poly) => poly.map(([x, y]) => `${x},${sy(y)}`).join(" ");

  function drawPlan(doc) {
    layout = doc;
    $("store-name").textContent = doc.name;
    document.title = `instore · ${doc.name}`;
    const street = doc.street_depth || 0;
    const svg = $("map");
    svg.setAttribute("viewBox", `-0.6 -0.6 ${doc.width + 1.2} ${doc.height + street + 1.2}`);
    const plan = $("layer-plan");
    const labels = $("layer-labels");
    plan.replaceChildren();
    labels.replaceChildren();
    if (street > 0) {
      plan.append(el("rect", { class: "street", x: -0.6, y: doc.height, width: doc.width + 1.2, height: street + 0.6 }));
      plan.append(el("text", { class: "street-label", x: 0.4, y: doc.height + street - 0.5 }, "street"));
    }
    plan.append(el("rect", { class: "outline", x: 0, y: 0, width: doc.width, height: doc.height }));
    for (const z of doc.zones) {
      plan.append(el("polygon", { class: "zone", points: points(z.polygon), "data-zone": z.name }));
      const cx = z.polygon.reduce((a, p) => a + p[0], 0) / z.polygon.length;
      const cy = z.polygon.reduce((a, p) => a + p[1], 0) / z.polygon.length;
      labels.append(el("text", { class: "zone-label", x: cx, y: sy(cy), "text-anchor": "middle" }, z.name));
    }
    for (const o of doc.obstacles) {
      plan.append(el("polygon", { class: `obstacle obstacle-${o.kind}`, points: points(o.polygon) }));
    }
    if (doc.entrance) {
      const [[x1, y1], [x2, y2]] = doc.entrance;
      plan.append(el("line", { class: "entrance", x1, y1: sy(y1), x2, y2: sy(y2) }));
    }
    for (const b of doc.beacons) {
      const g = el("g", { class: "beacon", transform: `translate(${b.x},${sy(b.y)})` });
      g.append(el("rect", { x: -0.22, y: -0.22, width: 0.44, height: 0.44 }));
      g.append(el("title", {}, `beacon ${b.id}`));
      plan.append(g);
    }
    dots.clear();
    $("layer-dots").replaceChildren();
    if (lastHeat) drawHeat(lastHeat);
  }

  function drawDots(shoppers) {
    const layer = $("layer-dots");
    const seen = new Set();
    for (const s of shoppers) {
      if (s.x === null || s.y === null) continue;
      seen.add(s.id);
      let g = dots.get(s.id);
      if (!g) {
        g = el("g", { class: "dot" });
        g.append(el("circle", { r: 0.45 }));
        g.append(el("text", { class: "dot-label", y: -0.7, "text-anchor": "middle" }));
        g.append(el("title"));
        layer.append(g);
        dots.set(s.id, g);
      }
      g.classList.toggle("named", s.named);
      g.classList.toggle("outside", !s.in_store);
      g.classList.toggle("dwelling", s.dwelling);
      g.style.transform = `translate(${s.x}px, ${sy(s.y)}px)`;
      const label = g.querySelector("text");
      label.textContent = s.named ? s.label : "";
      // Keep names inside the plan near its left and right walls.
      label.setAttribute("text-anchor", s.x < 4 ? "start" : s.x > layout.width - 4 ? "end" : "middle");
      g.querySelector("title").textContent = s.label + (s.zone ? ` · ${s.zone}` : "");
    }
    for (const [id, g] of dots) {
      if (!seen.has(id)) { g.remove(); dots.delete(id); }
    }
  }

  function drawHeat(h) {
    lastHeat = h;
    if (!layout || !heatOn) return;
    const layer = $("layer-heat");
    const max = Math.max(1, ...h.counts);
    layer.replaceChildren();
    h.counts.forEach((c, k) => {
      if (c === 0) return;
      const i = k % h.nx, j = Math.floor(k / h.nx);
      const a = Math.sqrt(c / max);
      layer.append(el("rect", {
        class: "heat", x: i * h.cell_m, y: sy((j + 1) * h.cell_m), width: h.cell_m, height: h.cell_m,
        "fill-opacity": (0.1 + 0.75 * a).toFixed(2),
      }));
    });
  }

  function alertLabel(a) { return ALERT_LABELS[a] || human(a); }


  // The staff card: the few facts that help a conversation, never contact details.
  function cardList(card) {
    const dl = el("dl", { class: "card" });
    const row = (k, v) => { if (v) { dl.append(el("dt", {}, k)); dl.append(el("dd", {}, v)); } };
    row("tier", card.loyalty_tier && human(card.loyalty_tier));
    row("language", card.language);
    row("spend 12 m", card.spend_12m_eur !== undefined && euro(card.spend_12m_eur));
    row("segments", (card.segments || []).map(human).join(", "));
    row("recent", (card.recent_purchases || []).slice(0, 3)
      .map((p) => `${human(p.category)} (${p.channel}, ${euro(p.amount_eur)})`).join(", "));
    row("pickup", (card.orders_ready || [])
      .map((o) => `${o.items} item${o.items === 1 ? "" : "s"} at ${human(o.pickup_point)}`).join(", "));
    return dl;
  }

  function personItem(s) {
    const li = el("li", { class: s.named ? "person named" : "person", tabindex: "0" });
    const head = el("p", { class: "person-head" });
    head.append(el("strong", {}, s.label));
    head.append(el("span", { class: "muted" }, s.zone ? ` · ${s.zone}` : " · walking"));
    li.append(head);
    if (s.alerts.length) {
      const ul = el("ul", { class: "chips" });
      for (const a of s.alerts) ul.append(el("li", { class: "chip" }, alertLabel(a)));
      li.append(ul);
    }
    if (s.card) li.append(cardList(s.card));
    return li;
  }

  const hhmmss = (t) => new Date(t * 1000).toISOString().slice(11, 19);

  // A Bluetooth scanner: scanning, its adapter lost, or its process gone; since when.
  function scannerItem(s) {
    const li = el("li", { class: `scanner scanner-${s.state}` });
    li.append(el("strong", {}, s.label));
    let text = " · scanning";
    if (s.state === "scanning") {
      text += s.last_heard ? `, last heard ${hhmmss(s.last_heard)}` : ", nothing heard yet";
    } else {
      const what = s.state === "lost" ? "adapter lost" : "offline";
      text = ` · ${what}` + (s.since ? ` since ${hhmmss(s.since)} UTC` : "");
    }
    li.append(el("span", {}, text));
    if (s.state === "lost" && s.problem) li.append(el("p", { class: "muted scanner-problem" }, s.problem));
    return li;
  }

  function renderScanners(scanners) {
    scannerTrouble = scanners.some((s) => s.state !== "scanning");
    const key = JSON.stringify(scanners);
    if (key === lastScanners) return;
    lastScanners = key;
    $("scanners-section").hidden = scanners.length === 0;
    $("scanners").replaceChildren(...scanners.map(scannerItem));
  }

  function render(st) {
    renderScanners(st.scanners || []);
    const shoppers = st.shoppers;
    drawDots(shoppers);
    const inStore = shoppers.filter((s) => s.in_store);
    $("stat-in-store").textContent = st.in_store;
    $("stat-alerts").textContent = inStore.filter((s) => s.alerts.length).length;
    $("stat-welcomes").textContent = st.welcomes_sent;
    $("stat-suppressed").textContent = st.welcomes_suppressed;
    $("people-count").textContent = `(${inStore.length})`;
    $("clock").textContent = st.clock_s ? new Date(st.clock_s * 1000).toISOString().slice(11, 19) + " UTC" : "--:--:--";
    // Rebuild lists only when they change, so keyboard focus and scrolling survive pushes.
    const peopleKey = JSON.stringify(inStore.map((s) => [s.id, s.label, s.zone, s.alerts, s.card]));
    if (peopleKey !== lastPeople) {
      lastPeople = peopleKey;
      $("people").replaceChildren(...inStore.map(personItem));
    }
    announce(inStore.filter((s) => s.named));
    const total = Math.max(1, ...Object.values(st.zones));
    for (const z of document.querySelectorAll("#layer-plan .zone")) {
      const n = st.zones[z.dataset.zone] || 0;
      z.style.fill = n ? `rgba(37, 99, 235, ${(0.08 + 0.3 * n / total).toFixed(2)})` : "";
    }
    $("zones").replaceChildren(...Object.entries(st.zones).map(([name, n]) => {
      const li = el("li", {});
      li.append(el("span", { class: "zone-name" }, name));
      li.append(el("meter", { min: 0, max: total, value: n, "aria-label": `${name} occupancy` }));
      li.append(el("span", { class: "zone-count" }, String(n)));
      return li;
    }));
    const logKey = JSON.stringify(st.welcome_log);
    if (logKey === lastLog) return setBusStatus(st.bus);
    lastLog = logKey;
    $("welcome-log").replaceChildren(...st.welcome_log.map((w) => {
      const li = el("li", { class: `welcome welcome-${w.outcome}` });
      const time = new Date(w.t_s * 1000).toISOString().slice(11, 19);
      li.append(el("span", { class: "muted" }, time + " "));
      li.append(el("strong", {}, w.who));
      li.append(el("span", {}, w.outcome === "sent" ? ` · sent “${human(w.template)}”` : ` · not sent: ${human(w.reason)}`));
      return li;
    }));
    setBusStatus(st.bus);
  }

  function setBusStatus(bus) {
    if (bus === "connected" && scannerTrouble) return setStatus("bus", "Scanner offline");
    setStatus(bus === "connected" ? "live" : "bus", bus === "connected" ? "Live" : `Bus ${bus}`);
  }

  // Screen readers hear each consenting customer once, as they arrive.
  function announce(named) {
    const fresh = named.filter((s) => !announced.has(s.id));
    for (const s of fresh) announced.add(s.id);
    if (fresh.length) {
      $("announce").textContent = fresh
        .map((s) => [`${s.label} is in the store`, ...s.alerts.map(alertLabel)].join(": ")).join(". ");
    }
  }

  function setStatus(kind, text) {
    const s = $("status");
    s.className = `status status-${kind}`;
    s.textContent = text;
  }

  function connect() {
    if (source) source.close();
    source = new EventSource("api/stream");
    source.addEventListener("layout", (e) => { if (!layout) drawPlan(JSON.parse(e.data)); });
    source.addEventListener("state", (e) => { retryMs = 1000; if (layout) render(JSON.parse(e.data)); });
    source.addEventListener("heatmap", (e) => drawHeat(JSON.parse(e.data)));
    source.onerror = () => {
      setStatus("connecting", "Reconnecting…");
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, retryMs);
        retryMs = Math.min(RECONNECT_MAX_MS, retryMs * 2);
      }
    };
  }

  $("heat-toggle").addEventListener("click", (e) => {
    heatOn = !heatOn;
    e.currentTarget.setAttribute("aria-pressed", String(heatOn));
    $("layer-heat").hidden = !heatOn;
    if (heatOn && lastHeat) drawHeat(lastHeat);
  });
  connect();
})();
