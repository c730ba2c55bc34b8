/* simkyc outlet pages: clerk registration flow, supervisor review, auditor log and dashboard, admin.
   Plain JavaScript; talks only to this server's /api. The session token lives in sessionStorage
   (gone when the tab closes) and is sent as a Bearer header, so no cookies and no CSRF surface. */
"use strict";

const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

const state = {
  token: sessionStorage.getItem("simkyc.token"),
  user: JSON.parse(sessionStorage.getItem("simkyc.user") || "null"),
  portrait: null, // Blob of the ID portrait (chip record) or the card photo (OCR)
  source: "chip",
  fields: null,
  reg: null, // the open registration: {id, challenge, ...}
  stream: null,
  lastResult: null,
};

/* ---------- API ---------- */
class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.reason)) || "HTTP " + status);
    this.status = status; this.reason = body && body.reason; this.body = body;
  }
}

async function api(method, path, body, opts) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  let res;
  try { res = await fetch(path, { method, headers, body: payload, signal: opts && opts.signal }); }
  catch (e) { throw new ApiError(0, { reason: "NETWORK", detail: t("err_network") }); }
  if (res.status === 204) return null;
  const ct = res.headers.get("content-type") || "";
  const data = ct.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    if (res.status === 401 && path !== "/api/auth/login") { signOut(); }
    throw new ApiError(res.status, data);
  }
  return data;
}

// A batch lost in transit (the network, a worker restarting behind the proxy) goes again with the
// same number: the server recognises the resend and answers with the first delivery's events.
async function sendBatch(regId, fd) {
  for (let attempt = 0; ; attempt++) {
    try { return await api("POST", `/api/registrations/${regId}/frames`, fd); }
    catch (e) {
      const transient = e instanceof ApiError && (e.status === 0 || e.status >= 502);
      if (!transient || attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 300 * (attempt + 1)));
    }
  }
}

function showError(el, err) {
  el.textContent = err instanceof ApiError && err.reason ? reasonText(err.reason, err.body && err.body.detail) : String(err.message || err);
}

/* ---------- screens ---------- */
const HOME = { clerk: "intake", supervisor: "reviews", auditor: "audit", admin: "admin" };

function show(name) {
  $$(".screen").forEach((s) => { s.hidden = s.id !== "screen-" + name; });
  document.body.dataset.screen = name;
  if (name !== "camera") stopCamera();
  readerWatch(name === "intake");
  const loaders = { mine: loadMine, reviews: loadReviews, audit: loadAudit, dashboard: loadDashboard, admin: loadAdmin };
  if (loaders[name]) loaders[name]().catch((e) => console.error(e));
}

function renderWho() {
  const nav = $("#nav");
  if (!state.user) { $("#who").textContent = ""; nav.hidden = true; return; }
  const u = state.user;
  const outlet = u.outlet_code ? ` · ${u.outlet_code} ${u.outlet_name || ""}`.trimEnd() : (u.outlet_id ? ` · #${u.outlet_id}` : "");
  $("#who").textContent = `${u.username} · ${u.role}` + outlet;
  nav.hidden = false;
  $$("#nav [data-role]").forEach((b) => { b.hidden = !b.dataset.role.split(" ").includes(state.user.role); });
}

function signOut() {
  state.token = null; state.user = null;
  sessionStorage.removeItem("simkyc.token"); sessionStorage.removeItem("simkyc.user");
  renderWho(); show("login");
}

/* ---------- login ---------- */
$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $("#login-error").textContent = "";
  try {
    const out = await api("POST", "/api/auth/login", { username: f.get("username"), password: f.get("password") });
    state.token = out.token; state.user = out.user;
    sessionStorage.setItem("simkyc.token", out.token); sessionStorage.setItem("simkyc.user", JSON.stringify(out.user));
    ev.target.reset(); renderWho(); show(HOME[out.user.role]);
  } catch (e) {
    if (e instanceof ApiError && e.reason === "NOT_AUTHENTICATED") $("#login-error").textContent = LANG === "zh" ? t("login_failed") : (e.body && e.body.detail) || t("login_failed");
    else showError($("#login-error"), e);
  }
});
$("#logout").addEventListener("click", async () => { try { await api("POST", "/api/auth/logout"); } catch (e) { /* already gone */ } signOut(); });
$$("#nav [data-go]").forEach((b) => b.addEventListener("click", () => show(b.dataset.go)));
$("#lang").addEventListener("click", toggleLang);

/* ---------- intake ---------- */
$$(".tab").forEach((tab) => tab.addEventListener("click", () => {
  $$(".tab").forEach((x) => x.classList.toggle("active", x === tab));
  $$(".tabpane").forEach((p) => { p.hidden = p.dataset.pane !== tab.dataset.tab; });
}));

function ymd(s) { // "19491231" | "1949-12-31" -> "1949-12-31"
  if (!s) return "";
  const d = String(s).replace(/[^0-9]/g, "");
  return d.length === 8 ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : "";
}

function setPortrait(blob) {
  state.portrait = blob;
  const img = $("#portrait");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = blob ? URL.createObjectURL(blob) : "";
}

function fillForm(fields) {
  const form = $("#intake-form");
  for (const [k, v] of Object.entries(fields)) {
    const el = form.elements.namedItem(k);
    if (el && v !== undefined && v !== null) el.value = v;
  }
}

function sexCode(v) {
  const s = String(v || "").trim().toUpperCase();
  return s === "2" || s === "F" || s === "女" ? "F" : "M";
}

// GB 3304 ethnic groups in code order (01 汉 ... 56 基诺), as the chip stores them.
const ETHNIC = ("汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 " +
  "柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺").split(" ");
function ethnicName(v) {
  const s = String(v || "").trim();
  if (/^[0-9]{1,2}$/.test(s)) { const n = Number(s); return n >= 1 && n <= ETHNIC.length ? ETHNIC[n - 1] : n === 97 ? "其他" : n === 98 ? "外国血统中国籍人士" : s; }
  return s.replace(/族$/, "");
}

/* A simkyc-chip-record/1 object (file upload or the reader bridge) into the form and the portrait. */
function fillFromRecord(rec) {
  const until = String(rec.valid_until || "");
  fillForm({
    name: rec.name || "", id_number: rec.id_number || "", sex: sexCode(rec.sex), birth_date: ymd(rec.birth_date),
    valid_from: ymd(rec.valid_from), valid_until: /长期|long/i.test(until) ? "" : ymd(until), address: rec.address || "",
    ethnicity: ethnicName(rec.ethnicity), issuer: rec.issuer || "",
  });
  state.source = "chip";
  if (rec.portrait && rec.portrait.data && rec.portrait.format !== "wlt") {
    const bin = Uint8Array.from(atob(rec.portrait.data), (c) => c.charCodeAt(0));
    setPortrait(new Blob([bin], { type: "image/" + (rec.portrait.format || "jpeg") }));
  }
  $("#ocr-status").textContent = "";
}

$("#chip-file").addEventListener("change", async (ev) => {
  const file = ev.target.files[0];
  $("#intake-error").textContent = "";
  if (!file) return;
  try {
    fillFromRecord(JSON.parse(await file.text()));
    $("#intake-status").textContent = t("chip_done");
  } catch (e) { $("#intake-error").textContent = reasonText("ID_RECORD_INVALID", "The ID reader record is malformed."); }
});

/* ---------- the outlet PC's card reader (`simkyc reader serve` on localhost) ---------- */
const reader = { timer: null, status: null, gen: 0 };
function readerUrl() { return state.user && state.user.reader_bridge_url; }

async function readerPoll() {
  const base = readerUrl();
  if (!base) return;
  let st;
  try {
    const res = await fetch(base.replace(/\/$/, "") + "/status", { cache: "no-store" });
    st = await res.json();
  } catch (e) { st = { status: "offline" }; }
  reader.status = st;
  const el = $("#reader-status");
  const key = { waiting: "reader_waiting", ready: "reader_ready", offline: "reader_offline" }[st.status];
  el.textContent = key ? t(key) : reasonText(st.reason, st.message);
  $("#reader-read").disabled = st.status !== "ready";
}

function readerWatch(on) {
  const gen = ++reader.gen; // a newer call (another screen) ends this watch
  if (reader.timer) { clearTimeout(reader.timer); reader.timer = null; }
  if (!on || !readerUrl()) { $("#reader-status").textContent = readerUrl() ? "" : t("reader_offline"); return; }
  const tick = async () => {
    await readerPoll();
    // every second while a reader answers; every 5 s while none does (no bridge on this PC)
    if (gen === reader.gen) reader.timer = setTimeout(tick, reader.status && reader.status.status !== "offline" ? 1000 : 5000);
  };
  tick();
}

$("#reader-read").addEventListener("click", async () => {
  $("#intake-error").textContent = "";
  try {
    const res = await fetch(readerUrl().replace(/\/$/, "") + "/card", { cache: "no-store" });
    const out = await res.json();
    if (out.status !== "ready" || !out.record) { $("#intake-error").textContent = reasonText(out.reason || "CARD_NOT_FOUND", out.message); return; }
    fillFromRecord(out.record);
    const noPortrait = (out.warnings || []).includes("PORTRAIT_UNAVAILABLE");
    if (noPortrait) setPortrait(null);
    $("#intake-status").textContent = noPortrait ? t("reader_no_portrait") : t("reader_filled");
  } catch (e) { $("#intake-error").textContent = t("reader_offline"); }
});

$("#card-file").addEventListener("change", async (ev) => {
  const file = ev.target.files[0];
  if (!file) return;
  state.source = "ocr";
  setPortrait(file);
  $("#ocr-status").textContent = t("ocr_running");
  const fd = new FormData(); fd.append("image", file);
  try {
    const out = await api("POST", "/api/documents/ocr", fd);
    const f = out.fields || {};
    fillForm({
      name: f.name || "", id_number: f.id_number || "", sex: f.sex ? sexCode(f.sex) : undefined,
      birth_date: ymd(f.birth_date), valid_from: ymd(f.valid_from), valid_until: ymd(f.valid_until), address: f.address || "",
      ethnicity: f.ethnicity ? ethnicName(f.ethnicity) : undefined, issuer: f.issuer || undefined,
    });
    $("#ocr-status").textContent = t("ocr_done") + (out.unreadable && out.unreadable.length ? " (" + out.unreadable.join(", ") + ")" : "");
  } catch (e) { showError($("#ocr-status"), e); }
});

$("#intake-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!state.portrait) { $("#intake-error").textContent = t("need_portrait"); return; }
  const f = Object.fromEntries(new FormData(ev.target).entries());
  f.id_number = f.id_number.toUpperCase();
  f.valid_until = f.valid_until || null;
  f.ethnicity = f.ethnicity || null; f.issuer = f.issuer || null;
  state.fields = f;
  $("#intake-error").textContent = "";
  $("#consent-box").checked = false; $("#consent-go").disabled = true;
  show("consent");
});

/* The customer at the counter: the card's name and ID number, then a live check against the
   stored template (POST /api/customers/presence); once APPROVED, the result screen lists their
   numbers in full and lets the clerk cancel one (the presence check's id is the proof). */
$("#counter-go").addEventListener("click", async () => {
  const form = $("#intake-form");
  const name = form.elements.name.value.trim(), idNumber = form.elements.id_number.value.trim().toUpperCase();
  $("#intake-error").textContent = "";
  if (!name || !/^[0-9]{17}[0-9X]$/.test(idNumber)) { $("#intake-error").textContent = t("need_card"); return; }
  try {
    state.reg = await api("POST", "/api/customers/presence", { id_number: idNumber, name });
    state.mode = "presence"; state.fields = { id_number: idNumber, name };
    show("camera");
    runCapture().catch((e) => { console.error(e); });
  } catch (e) { showError($("#intake-error"), e); }
});

async function loadCustomerNumbers() {
  const tb = $("#numbers-table tbody"); tb.replaceChildren();
  $("#numbers-error").textContent = "";
  const presence = state.reg.id;
  const rows = await api("POST", "/api/customers/report", { id_number: state.fields.id_number, presence });
  for (const r of rows) {
    const tr = document.createElement("tr");
    cell(tr, r.number); cell(tr, r.operator_id); cell(tr, r.outlet_code); cell(tr, t("number_" + r.status) || r.status);
    const td = document.createElement("td");
    if (r.status === "active") {
      const b = document.createElement("button"); b.type = "button"; b.textContent = t("cancel_number"); b.dataset.number = r.number;
      b.addEventListener("click", async () => {
        if (!confirm(t("cancel_confirm", { phone: r.number }))) return;
        try { await api("POST", `/api/numbers/${r.number}/cancel`, { presence }); await loadCustomerNumbers(); }
        catch (e) { showError($("#numbers-error"), e); }
      });
      td.append(b);
    }
    tr.append(td); tb.append(tr);
  }
}

/* ---------- consent ---------- */
$("#consent-box").addEventListener("change", (ev) => { $("#consent-go").disabled = !ev.target.checked; });
$("#consent-back").addEventListener("click", () => show("intake"));
$("#consent-go").addEventListener("click", async () => {
  $("#consent-error").textContent = "";
  $("#consent-go").disabled = true;
  const fd = new FormData();
  fd.append("fields", JSON.stringify({ ...state.fields, document_source: state.source, consent: true, consent_text_version: "face-consent-zh-v1", light_fallback: $("#light-fallback").checked }));
  fd.append("portrait", state.portrait, "portrait");
  try {
    state.reg = await api("POST", "/api/registrations", fd);
    state.mode = "registration";
    show("camera");
    runCapture().catch((e) => { console.error(e); });
  } catch (e) { showError($("#consent-error"), e); $("#consent-go").disabled = false; }
});

/* ---------- camera and liveness ---------- */
const PROMPT = { blink: "prompt_blink", turn_left: "prompt_turn_left", turn_right: "prompt_turn_right", nod: "prompt_nod" };

function renderSteps(actions, done, current) {
  const ol = $("#steps"); ol.replaceChildren();
  actions.forEach((a, i) => {
    const li = document.createElement("li");
    li.textContent = t(PROMPT[a]) + (done.has(i) ? " ✓" : "");
    li.className = done.has(i) ? "done" : i === current ? "current" : "";
    ol.append(li);
  });
}

function stopCamera() {
  if (state.stream) { state.stream.getTracks().forEach((tr) => tr.stop()); state.stream = null; }
  endLight();
}

/* Light challenge: the server's colours fill the screen around the camera stage, one after another;
   every grabbed frame carries the index of the colour on screen when it was grabbed (-1: none). The
   sequence starts LIGHT_LEAD_MS after the first camera frame (exposure settles), timed on
   performance.now() and painted on animation frames. */
const LIGHT_LEAD_MS = 1000;
const light = { steps: [], bounds: [], t0: null, raf: 0 };

function lightStepAt(now) {
  if (light.t0 === null || now < light.t0) return -1;
  const e = now - light.t0;
  for (let k = 0; k < light.steps.length; k++) if (e < light.bounds[k + 1]) return k;
  return -1;
}

function lightActive(now, marginMs) {
  return light.t0 !== null && now >= light.t0 - marginMs && now < light.t0 + light.bounds[light.steps.length] + marginMs;
}

function startLight(steps, t0) {
  light.steps = steps; light.t0 = t0; light.bounds = [0];
  steps.forEach((st) => light.bounds.push(light.bounds[light.bounds.length - 1] + st.ms));
  const overlay = $("#light-overlay");
  const paint = () => {
    const now = performance.now();
    const k = lightStepAt(now);
    if (k >= 0) { overlay.style.background = light.steps[k].rgb; overlay.hidden = false; document.body.classList.add("flashing"); }
    if (now >= light.t0 + light.bounds[light.steps.length]) { endLight(); return; }
    light.raf = requestAnimationFrame(paint);
  };
  light.raf = requestAnimationFrame(paint);
}

function endLight() {
  if (light.raf) cancelAnimationFrame(light.raf);
  light.raf = 0;
  $("#light-overlay").hidden = true;
  document.body.classList.remove("flashing");
}

async function runCapture() {
  const reg = state.reg;
  const ch = reg.challenge;
  const video = $("#video");
  const prompt = $("#prompt");
  const done = new Set();
  let current = 0;
  renderSteps(ch.actions, done, current);
  const steps = ch.light || [];
  light.t0 = null;
  $("#light-note").hidden = !ch.light_waived;
  if (steps.length) { // readiness: what is about to happen, then the clerk starts it
    $("#light-ready").hidden = false;
    prompt.textContent = t("face_in_oval");
    await new Promise((r) => $("#light-start").addEventListener("click", r, { once: true }));
    $("#light-ready").hidden = true;
  }
  prompt.textContent = t("camera_starting");
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) { prompt.textContent = t("camera_denied") + e.name; return; }
  video.srcObject = state.stream;
  await video.play().catch(() => {});
  // Server clock offset: capture timestamps are sent on the server's clock, which issued the challenge.
  const offset = reg.server_time - Date.now() / 1000;
  const canvas = document.createElement("canvas");
  const ctx2d = canvas.getContext("2d");
  let pending = [], sent = 0, seq = 0, finished = false, inflight = null, noFaceSince = null;
  prompt.textContent = steps.length ? t("light_look") : t(PROMPT[ch.actions[0]]);

  // One grab at a time (so frames stay in capture order), and only of a frame the camera has
  // actually delivered since the last grab: a stalled camera must not look like a replayed frame.
  let grabbing = false, lastGrab = 0, fresh = true;
  const grab = async () => {
    if (!video.videoWidth || grabbing || !fresh) return;
    grabbing = true; fresh = false;
    try {
      const w = Math.min(640, video.videoWidth), h = Math.round((video.videoHeight / video.videoWidth) * w);
      canvas.width = w; canvas.height = h;
      ctx2d.drawImage(video, 0, 0, w, h);
      const ts = Date.now() / 1000 + offset;
      const lit = lightStepAt(performance.now());
      const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.85));
      if (blob) pending.push({ blob, ts, light: lit });
    } finally { grabbing = false; }
  };
  if ("requestVideoFrameCallback" in video) {
    const onFrame = (now) => {
      if (finished || !state.stream) return;
      fresh = true;
      if (steps.length && light.t0 === null) startLight(steps, performance.now() + LIGHT_LEAD_MS);
      const every = lightActive(performance.now(), 300) ? 30 : 95; // every camera frame while flashing
      if (now - lastGrab >= every) { lastGrab = now; grab(); }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  const flush = async () => {
    if (!pending.length || inflight) return;
    const batch = pending.splice(0, 30); // the server takes at most 40 frames per request
    const fd = new FormData();
    batch.forEach((f, i) => fd.append("frames", f.blob, `f${i}.jpg`));
    fd.append("timestamps", JSON.stringify(batch.map((f) => f.ts)));
    if (steps.length) fd.append("lights", JSON.stringify(batch.map((f) => f.light)));
    fd.append("seq", String(seq));
    inflight = sendBatch(reg.id, fd);
    try {
      const out = await inflight;
      seq += 1;
      sent += batch.length;
      $("#sent").textContent = t("frames_sent", { n: sent });
      for (const e of out.events || []) {
        if (e.kind === "action_done") { done.add(current); current += 1; }
        if (e.kind === "waiting_for" && e.action) current = Math.max(current, ch.actions.indexOf(e.action));
        if (e.kind === "passed" || e.kind === "failed") finished = true;
      }
      if (out.finished) finished = true;
      renderSteps(ch.actions, done, current);
      const flashing = lightActive(performance.now(), 0);
      prompt.textContent = finished ? t("deciding") : flashing ? t("light_look") : current < ch.actions.length ? t(PROMPT[ch.actions[current]]) : t("deciding");
      noFaceSince = out.face_in_view === false ? (noFaceSince || Date.now()) : null;
      const lost = !finished && noFaceSince !== null && Date.now() - noFaceSince > 1500;
      prompt.classList.toggle("warn", lost);
      if (lost) prompt.textContent = t("no_face");
    } finally { inflight = null; }
  };

  // Browsers without requestVideoFrameCallback: a plain 10 frames/s timer.
  const grabTimer = "requestVideoFrameCallback" in video ? null : setInterval(() => {
    if (steps.length && light.t0 === null && video.videoWidth) startLight(steps, performance.now() + LIGHT_LEAD_MS);
    fresh = true; grab();
  }, 100);
  try {
    while (!finished) {
      const left = Math.max(0, ch.deadline - (Date.now() / 1000 + offset));
      $("#countdown").textContent = t("seconds_left", { s: Math.ceil(left) });
      if (left <= 0) break;
      if (!lightActive(performance.now(), 0) && steps.length && light.t0 !== null && prompt.textContent === t("light_look")) {
        prompt.textContent = current < ch.actions.length ? t(PROMPT[ch.actions[current]]) : t("deciding");
      }
      await new Promise((r) => setTimeout(r, 350));
      await flush();
    }
  } catch (e) { console.error(e); }
  if (grabTimer) clearInterval(grabTimer);
  finished = true;
  if (inflight) { try { await inflight; } catch (e) { /* reported by finish */ } }
  stopCamera();
  prompt.textContent = t("deciding");
  try {
    const out = await api("POST", `/api/registrations/${reg.id}/finish`);
    showResult(out);
  } catch (e) {
    // Not a decision: the server could not decide (a model missing, a lost session). Say so, offer a retry.
    showResult({ id: reg.id, status: "ERROR", reasons: [{ code: e.reason || "INTERNAL_ERROR", message: e.body && e.body.detail }] });
  }
}

/* ---------- result ---------- */
function showResult(r) {
  state.lastResult = r;
  const status = r.status || r.decision;
  const badge = $("#result-badge");
  badge.className = "badge " + status; badge.textContent = t("out_" + status);
  const presence = state.mode === "presence";
  $("#result-words").textContent = t((presence && status === "APPROVED" ? "words_presence_" : "words_") + status, { phone: r.phone_number || "" });
  const ul = $("#result-reasons"); ul.replaceChildren();
  (r.reasons || []).filter((x) => x.code !== "FACE_MATCH" || status !== "APPROVED").forEach((x) => {
    const li = document.createElement("li"); li.textContent = reasonText(x.code, x.message); li.dataset.code = x.code; ul.append(li);
  });
  const dl = $("#result-facts"); dl.replaceChildren();
  const fact = (k, v) => { if (v === undefined || v === null || v === "") return; const dt = document.createElement("dt"); dt.textContent = t(k); const dd = document.createElement("dd"); dd.textContent = v; dl.append(dt, dd); };
  fact("fact_reg", r.id); fact("fact_id", r.id_masked);
  if (r.scores && r.scores.match !== undefined) fact("fact_score", Number(r.scores.match).toFixed(3));
  if (r.thresholds && r.thresholds.accept !== undefined) fact("fact_threshold", Number(r.thresholds.accept).toFixed(3));
  $("#result-retry").hidden = status !== "RETRY" && status !== "ERROR";
  $("#result-numbers").hidden = !(presence && status === "APPROVED");
  show("result");
  if (presence && status === "APPROVED") loadCustomerNumbers().catch((e) => showError($("#numbers-error"), e));
}
$("#result-next").addEventListener("click", () => {
  $("#intake-form").reset(); setPortrait(null); state.fields = null; state.reg = null; state.mode = null; $("#light-fallback").checked = false;
  $("#chip-file").value = ""; $("#card-file").value = ""; $("#ocr-status").textContent = ""; $("#intake-error").textContent = "";
  $("#intake-status").textContent = "";
  show("intake");
});
$("#result-retry").addEventListener("click", () => {
  if (state.mode === "presence") { show("intake"); return; } // the card is still in the form: check again
  // a new attempt is a new registration with a new challenge; consent is asked again
  $("#consent-box").checked = false; $("#consent-go").disabled = true;
  show("consent");
});

/* ---------- clerk: outlet records ---------- */
function fmtTime(s) { return s ? new Date(s).toLocaleString(LANG === "zh" ? "zh-CN" : "en-GB") : ""; }
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.append(td); }

async function loadMine() {
  const rows = await api("GET", "/api/registrations?limit=100");
  const tb = $("#mine-table tbody"); tb.replaceChildren();
  for (const r of rows.items || rows) {
    const tr = document.createElement("tr");
    cell(tr, fmtTime(r.created_at)); cell(tr, r.id_masked || ""); cell(tr, r.phone_number || "");
    cell(tr, t("out_" + r.status)); cell(tr, (r.reasons || []).map((x) => reasonText(x.code, x.message)).join("；"));
    tb.append(tr);
  }
}

/* ---------- supervisor: review queue ---------- */
async function authedImage(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + state.token } });
  if (!res.ok) return "";
  return URL.createObjectURL(await res.blob());
}

async function loadReviews() {
  const items = await api("GET", "/api/reviews");
  const ul = $("#review-list"); ul.replaceChildren();
  if (!items.length) { $("#review-case").textContent = t("review_empty"); return; }
  $("#review-case").textContent = t("review_pick");
  for (const c of items) {
    const li = document.createElement("li");
    li.textContent = `${c.id_masked} · ${c.phone_number} · ${(c.reasons || []).map((x) => x.code).join(", ")}`;
    li.dataset.id = c.registration_id;
    li.addEventListener("click", () => { $$("#review-list li").forEach((x) => x.classList.toggle("active", x === li)); openCase(c.registration_id); });
    ul.append(li);
  }
}

async function openCase(regId) {
  const c = await api("GET", `/api/reviews/${regId}`);
  const box = $("#review-case"); box.replaceChildren();
  const ev = document.createElement("div"); ev.className = "evidence";
  for (const [key, label] of [["id_photo", "ev_id_photo"], ["live", "ev_live"]]) {
    const fig = document.createElement("figure");
    const img = document.createElement("img"); img.alt = t(label); img.dataset.evidence = key;
    const cap = document.createElement("figcaption"); cap.textContent = t(label);
    fig.append(img, cap); ev.append(fig);
    if ((c.evidence || []).includes(key)) authedImage(`/api/reviews/${regId}/evidence/${key}`).then((u) => { img.src = u; });
  }
  box.append(ev);
  const ul = document.createElement("ul"); ul.className = "reasons";
  (c.reasons || []).forEach((x) => { const li = document.createElement("li"); li.textContent = reasonText(x.code, x.message); ul.append(li); });
  box.append(ul);
  const dl = document.createElement("dl"); dl.className = "facts";
  const fact = (k, v) => { const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = v; dl.append(dt, dd); };
  fact(t("fact_reg"), c.registration_id); fact(t("fact_id"), c.id_masked); fact(t("col_phone"), c.phone_number);
  for (const [k, v] of Object.entries(c.scores || {})) fact(k, typeof v === "number" ? v.toFixed(3) : String(v));
  (c.candidates || []).forEach((x) => fact(t("candidates"), `${x.identity} · ${Number(x.score).toFixed(3)}`));
  box.append(dl);
  const form = document.createElement("form");
  form.innerHTML = `<label><span>${t("comment")}</span><textarea name="comment" required rows="2" maxlength="500"></textarea></label>
    <div class="row"><button type="submit" name="approve" value="1" class="primary">${t("approve")}</button>
    <button type="submit" name="reject" value="0">${t("reject")}</button></div><p class="error" role="alert"></p>`;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const approve = e.submitter && e.submitter.name === "approve";
    try {
      await api("POST", `/api/reviews/${regId}/decision`, { approve, comment: form.elements.comment.value });
      box.textContent = t("review_done");
      await loadReviews();
      box.textContent = t("review_done");
    } catch (err) { showError($(".error", form), err); }
  });
  box.append(form);
}

/* ---------- auditor ---------- */
async function loadAudit() {
  const [chain, entries] = await Promise.all([api("GET", "/api/audit/verify"), api("GET", "/api/audit?limit=200")]);
  const el = $("#chain");
  el.className = "chain " + (chain.ok ? "ok" : "bad");
  el.textContent = chain.ok ? t("chain_ok", { n: chain.entries, c: chain.last_checkpoint_seq ?? "-" }) : t("chain_bad") + (chain.problems || []).join("; ");
  const tb = $("#audit-table tbody"); tb.replaceChildren();
  for (const e of entries) {
    const tr = document.createElement("tr");
    cell(tr, e.seq); cell(tr, fmtTime(e.at)); cell(tr, e.actor); cell(tr, e.action); cell(tr, e.object);
    cell(tr, JSON.stringify(e.details), "details");
    tb.append(tr);
  }
}

async function loadDashboard() {
  const d = await api("GET", "/api/dashboard?days=14");
  const days = d.days || [];
  const outlets = d.outlets || [];
  stackedBars($("#chart-days"), days, outlets.map((o) => ({ name: o.name, values: days.map((day) => (d.per_day[o.id] || {})[day] || 0) })), t("no_data"));
  hBars($("#chart-reasons"), (d.reasons || []).map((r) => ({ label: reasonText(r.code, r.message), value: r.count, color: r.outcome === "REVIEW" ? "#9a6700" : "#b3261e" })), t("no_data"));
  const outcomes = ["APPROVED", "REJECTED", "REVIEW", "RETRY"];
  stackedBars($("#chart-outcomes"), outlets.map((o) => o.name),
    outcomes.map((oc) => ({ name: t("out_" + oc), values: outlets.map((o) => (d.outcomes[o.id] || {})[oc] || 0) })), t("no_data"));
}

/* ---------- admin ---------- */
async function loadAdmin() {
  const [users, outlets, keys] = await Promise.all([api("GET", "/api/admin/users"), api("GET", "/api/admin/outlets"), api("GET", "/api/admin/keys")]);
  const ub = $("#users-table tbody"); ub.replaceChildren();
  for (const u of users) { const tr = document.createElement("tr"); cell(tr, u.id); cell(tr, u.username); cell(tr, u.role); cell(tr, u.outlet_id ?? ""); cell(tr, u.active ? t("yes") : t("no")); ub.append(tr); }
  const sel = $("#user-form select[name=outlet_id]"); sel.replaceChildren(new Option("-", ""));
  outlets.forEach((o) => sel.append(new Option(`${o.name} (${o.code})`, o.id)));
  const kb = $("#keys-table tbody"); kb.replaceChildren();
  for (const k of keys) {
    const tr = document.createElement("tr"); cell(tr, k.id); cell(tr, k.platform); cell(tr, k.scopes.join(" ")); cell(tr, k.active ? t("yes") : t("no"));
    const td = document.createElement("td");
    if (k.active) { const b = document.createElement("button"); b.textContent = t("revoke"); b.addEventListener("click", async () => { await api("DELETE", `/api/admin/keys/${k.id}`); loadAdmin(); }); td.append(b); }
    tr.append(td); kb.append(tr);
  }
}
$("#user-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = Object.fromEntries(new FormData(ev.target).entries());
  try {
    await api("POST", "/api/admin/users", { ...f, outlet_id: f.outlet_id ? Number(f.outlet_id) : null });
    ev.target.reset(); $("#admin-error").textContent = ""; loadAdmin();
  } catch (e) { showError($("#admin-error"), e); }
});
$("#key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const k = await api("POST", "/api/admin/keys", { platform: new FormData(ev.target).get("platform") });
    $("#new-key").textContent = t("key_once") + " " + k.token; ev.target.reset(); loadAdmin();
  } catch (e) { showError($("#admin-error"), e); }
});

/* ---------- start ---------- */
document.addEventListener("langchange", () => {
  const s = document.body.dataset.screen;
  if (s === "result" && state.lastResult) showResult(state.lastResult);
  else if (s && s !== "camera") show(s);
  renderWho();
});
applyI18n();
renderWho();
show(state.user ? HOME[state.user.role] : "login");
