// relunet playground: the page. Plain JavaScript, no build step. The server trains
// (relunet's engine); this page sends settings, asks for epochs and draws what it gets.
"use strict";

const COLOR = { pos: [31, 119, 180], neg: [232, 130, 12], dead: "#d62728" };
const SETTINGS = ["dataset", "noise", "test_size", "seed", "hidden", "activation", "output", "loss",
  "batch_mode", "batch_size", "optimizer", "lr", "momentum", "dropout", "l2"];
const $ = (id) => document.getElementById(id);

// what the tests and the curious read: window.playground.state is the last answer
const pg = window.playground = { catalog: null, session: null, state: null, layout: null, records: [],
  playing: false, ups: 0, trace: null, errors: 0, timing: { request: 0, render: 0 }, generation: 0 };

// -- talking to the server ---------------------------------------------------------------
async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res, data;
  try {
    res = await fetch(path, init);
    data = await res.json();
  } catch (e) {
    showError("the server does not answer (is relunet playground still running?)");
    return null;
  }
  if (!res.ok) {
    if (res.status === 404 && pg.session && path.startsWith("/api/sessions/")) {
      return await recreate();  // the session expired: start a new one with these settings
    }
    showError(data && data.error ? data.error : `error ${res.status}`);
    return null;
  }
  clearError();
  return data;
}

function showError(text) {
  pg.errors += 1;
  const el = $("error");
  el.textContent = text;
  el.hidden = false;
}
function clearError() { $("error").hidden = true; }

// -- the controls --------------------------------------------------------------------------
function option(select, value, text) {
  const o = document.createElement("option");
  o.value = value; o.textContent = text === undefined ? value : text;
  select.appendChild(o);
}

function fillControls(cat) {
  for (const d of cat.datasets) option($("dataset"), d.name);
  for (const a of cat.activations) option($("activation"), a.name);
  option($("output"), "auto");
  for (const a of cat.activations) option($("output"), a.name);
  option($("loss"), "auto");
  for (const l of cat.losses) option($("loss"), l);
  for (const o of cat.optimizers) option($("optimizer"), o);
}

function showSettings(s) {
  for (const el of document.querySelectorAll(".refused")) markRefused(el, false);
  for (const key of SETTINGS) {
    const el = $(key);
    if (key === "hidden") el.value = s.hidden.join(", ");
    else el.value = s[key];
  }
  showActivationParams(s.activation, s.activation_params);
  showRelevant(s);
}

function showActivationParams(name, values) {
  const box = $("activation-params");
  box.textContent = "";
  const act = pg.catalog.activations.find((a) => a.name === name);
  for (const p of (act ? act.params : [])) {
    const label = document.createElement("label");
    label.textContent = p.name.replace(/_/g, " ");
    const input = document.createElement("input");
    input.dataset.param = p.name;
    input.dataset.kind = p.kind;
    if (p.kind === "number") { input.type = "number"; input.step = "any"; }
    else if (p.default === null) input.placeholder = "(default)";
    input.value = values && p.name in values ? values[p.name] : p.default;
    input.addEventListener("change", applySettings);
    label.appendChild(input);
    box.appendChild(label);
  }
}

function showRelevant(s) {
  const ds = pg.catalog.datasets.find((d) => d.name === s.dataset);
  $("noise").disabled = $("test_size").disabled = !(ds && ds.generated);
  $("data-note").textContent = ds && !ds.generated ? "XOR is its four patterns: train = test." : "";
  const lineSearch = s.batch_mode === "cg" || s.batch_mode === "lbfgs";
  for (const el of document.querySelectorAll("[data-for]")) {
    const f = el.dataset.for;
    el.hidden = (f === "minibatch" && s.batch_mode !== "minibatch") || (f === "steps" && lineSearch) ||
      (f === "momentum" && (lineSearch || !pg.catalog.momentum_optimizers.includes(s.optimizer)));
  }
}

function number(text) {
  const t = String(text).trim();
  return t !== "" && !isNaN(Number(t)) ? Number(t) : t;  // not a number: the server says so
}

function readSettings() {
  const s = {};
  for (const key of SETTINGS) {
    const v = $(key).value;
    if (key === "hidden") s.hidden = v.trim() === "" ? [] : v.split(",").map(number);
    else if ($(key).tagName === "SELECT") s[key] = v;
    else s[key] = number(v);
  }
  s.activation_params = {};
  for (const input of document.querySelectorAll("#activation-params input")) {
    const name = input.dataset.param;
    if (input.dataset.kind === "number") s.activation_params[name] = number(input.value);
    else if (input.value.trim() !== "") s.activation_params[name] = input.value.trim();  // empty: the default
  }
  return s;
}

// a control whose value the server refused (marked; the banner said why) sends the value
// in effect instead, unless it is the one changed now: one refused value does not block
// every later change
function withoutRefused(s, changed) {
  const now = pg.state ? pg.state.settings : null;
  if (!now) return s;
  for (const key of SETTINGS) if ($(key) !== changed && $(key).classList.contains("refused")) s[key] = now[key];
  for (const input of document.querySelectorAll("#activation-params input.refused")) {
    const name = input.dataset.param;
    if (input === changed) continue;
    if (name in now.activation_params) s.activation_params[name] = now.activation_params[name];
    else delete s.activation_params[name];
  }
  return s;
}

function markRefused(el, on) {
  el.classList.toggle("refused", on);
  if (on) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid");
}

// settings requests go one after the other (each answer shows the controls as the server
// took them; a later request must not be overtaken by an earlier answer)
let settingsQueue = Promise.resolve();
function applySettings(event) {
  const changed = event ? event.target : null;
  pg.generation += 1;
  const s = readSettings();
  if (changed === $("activation")) s.activation_params = {};  // the new one's defaults
  settingsQueue = settingsQueue.then(async () => {
    withoutRefused(s, changed);  // refusals of the requests before this one are known now
    const st = await api("POST", `/api/sessions/${pg.session}/settings`, { settings: s });
    if (st) receive(st, true);  // the controls show the settings in effect
    else if (changed && !$("error").hidden) markRefused(changed, true);  // it keeps the refused value, the banner says why
  });
  return settingsQueue;
}

async function recreate() {
  const st = await api("POST", "/api/sessions", { settings: withoutRefused(readSettings(), null) });
  if (st) receive(st, true);
  return null;  // the caller's request is void: its session is gone
}

// -- training -----------------------------------------------------------------------------
function setPlaying(on) {
  pg.playing = on;
  if (!on) {  // updates/s measures playing: nothing while paused
    upsTimes.length = 0;
    $("ups").textContent = "–";
  }
  $("play").innerHTML = on ? "&#x23F8; pause" : "&#x25B6; play";
  $("step").disabled = on || (pg.state !== null && pg.state.status !== "ready");
}

const upsTimes = [];
function countUpdate() {
  if (!pg.playing) return;  // a step, or an answer that arrives after the pause
  const now = performance.now();
  upsTimes.push(now);
  while (upsTimes.length && now - upsTimes[0] > 2000) upsTimes.shift();
  pg.ups = upsTimes.length > 1 ? (upsTimes.length - 1) / ((now - upsTimes[0]) / 1000) : 0;
  $("ups").textContent = pg.ups ? pg.ups.toFixed(1) : "–";
}

function average(key, ms) { pg.timing[key] = pg.timing[key] ? 0.9 * pg.timing[key] + 0.1 * ms : ms; }

async function train(epochs) {
  const t0 = performance.now(), generation = pg.generation;
  const st = await api("POST", `/api/sessions/${pg.session}/train`, { epochs, since: pg.records.length });
  const t1 = performance.now();
  if (st && generation !== pg.generation) return st;  // the settings changed meanwhile: a stale answer
  if (st) {
    receive(st, false);
    countUpdate();
    average("request", t1 - t0);
    average("render", performance.now() - t1);
  }
  return st;
}

async function play() {
  setPlaying(true);
  while (pg.playing) {
    const generation = pg.generation;
    const st = await train(Number($("speed").value));
    if (generation !== pg.generation) continue;  // the old run's answer: play the new run
    if (!st || st.status !== "ready") { setPlaying(false); break; }
    await new Promise((r) => setTimeout(r, 0));
  }
}

// -- receiving a state ------------------------------------------------------------------------
function receive(st, fresh) {
  if (fresh || st.id !== pg.session) {
    pg.session = st.id;
    pg.layout = st.layout || pg.layout;
    pg.layoutVersion = (pg.layoutVersion || 0) + 1;
    pg.records = [];
    pg.trace = null;
    $("trace-out").innerHTML = '<p class="note">Pick a sample and trace it: every number of its forward ' +
      "pass, the deltas, f'(z) and the update of one SGD step, computed by relunet's own passes.</p>";
    showSettings(st.settings);
    upsTimes.length = 0;
    pg.ups = 0;
    $("ups").textContent = "–";
  }
  const h = st.history;
  pg.records.length = Math.min(pg.records.length, h.since);
  for (const r of h.records) pg.records.push(r);
  pg.state = st;
  render();
}

function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
  return v.toFixed(digits === undefined ? 4 : digits);
}

function render() {
  const st = pg.state, lay = pg.layout;
  $("epoch").textContent = st.epoch;
  const last = st.last || {};
  $("train-loss").textContent = fmt(last.loss);
  $("test-loss").textContent = fmt(last.val_loss);
  $("score-label").textContent = st.score.name === "R^2" ? "test R²" : "test accuracy";
  $("test-score").textContent = fmt(st.score.value, 3);
  const status = $("status");
  status.hidden = !st.message;
  status.textContent = st.message || "";
  status.className = "banner " + (st.status === "blocked" || st.status === "diverged" ? "warn" : "info");
  $("play").disabled = st.status !== "ready";
  if (!pg.playing) $("step").disabled = st.status !== "ready";
  drawNetwork(st, lay);
  drawGrads(st.views.grad_norms);
  if (st.views.kind === "map") drawBoundary(st, lay); else drawCurve(st, lay);
  drawLoss();
  if ($("doctor").dataset.for !== st.id + "/" + pg.layoutVersion) {
    drawDoctor(lay.findings);
    $("doctor").dataset.for = st.id + "/" + pg.layoutVersion;
  }
  $("cmd").textContent = st.code.command;
  $("py").textContent = st.code.python;
}

// -- drawing: heat maps ---------------------------------------------------------------------------
function decode(b64) {
  const bin = atob(b64), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// value in 0..255 (128 = 0): orange below, white at 0, blue above
function diverging(v, strength) {
  const t = (v - 127.5) / 127.5, c = t < 0 ? COLOR.neg : COLOR.pos, a = strength * Math.min(1, Math.abs(t));
  return [255 + (c[0] - 255) * a, 255 + (c[1] - 255) * a, 255 + (c[2] - 255) * a];
}

function paintMap(canvas, bytes, n, strength = 1) {
  if (canvas.width !== n || canvas.height !== n) { canvas.width = n; canvas.height = n; }
  const ctx = canvas.getContext("2d");
  if (!canvas.image || canvas.image.width !== n) canvas.image = ctx.createImageData(n, n);
  const img = canvas.image;
  for (let i = 0; i < n * n; i++) {
    const [r, g, b] = diverging(bytes[i], strength);
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function paintCurve(canvas, ys, w, h) {
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  let m = 0;
  for (const y of ys) if (y !== null) m = Math.max(m, Math.abs(y));
  m = m || 1;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = "#dde1e6"; ctx.beginPath(); ctx.moveTo(0, h / 2); ctx.lineTo(w, h / 2); ctx.stroke();
  ctx.strokeStyle = "#1f77b4"; ctx.lineWidth = 1.5; ctx.beginPath();
  ys.forEach((y, i) => {
    const px = (i / (ys.length - 1)) * w, py = h / 2 - ((y || 0) / m) * (h / 2 - 2);
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  });
  ctx.stroke();
}

// -- drawing: the network ---------------------------------------------------------------------------
function netGeometry(sizes) {
  const maxUnits = Math.max(...sizes);
  const pitch = Math.max(22, Math.min(58, 420 / maxUnits));
  const size = Math.round(pitch - Math.max(6, pitch * 0.18));
  const width = Math.max(240, $("net-view").clientWidth || 420);  // the card's width, on a phone too
  const colGap = (width - size - 20) / Math.max(1, sizes.length - 1);
  const height = maxUnits * pitch + 26;
  const pos = sizes.map((n, l) => Array.from({ length: n }, (_, j) => ({
    x: 10 + l * colGap, y: 22 + (height - 22 - n * pitch) / 2 + j * pitch + (pitch - size) / 2 })));
  return { pos, size, width, height };
}

function drawNetwork(st, lay) {
  const view = $("net-view"), svg = $("net-svg");
  const sizes = lay.sizes, g = netGeometry(sizes), views = st.views;
  view.style.height = g.height + "px";
  svg.setAttribute("width", g.width); svg.setAttribute("height", g.height);
  const key = sizes.join("-") + "/" + g.width;
  if (view.dataset.key !== key) {  // a new architecture: new unit boxes
    for (const el of view.querySelectorAll(".unit, .layer-label")) el.remove();
    sizes.forEach((n, l) => {
      const label = document.createElement("div");
      label.className = "layer-label";
      const left = Math.max(0, Math.min(g.pos[l][0].x - 20, g.width - g.size - 40));
      label.style.left = left + "px"; label.style.width = (g.size + 40) + "px"; label.style.top = "2px";
      label.textContent = l === 0 ? "input" : l === sizes.length - 1 ? "output" : `hidden ${l}`;
      view.appendChild(label);
      g.pos[l].forEach((p, j) => {
        const box = document.createElement("div");
        box.className = "unit"; box.dataset.layer = l; box.dataset.unit = j;
        Object.assign(box.style, { left: p.x + "px", top: p.y + "px", width: g.size + "px", height: g.size + "px" });
        box.appendChild(document.createElement("canvas"));
        view.appendChild(box);
      });
    });
    view.dataset.key = key;
  }
  // weights: lines by sign (colour) and size (width)
  let maxW = 1e-9;
  for (const d of views.weights) for (const row of d.W) for (const w of row) maxW = Math.max(maxW, Math.abs(w));
  const half = g.size / 2, parts = [];
  views.weights.forEach((d, l) => {
    d.W.forEach((row, i) => row.forEach((w, j) => {
      const a = g.pos[l][i], b = g.pos[l + 1][j], t = Math.abs(w) / maxW;
      const c = w >= 0 ? COLOR.pos : COLOR.neg;
      parts.push(`<line x1="${a.x + g.size}" y1="${a.y + half}" x2="${b.x}" y2="${b.y + half}" ` +
        `stroke="rgb(${c})" stroke-opacity="${(0.25 + 0.7 * t).toFixed(2)}" stroke-width="${(0.4 + 5 * t).toFixed(2)}"/>`);
    }));
  });
  svg.innerHTML = parts.join("");
  // unit pictures: inputs, hidden units, the output; dead units marked
  const boxes = view.querySelectorAll(".unit");
  for (const box of boxes) {
    const l = Number(box.dataset.layer), j = Number(box.dataset.unit), canvas = box.firstChild;
    const dead = l > 0 && views.dead[l - 1] && views.dead[l - 1].includes(j);
    box.classList.toggle("dead", !!dead);
    let title = l === 0 ? `input x${j + 1}` : `${l === sizes.length - 1 ? "output" : "hidden " + l} unit ${j + 1} (${lay.activations[l - 1]})`;
    if (l > 0) title += `\nbias ${fmt(views.weights[l - 1].b[j], 3)}`;
    if (dead) title += "\ndead: its input is <= 0 for every training sample, so it gets no gradient";
    box.title = title;
    if (views.kind === "map") {
      if (l === 0) paintMap(canvas, inputMap(j, views.unit_n), views.unit_n);
      else if (l === sizes.length - 1) paintMap(canvas, outputThumb(views, sizes[l] === 2 && j === 0 && lay.activations[l - 1] === "softmax"), views.unit_n);
      else paintMap(canvas, decode(views.units[l - 1][j].map), views.unit_n);
    } else {
      const ys = l === 0 ? views.x : l === sizes.length - 1 ? views.output : views.units[l - 1][j];
      paintCurve(canvas, ys, 64, 64);
    }
  }
  $("net-caption").textContent = `${sizes.join("-")}, ${lay.activations.slice(0, -1)[0] || "no hidden layer"}` +
    ` → ${lay.activations[lay.activations.length - 1]} + ${lay.loss}`;
}

function inputMap(j, n) {  // x1 rises left to right, x2 bottom to top
  const out = new Uint8Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) out[r * n + c] = Math.round(j === 0 ? (c / (n - 1)) * 255 : (1 - r / (n - 1)) * 255);
  return out;
}

// the output unit's map, from the class-1 score: a two-unit softmax's first unit is p(0) = 1 - p(1)
function outputThumb(views, complement) {
  const full = decode(views.output), n = views.n, m = views.unit_n, step = n / m, out = new Uint8Array(m * m);
  for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) {
    const v = full[r * step * n + c * step];
    out[r * m + c] = complement ? 255 - v : v;
  }
  return out;
}

function drawGrads(norms) {
  const box = $("grads");
  const logs = norms.map((v) => (v > 0 ? Math.log10(v) : -8));
  const lo = Math.min(...logs, -6), hi = Math.max(...logs, lo + 1);
  if (box.children.length !== norms.length) {
    box.textContent = "";
    norms.forEach((_, i) => {
      const row = document.createElement("div");
      row.className = "bar";
      const name = document.createElement("span");
      name.textContent = i === norms.length - 1 ? "output" : `layer ${i + 1}`;
      const track = document.createElement("div");
      track.className = "track";
      const fill = document.createElement("div");
      fill.className = "fill";
      track.appendChild(fill);
      const value = document.createElement("span");
      value.className = "value";
      row.append(name, track, value);
      box.appendChild(row);
    });
  }
  norms.forEach((v, i) => {
    const row = box.children[i], w = v ? (100 * (Math.log10(v) - lo)) / (hi - lo) : 0;
    row.querySelector(".fill").style.width = Math.max(1, w).toFixed(1) + "%";
    row.querySelector(".value").textContent = fmt(v, 4);
  });
}

// -- drawing: the output ---------------------------------------------------------------------------
function toPixel(lay, W, H) {
  const e = lay.extent;
  if (e.length === 2) return null;
  return (p) => [((p[0] - e[0]) / (e[1] - e[0])) * W, H - ((p[1] - e[2]) / (e[3] - e[2])) * H];
}

function drawBoundary(st, lay) {
  const canvas = $("boundary"), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  const off = document.createElement("canvas");
  paintMap(off, decode(st.views.output), st.views.n, 0.6);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, W, H);
  const px = toPixel(lay, W, H);
  drawAxes(ctx, lay.extent, W, H);
  const pts = (part, test) => lay[part].x.forEach((p, i) => {
    const [x, y] = px(p);
    ctx.beginPath(); ctx.arc(x, y, lay.train.x.length <= 8 ? 7 : 3.6, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${lay[part].y[i] > 0.5 ? COLOR.pos : COLOR.neg})`;
    ctx.fill();
    ctx.lineWidth = test ? 1.6 : 1; ctx.strokeStyle = test ? "#111" : "#fff"; ctx.stroke();
  });
  pts("train", false);
  if (!sameAsTrain(lay)) pts("test", true);
  $("out-caption").textContent = lay.description;
  $("boundary-legend").innerHTML = '<span class="item"><span class="dot c0"></span> class 0</span>' +
    '<span class="item"><span class="dot c1"></span> class 1</span>' +
    (sameAsTrain(lay) ? "" : '<span class="item"><span class="dot test c1"></span> test sample</span>') +
    '<span class="item">shade: the score for class 1 (white: 0.5, the boundary)</span>';
}

function sameAsTrain(lay) { return lay.train.x.length === lay.test.x.length && lay.train.x.length <= 8; }

function drawAxes(ctx, e, W, H) {
  ctx.font = "10px system-ui, sans-serif";
  const label = (text, x, y, align) => {
    ctx.textAlign = align;
    const w = ctx.measureText(text).width;
    ctx.fillStyle = "rgba(255,255,255,0.8)";
    ctx.fillRect(align === "right" ? x - w - 2 : x - 2, y - 9, w + 4, 12);
    ctx.fillStyle = "#3a4651"; ctx.fillText(text, x, y);
  };
  label(`x1 ${e[0].toFixed(1)}`, 4, H - 4, "left");
  label(e[1].toFixed(1), W - 4, H - 4, "right");
  label(`x2 ${e[3].toFixed(1)}`, 4, 12, "left");
  ctx.textAlign = "left";
}

function drawCurve(st, lay) {
  const canvas = $("boundary"), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  const e = lay.extent, ys = [...lay.train.y, ...lay.test.y, ...st.views.output.filter((v) => v !== null)];
  const lo = Math.min(...ys), hi = Math.max(...ys), pad = 0.1 * (hi - lo || 1);
  const sx = (x) => ((x - e[0]) / (e[1] - e[0])) * W, sy = (y) => H - ((y - lo + pad) / (hi - lo + 2 * pad)) * H;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = "#eef0f2"; ctx.beginPath(); ctx.moveTo(0, sy(0)); ctx.lineTo(W, sy(0)); ctx.stroke();
  const dots = (part, test) => lay[part].x.forEach((p, i) => {
    ctx.beginPath(); ctx.arc(sx(p[0]), sy(lay[part].y[i]), 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = test ? "#fff" : "rgb(232,130,12)"; ctx.fill();
    ctx.strokeStyle = test ? "#111" : "#fff"; ctx.lineWidth = 1; ctx.stroke();
  });
  dots("train", false); dots("test", true);
  ctx.strokeStyle = `rgb(${COLOR.pos})`; ctx.lineWidth = 2.5; ctx.beginPath();
  st.views.x.forEach((x, i) => {
    const y = st.views.output[i] === null ? 0 : st.views.output[i];
    if (i === 0) ctx.moveTo(sx(x), sy(y)); else ctx.lineTo(sx(x), sy(y));
  });
  ctx.stroke();
  $("out-caption").textContent = lay.description;
  $("boundary-legend").innerHTML = '<span class="item"><span class="dot c0"></span> train</span>' +
    '<span class="item"><span class="dot test blank"></span> test</span>' +
    '<span class="item"><span class="swatch pos"></span> the network\'s prediction</span>';
}

function drawLoss() {
  const canvas = $("loss-chart"), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  const recs = pg.records, empty = $("loss-empty");
  ctx.strokeStyle = "#dde1e6"; ctx.strokeRect(0.5, 0.5, W - 1, H - 1);
  empty.hidden = recs.length > 0;
  if (recs.length < 1) {  // what to do next; with training off, the banner above says why
    const status = pg.state.status;
    empty.textContent = status === "ready" ? "no epoch trained yet: press play or step"
      : status === "blocked" ? "training is off: see the doctor's error below"
      : "the run stopped before its first epoch: see the message at the top";
    return;
  }
  let hi = 0;
  for (const r of recs) for (const k of ["loss", "val_loss"]) if (r[k] !== null && isFinite(r[k])) hi = Math.max(hi, r[k]);
  hi = hi || 1;
  const n = Math.max(2, recs.length);
  const line = (key, color, dash) => {
    ctx.strokeStyle = color; ctx.lineWidth = 1.6; ctx.setLineDash(dash); ctx.beginPath();
    const stride = Math.max(1, Math.floor(recs.length / W));
    let started = false;
    for (let i = 0; i < recs.length; i += stride) {
      const v = recs[i][key];
      if (v === null) continue;
      const x = 30 + (i / (n - 1)) * (W - 36), y = H - 16 - (Math.min(v, hi) / hi) * (H - 26);
      if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
    }
    ctx.stroke(); ctx.setLineDash([]);
  };
  line("loss", "#2d3a45", []);
  line("val_loss", "#1f6feb", [5, 3]);
  ctx.fillStyle = "#65717e"; ctx.font = "10px system-ui, sans-serif";
  ctx.fillText(fmt(hi, 3), 3, 12); ctx.fillText("0", 3, H - 14);
  ctx.fillText(`epoch ${recs.length}`, W - 62, H - 4);
}

function drawDoctor(findings) {
  const box = $("doctor");
  if (!findings.length) { box.innerHTML = '<p class="ok">No problems found in this set-up.</p>'; return; }
  box.textContent = "";
  for (const f of findings) {
    const div = document.createElement("div");
    div.className = `finding ${f.severity}`;
    div.dataset.rule = f.rule;
    const b = document.createElement("b");
    b.textContent = `${f.severity}${f.layer ? " (" + f.layer + ")" : ""}: ${f.title}`;
    const fix = document.createElement("div");
    fix.className = "fix";
    fix.textContent = "fix: " + f.fix;
    div.title = f.explanation;
    div.append(b, fix);
    box.appendChild(div);
  }
}

// -- the backpropagation step -------------------------------------------------------------------------
async function doTrace() {
  const t = await api("POST", `/api/sessions/${pg.session}/trace`,
    { part: $("trace-part").value, index: number($("trace-index").value) });
  if (!t) return;
  pg.trace = t;
  const box = $("trace-out"), step = t.step, n = step.layers.length;
  const v = (x) => fmt(x, 4);
  let html = `<div class="rule">sample x = [${t.x.map(v).join(", ")}], target y = ${v(t.y)};` +
    ` ${t.loss_name} = ${v(step.loss)}\n${step.delta_rule}</div>`;
  step.layers.forEach((L, k) => {
    const l = L.index, units = L.z[0].length, out = k === n - 1;
    html += `<h3>layer ${l}: dense ${L.shape[0]} → ${L.shape[1]}, ${L.activation}${out ? " (output)" : ""}</h3>`;
    html += "<table><tr><th>unit</th><th>z = a·W + b</th><th>a = f(z)</th><th>f'(z)</th><th>δ = dL/dz</th><th>Δb = −lr·δ</th></tr>";
    for (let j = 0; j < units; j++) {
      html += `<tr><td>${j + 1}</td><td>${v(L.z[0][j])}</td><td>${v(L.a[0][j])}</td>` +
        `<td>${L.derivative ? v(L.derivative[0][j]) : "–"}</td><td>${v(L.delta[0][j])}</td><td>${v(L.update_b[j])}</td></tr>`;
    }
    html += "</table>";
    html += `<div class="rule">w += −lr · δ_j · a_i  (lr = ${t.lr}):  ΔW = ` +
      `[${L.update_W.map((row) => "[" + row.map(v).join(", ") + "]").join(", ")}]</div>`;
  });
  box.innerHTML = html;
}

// -- start ----------------------------------------------------------------------------------------
async function start() {
  pg.catalog = await api("GET", "/api/catalog");
  if (!pg.catalog) return;
  fillControls(pg.catalog);
  for (const key of SETTINGS) $(key).addEventListener("change", applySettings);
  $("play").addEventListener("click", () => (pg.playing ? setPlaying(false) : play()));
  $("step").addEventListener("click", () => train(1));
  $("reset").addEventListener("click", () => {
    setPlaying(false);
    pg.generation += 1;
    settingsQueue = settingsQueue.then(async () => {
      const st = await api("POST", `/api/sessions/${pg.session}/reset`, {});
      if (st) receive(st, true);
    });
  });
  $("trace").addEventListener("click", doTrace);
  for (const b of document.querySelectorAll("[data-copy]")) {
    b.addEventListener("click", () => copy($(b.dataset.copy).textContent, b));
  }
  // the network's picture follows the width of its card
  let width = 0;
  new ResizeObserver(() => {
    const w = $("net-view").clientWidth;
    if (w !== width && pg.state) { width = w; requestAnimationFrame(() => drawNetwork(pg.state, pg.layout)); }
  }).observe($("net-view"));
  window.addEventListener("pagehide", () => {
    if (pg.session) fetch(`/api/sessions/${pg.session}`, { method: "DELETE", keepalive: true });
  });
  const st = await api("POST", "/api/sessions", { settings: pg.catalog.defaults });
  if (st) receive(st, true);
  pg.ready = true;
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "copied";
  } catch (e) {
    button.textContent = "select and copy";
  }
  setTimeout(() => (button.textContent = "copy"), 1500);
}

start();
