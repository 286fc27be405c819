// The labelling page: plain JavaScript, no build step. Every request carries the token.
"use strict";

const TOKEN = LABEL.token;
const KEYMAP = {};
CLASSES.forEach((c) => { KEYMAP[c.key] = c.value; });
KEYMAP[SKIP_KEY] = "skip";
KEYMAP[MIXED_KEY] = "mixed";

function withToken(path) {
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

async function api(method, path, body) {
  const init = { method, headers: { "X-Label-Token": TOKEN } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = { error: resp.statusText }; }
  if (!resp.ok) throw new Error((data && data.error) || resp.statusText);
  return data;
}

function showError(message) {
  const el = document.getElementById("error");
  if (!message) { el.hidden = true; el.textContent = ""; return; }
  el.hidden = false;
  el.textContent = message;
}

function pct(x) { return (100 * x).toFixed(x < 0.01 ? 2 : 1) + " %"; }

function showProgress(p) {
  const text = `clusters named ${p.clusters_named} of ${p.clusters}` +
    ` · pixels covered ${pct(p.pixel_share_named)} (clustered ${pct(p.pixel_share_clustered)})` +
    ` · labels spent ${p.labels_spent}` +
    (p.skipped ? ` · skipped ${p.skipped}` : "") +
    ` · shown ${p.position} of ${p.n_items}`;
  document.getElementById("progress-text").textContent = text;
  const filled = p.pixel_share_named / Math.max(p.pixel_share_clustered, 1e-9);
  document.getElementById("bar-fill").style.width = `${(100 * Math.min(1, filled)).toFixed(1)}%`;
}

function className(value) {
  if (value === null || value === undefined) return "—";
  if (value === "mixed" || value === "skip") return value;
  return CLASSES[value].name;
}

function swatch(value) {
  const s = document.createElement("span");
  s.className = "swatch";
  if (typeof value === "number") s.style.background = CLASSES[value].colour;
  return s;
}

// ---- the spectrum: IQR box and median line per channel, elevation on its own axis ----
function drawSpectrum(svg, sp) {
  const NS = "http://www.w3.org/2000/svg";
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const colours = ["#d62728", "#2ca02c", "#1f77b4", "#8c564b", "#7f7f7f"];
  const W = 360, H = 200, top = 12, bottom = 170, left = 34;
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(NS, tag);
    Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, v));
    if (text !== undefined) el.textContent = text;
    svg.appendChild(el);
    return el;
  };
  const elevMax = Math.max(1, Math.ceil(sp.q3[4] * 1.2));
  const y = (v, i) => {
    const max = i === 4 ? elevMax : 255;
    return bottom - (bottom - top) * Math.min(1, Math.max(0, v / max));
  };
  add("line", { x1: left, y1: bottom, x2: W - 40, y2: bottom, stroke: "#999" });
  [0, 128, 255].forEach((v) => add("text", { x: 4, y: y(v, 0) + 4, "font-size": 10 }, String(v)));
  add("text", { x: W - 36, y: top + 8, "font-size": 10 }, `${elevMax} m`);
  add("text", { x: W - 36, y: bottom, "font-size": 10 }, "0 m");
  sp.channels.forEach((name, i) => {
    const x = left + 12 + i * 60;
    const q1 = y(sp.q1[i], i), q3 = y(sp.q3[i], i), med = y(sp.median[i], i);
    add("rect", { x, y: q3, width: 36, height: Math.max(1, q1 - q3), fill: colours[i], "fill-opacity": 0.35, stroke: colours[i] });
    add("line", { x1: x, y1: med, x2: x + 36, y2: med, stroke: colours[i], "stroke-width": 3 });
    const unit = i === 4 ? " m" : "";
    add("text", { x: x - 4, y: bottom + 14, "font-size": 11 }, name);
    add("text", { x: x - 4, y: bottom + 27, "font-size": 10 }, `${sp.median[i]}${unit}`);
  });
}

// ---- the labelling view ----
let state = null;
let busy = false;
let zoomIndex = LABEL.windows.indexOf(LABEL.pixel_crop[0]);

function cropUrl(row, mode, size, out) {
  return withToken(`crop/${row}?mode=${mode}&size=${size}&out=${out}`);
}

function render() {
  showProgress(state.progress);
  const last = state.last;
  document.getElementById("last").textContent = last
    ? (last.kind === "rename" ? `last: renamed cluster ${last.cluster} → ${className(last.answer)}`
      : `last: pixel ${last.position + 1} (cluster ${last.cluster}) → ${className(last.answer)}`)
    : "no answer yet";
  const item = state.item;
  const title = document.getElementById("cluster-title");
  if (!item) {
    title.textContent = "Every clustered pixel has been shown.";
    document.getElementById("cluster-text").textContent = "Nothing left to answer: undo, or rename clusters in the list.";
    return;
  }
  const info = item.cluster_info;
  const size = LABEL.windows[zoomIndex];
  const out = LABEL.pixel_crop[1];
  document.getElementById("crop-rgb").src = cropUrl(item.row, "rgb", size, out);
  document.getElementById("crop-nir").src = cropUrl(item.row, "nir", size, out);
  document.getElementById("zoom-text").textContent = `${(size * 0.2).toFixed(1)} m across`;
  document.getElementById("where").textContent = `patch ${item.patch_id}, pixel (${item.y}, ${item.x})`;
  title.textContent = `Cluster ${info.id}` + (item.round === 0 ? " — exemplar" : ` — member, round ${item.round + 1}`);
  document.getElementById("cluster-text").textContent =
    `${info.size.toLocaleString()} pixels of the sample (${pct(info.share)}) · pixel ${item.position + 1} of ${state.progress.n_items}`;
  const nameEl = document.getElementById("cluster-name");
  nameEl.textContent = "";
  nameEl.appendChild(swatch(info.class === null ? info.filled : info.class));
  nameEl.appendChild(document.createTextNode(info.class !== null
    ? ` named ${info.name} (${info.source})`
    : ` not named yet — now mapped to ${info.filled_name} (nearest named cluster)`));
  drawSpectrum(document.getElementById("spectrum"), item.spectrum);
  const members = document.getElementById("members");
  members.textContent = "";
  item.members.forEach((m) => {
    const fig = document.createElement("figure");
    const img = document.createElement("img");
    img.src = cropUrl(m.row, "rgb", LABEL.member_crop[0], LABEL.member_crop[1]);
    img.width = LABEL.member_crop[1]; img.height = LABEL.member_crop[1];
    img.alt = `member on patch ${m.patch_id}`;
    const cap = document.createElement("figcaption");
    cap.textContent = `patch ${m.patch_id}`;
    fig.appendChild(img); fig.appendChild(cap);
    members.appendChild(fig);
  });
  // prefetch the next exemplar's crops is left to the browser cache
}

async function act(method, path, body) {
  if (busy) return;
  busy = true;
  try {
    state = await api(method, path, body);
    showError(null);
    render();
  } catch (e) {
    showError(e.message);
    try { state = await api("GET", "api/state"); render(); } catch (e2) { /* keep the message */ }
  } finally {
    busy = false;
  }
}

function answer(value) {
  if (!state || !state.item) return;
  act("POST", "api/answer", { position: state.item.position, answer: value });
}

function zoom(step) {
  zoomIndex = Math.min(LABEL.windows.length - 1, Math.max(0, zoomIndex + step));
  if (state) render();
}

function startLabelView() {
  document.querySelectorAll("#classes .cls[data-answer]").forEach((b) => {
    b.addEventListener("click", () => {
      const a = b.dataset.answer;
      answer(/^\d+$/.test(a) ? Number(a) : a);
    });
  });
  document.getElementById("undo").addEventListener("click", () => act("POST", "api/undo", {}));
  document.getElementById("zoom-in").addEventListener("click", () => zoom(-1));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(1));
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key.toLowerCase();
    if (k in KEYMAP) { ev.preventDefault(); answer(KEYMAP[k]); }
    else if (k === "u" || k === "backspace" || k === "z") { ev.preventDefault(); act("POST", "api/undo", {}); }
    else if (k === "+" || k === "=") zoom(-1);
    else if (k === "-" || k === "_") zoom(1);
    else if (k === "l") window.location.href = withToken("clusters");
  });
  act("GET", "api/state");
}

// ---- the list view ----
function optionList(current) {
  const select = document.createElement("select");
  const opts = [["", "— from answers"], ...CLASSES.map((c) => [String(c.value), `${c.key} · ${c.name}`]), ["mixed", "mixed"]];
  opts.forEach(([v, t]) => {
    const o = document.createElement("option");
    o.value = v; o.textContent = t;
    select.appendChild(o);
  });
  select.value = current;
  return select;
}

function fillRow(tr, c) {
  tr.dataset.cluster = c.id;
  tr.textContent = "";
  const td = (child) => { const el = document.createElement("td"); if (child) el.appendChild(child); tr.appendChild(el); return el; };
  const img = document.createElement("img");
  img.loading = "lazy"; img.width = 96; img.height = 96;
  img.src = cropUrl(c.exemplar, "rgb", 48, 96);
  img.alt = `exemplar of cluster ${c.id}`;
  td(img);
  td(document.createTextNode(String(c.id)));
  td(document.createTextNode(c.size.toLocaleString())).className = "num";
  td(document.createTextNode(pct(c.share))).className = "num";
  const current = c.source === "rename" || c.source === "answers" ? String(c.class) : (c.source === "mixed" ? "mixed" : "");
  const select = optionList(current);
  select.className = "rename";
  select.addEventListener("change", async () => {
    const v = select.value;
    try {
      const res = await api("POST", "api/rename", { cluster: c.id, answer: v === "" ? null : (v === "mixed" ? "mixed" : Number(v)) });
      showError(null);
      fillRow(tr, res.cluster);
      showProgress(res.progress);
    } catch (e) { showError(e.message); }
  });
  td(select);
  td(document.createTextNode(c.source || "—"));
  const mapped = document.createElement("span");
  mapped.appendChild(swatch(c.filled));
  mapped.appendChild(document.createTextNode(" " + c.filled_name));
  if (c.class === null) mapped.className = "meta";
  td(mapped);
}

async function startListView() {
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") window.location.href = withToken("./");
  });
  try {
    const [clusters, st] = await Promise.all([api("GET", "api/clusters"), api("GET", "api/state")]);
    showProgress(st.progress);
    const body = document.querySelector("#clusters tbody");
    clusters.forEach((c) => { const tr = document.createElement("tr"); fillRow(tr, c); body.appendChild(tr); });
  } catch (e) { showError(e.message); }
}
