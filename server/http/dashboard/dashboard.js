// discod's dashboard: the graph (publisher -> topic -> subscriber), the
// topics, nodes and members, and the counters, from /api/v1, refreshed when
// the event stream (/api/v1/events) says something changed. No library, no
// network but the daemon's own answers.
"use strict";

const FOLD_OVER = 8;          // a namespace of more topics folds into one box
const EXPIRING_MS = 1500;     // a lease with less left is about to expire
const EVENTS = ["topic.added", "topic.updated", "topic.removed", "topic.expired",
                "node.added", "node.removed", "node.expired", "subscription.added",
                "subscription.updated", "subscription.removed", "subscription.expired"];
// A member's own notices (not registry changes): listed as they come.
const NOTICES = ["member.isolated", "member.rejoined", "member.conflict"];
const NOTICES_KEPT = 20;
const SVG = "http://www.w3.org/2000/svg";

const state = { graph: null, stats: null, members: null, open: new Set(), search: "",
                events: 0, refreshes: 0 };

function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4))
                                   : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function namespaceOf(topic) {
  const parts = topic.split("/").filter(Boolean);
  return parts.length > 1 ? "/" + parts[0] : "";
}

function matches(text) {
  return !state.search || text.toLowerCase().includes(state.search);
}

// The graph's vertices and edges: topics fold by namespace unless opened or
// searched for.
function model(g) {
  const byNs = new Map();
  for (const x of g.publishers.concat(g.subscriptions)) {
    const ns = namespaceOf(x.topic);
    if (!byNs.has(ns)) byNs.set(ns, new Set());
    byNs.get(ns).add(x.topic);
  }
  const folded = (topic) => {
    const ns = namespaceOf(topic);
    return ns && !state.search && !state.open.has(ns) && byNs.get(ns).size > FOLD_OVER;
  };
  const topicVertex = (topic) => folded(topic) ? "ns:" + namespaceOf(topic) : "t:" + topic;
  const vertices = new Map();
  const add = (id, kind, label) => {
    if (!vertices.has(id)) vertices.set(id, { id, kind, label, bad: false, hit: false });
    return vertices.get(id);
  };
  const edges = new Map();
  const edge = (from, to, x, sub) => {
    const key = from + "\u0000" + to;
    const e = edges.get(key) || { from, to, mismatch: false, expiring: false, legacy: false };
    // Red is the subscriber's edge: the publisher may suit its other readers.
    e.mismatch = e.mismatch || (sub && x.mismatched > 0);
    e.expiring = e.expiring || (x.lease_id > 0 && x.lease_remaining_ms < EXPIRING_MS);
    edges.set(key, e);
  };
  const publishing = new Set();
  for (const p of g.publishers) publishing.add(p.node);
  for (const x of g.publishers.concat(g.subscriptions)) {
    const sub = !("address" in x);
    const tv = topicVertex(x.topic);
    const t = add(tv, tv.startsWith("ns:") ? "namespace" : "topic",
                  tv.startsWith("ns:") ? namespaceOf(x.topic) + "/* (" +
                      byNs.get(namespaceOf(x.topic)).size + ")" : x.topic);
    const n = add("n:" + x.node, "node", x.node);
    if (x.mismatched > 0) { t.bad = true; n.bad = true; }
    if (matches(x.topic)) t.hit = !!state.search;
    if (matches(x.node)) n.hit = !!state.search;
    if (sub) edge(tv, "n:" + x.node, x, true); else edge("n:" + x.node, tv, x, false);
  }
  for (const l of g.lookups || []) {
    const tv = topicVertex(l.topic);
    add(tv, tv.startsWith("ns:") ? "namespace" : "topic", tv.startsWith("ns:") ?
        namespaceOf(l.topic) + "/*" : l.topic);
    add("legacy", "node", "undeclared clients");
    edges.set(tv + "\u0000legacy", { from: tv, to: "legacy", legacy: true });
  }
  // Columns: nodes that only publish, topics, nodes that subscribe.
  for (const v of vertices.values())
    v.column = v.kind !== "node" ? 1 : (publishing.has(v.label) && !subscribes(g, v.label) ? 0 : 2);
  return { vertices: [...vertices.values()], edges: [...edges.values()] };
}

function subscribes(g, node) {
  return g.subscriptions.some((s) => s.node === node) || node === "undeclared clients";
}

// Orders each column by the mean row of its neighbours (two sweeps), then
// places the rows.
function layout(m) {
  const cols = [[], [], []];
  for (const v of m.vertices) cols[v.column].push(v);
  for (const c of cols) c.sort((a, b) => a.label.localeCompare(b.label));
  const index = () => { cols.forEach((c) => c.forEach((v, i) => { v.row = i; })); };
  index();
  const near = new Map(m.vertices.map((v) => [v.id, []]));
  const byId = new Map(m.vertices.map((v) => [v.id, v]));
  for (const e of m.edges) { near.get(e.from).push(e.to); near.get(e.to).push(e.from); }
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const c of [0, 2, 1]) {
      for (const v of cols[c]) {
        const rows = near.get(v.id).map((id) => byId.get(id).row);
        v.key = rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : v.row;
      }
      cols[c].sort((a, b) => a.key - b.key || a.label.localeCompare(b.label));
      index();
    }
  }
  const rowHeight = 28, width = 260, gap = 160;
  const height = Math.max(...cols.map((c) => c.length), 1) * rowHeight;
  cols.forEach((c, ci) => {
    const offset = (height - c.length * rowHeight) / 2;
    c.forEach((v, i) => { v.x = 20 + ci * (width + gap); v.y = offset + i * rowHeight + 30; v.w = width; });
  });
  return { width: 20 + 3 * width + 2 * gap + 20, height: height + 50, byId };
}

function drawGraph() {
  const svg = document.getElementById("graph");
  svg.replaceChildren();
  if (!state.graph) return;
  const defs = el("svg:defs");
  for (const [id, colour] of [["arrow", "#9aa3b5"], ["arrow-bad", "#d12b2b"]]) {
    const marker = el("svg:marker", { id, viewBox: "0 0 10 10", refX: 10, refY: 5,
                                      markerWidth: 7, markerHeight: 7, orient: "auto" });
    marker.appendChild(el("svg:path", { d: "M0,0 L10,5 L0,10 z", fill: colour }));
    defs.appendChild(marker);
  }
  svg.appendChild(defs);
  const m = model(state.graph);
  const box = layout(m);
  svg.setAttribute("width", box.width);
  svg.setAttribute("height", box.height);
  ["publishers", "topics", "subscribers"].forEach((t, i) =>
    svg.appendChild(el("svg:text", { x: 20 + i * 420, y: 14, class: "column-title" }, t)));
  const edgesG = el("svg:g", { class: "edges" });
  for (const e of m.edges) {
    const a = box.byId.get(e.from), b = box.byId.get(e.to);
    const forward = a.x < b.x;
    const x1 = forward ? a.x + a.w : a.x, x2 = forward ? b.x : b.x + b.w;
    const y1 = a.y + 10, y2 = b.y + 10, bend = (x2 - x1) / 2;
    const cls = ["edge", e.mismatch ? "mismatch" : "", e.expiring ? "expiring" : "",
                 e.legacy ? "legacy" : ""].join(" ").trim();
    edgesG.appendChild(el("svg:path", {
      d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
      class: cls, "data-from": e.from, "data-to": e.to,
      "marker-end": e.mismatch ? "url(#arrow-bad)" : "url(#arrow)" }));
  }
  svg.appendChild(edgesG);
  for (const v of m.vertices) {
    const cls = ["vertex", v.kind, v.bad ? "mismatch" : "", v.hit ? "hit" : "",
                 state.search && !v.hit ? "dim" : ""].join(" ").replace(/\s+/g, " ").trim();
    const g = el("svg:g", { class: cls, "data-id": v.id, "data-name": v.label,
                            transform: `translate(${v.x},${v.y})` });
    g.appendChild(el("svg:rect", { width: v.w, height: 20 }));
    const label = v.label.length > 38 ? v.label.slice(0, 36) + "\u2026" : v.label;
    g.appendChild(el("svg:text", { x: 8, y: 10 }, label));
    g.appendChild(el("svg:title", {}, v.label));
    if (v.kind === "namespace")
      g.addEventListener("click", () => { state.open.add(v.id.slice(3)); drawGraph(); });
    svg.appendChild(g);
  }
}

function leaseText(x) {
  return x.lease_id ? (x.lease_remaining_ms / 1000).toFixed(1) + " s" : "-";
}

function drawTopics() {
  const body = document.querySelector("#topics tbody");
  body.replaceChildren();
  const g = state.graph;
  if (!g) return;
  const topics = new Map();
  const of = (name) => {
    if (!topics.has(name)) topics.set(name, { name, pubs: [], subs: [], type: "" });
    return topics.get(name);
  };
  for (const p of g.publishers) { const t = of(p.topic); t.pubs.push(p); t.type = p.message_type; }
  for (const s of g.subscriptions) of(s.topic).subs.push(s);
  for (const t of [...topics.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const who = t.pubs.map((p) => p.node).concat(t.subs.map((s) => s.node)).join(" ");
    if (!matches(t.name) && !matches(who)) continue;
    const bad = t.pubs.concat(t.subs).some((x) => x.mismatched > 0);
    const least = t.pubs.concat(t.subs).filter((x) => x.lease_id)
      .sort((a, b) => a.lease_remaining_ms - b.lease_remaining_ms)[0];
    const tr = el("tr", { class: bad ? "topic mismatch" : "topic", "data-topic": t.name });
    tr.appendChild(el("td", {}, t.name));
    tr.appendChild(el("td", {}, t.type || (t.subs[0] ? t.subs[0].message_type : "")));
    tr.appendChild(el("td", {}, t.pubs.map((p) => p.node).join(", ") || "-"));
    tr.appendChild(el("td", {}, t.subs.map((s) => s.node + (s.mismatched ? " (expects " +
        (s.message_type || "any") + ")" : "")).join(", ") || "-"));
    tr.appendChild(el("td", {}, least ? leaseText(least) : "-"));
    const flag = el("td");
    if (bad) flag.appendChild(el("span", { class: "badge" }, "mismatch"));
    else if (least && least.lease_remaining_ms < EXPIRING_MS)
      flag.appendChild(el("span", { class: "badge warn" }, "expiring"));
    tr.appendChild(flag);
    body.appendChild(tr);
  }
}

function drawNodes() {
  const body = document.querySelector("#nodes tbody");
  body.replaceChildren();
  const g = state.graph;
  if (!g) return;
  const nodes = new Map();
  const of = (n) => { if (!nodes.has(n)) nodes.set(n, { pubs: 0, subs: 0 }); return nodes.get(n); };
  for (const p of g.publishers) of(p.node).pubs++;
  for (const s of g.subscriptions) of(s.node).subs++;
  for (const [name, n] of [...nodes.entries()].sort()) {
    if (!matches(name)) continue;
    const tr = el("tr", { class: "node", "data-node": name });
    tr.appendChild(el("td", {}, name));
    tr.appendChild(el("td", {}, String(n.pubs)));
    tr.appendChild(el("td", {}, String(n.subs)));
    body.appendChild(tr);
  }
}

function drawMembers() {
  const body = document.querySelector("#members tbody");
  body.replaceChildren();
  const list = state.members ? state.members.members : [];
  document.getElementById("standalone").hidden = list.length > 0;
  for (const m of list) {
    const tr = el("tr", { class: "member" });
    const lag = m.commit_index !== undefined && m.applied_index !== undefined ?
      String(m.commit_index - m.applied_index) : "";
    [m.id, m.address, m.role || m.voting, m.term ?? "", lag].forEach((v) =>
      tr.appendChild(el("td", {}, String(v))));
    tr.appendChild(el("td", { class: m.reachable ? "" : "unreachable" },
                      m.reachable ? "yes" : "no"));
    body.appendChild(tr);
  }
}

function drawCounters() {
  const s = state.stats;
  if (!s) return;
  const set = (id, v) => { document.getElementById(id).textContent = String(v); };
  set("count-topics", s.topics);
  set("count-subscriptions", s.subscriptions);
  set("count-nodes", s.nodes);
  set("count-leases", s.leases);
  set("count-mismatches", s.mismatches);
  set("count-waiters", s.waiters);
  set("count-events", s.events);
  set("role", s.isolated ? `isolated (${s.provisional} to merge)` : s.role_name);
  set("count-conflicts", s.island_conflicts);
  document.getElementById("count-conflicts").parentElement.classList.toggle("set", s.island_conflicts > 0);
  document.getElementById("count-mismatches").parentElement.classList.toggle("set", s.mismatches > 0);
  document.getElementById("answered").textContent = s.member ?
    `member ${s.member} answered (term ${s.term}, leader ${s.leader || "none"})` : "standalone";
}

async function fetchJson(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

async function refresh() {
  try {
    const [graph, stats, members] = await Promise.all(
      [fetchJson("/api/v1/graph"), fetchJson("/api/v1/stats"), fetchJson("/api/v1/members")]);
    Object.assign(state, { graph, stats, members });
    state.refreshes++;
    drawGraph(); drawTopics(); drawNodes(); drawMembers(); drawCounters();
    document.body.dataset.refreshes = String(state.refreshes);
  } catch (e) {
    document.getElementById("answered").textContent = "no answer: " + e.message;
  }
}

let pending = null;
function soon() {
  if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150);
}

function listen() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/v1/events");
  source.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  source.onerror = () => { live.textContent = "reconnecting"; live.className = "live off"; };
  for (const name of EVENTS)
    source.addEventListener(name, () => { state.events++; document.body.dataset.events = String(state.events); soon(); });
  for (const name of NOTICES)
    source.addEventListener(name, (e) => notice(name, e.data));
}

function noticeText(name, d) {
  const when = new Date().toLocaleTimeString();
  if (name === "member.conflict") {
    const c = d.conflict || {};
    return `${when}  member ${d.member}: merge conflict on ${c.kind} ${c.topic} by ${c.node}: ${c.message}`;
  }
  if (name === "member.rejoined")
    return `${when}  member ${d.member} rejoined its cluster (${d.withdrawn} provisional event(s) withdrawn)`;
  return `${when}  member ${d.member} is isolated from its cluster (${d.mode})`;
}

function notice(name, data) {
  let d = {};
  try { d = JSON.parse(data); } catch (e) { /* shown without details */ }
  const list = document.getElementById("notice-list");
  const li = el("li", { class: name.replace(".", "-") }, noticeText(name, d));
  list.insertBefore(li, list.firstChild);
  while (list.children.length > NOTICES_KEPT) list.removeChild(list.lastChild);
  document.getElementById("notices").hidden = false;
  document.body.dataset.notices = String(list.children.length);
  soon();
}

document.getElementById("search").addEventListener("input", (e) => {
  state.search = e.target.value.trim().toLowerCase();
  drawGraph(); drawTopics(); drawNodes();
});
refresh();
listen();
setInterval(refresh, 5000); // leases' time left, counters
