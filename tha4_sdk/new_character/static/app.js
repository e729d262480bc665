// The new-character page: the head box is dragged (or resized by its corner) over the cut-out picture in the
// picture's own pixels; each change is sent to /api/head (one request in flight, the newest box sent next), the
// template is reloaded, and once the box has rested the teacher is asked for its render. Save writes the folder.
"use strict";

const TEACHER_DELAY_MS = 600;
const page = { width: 1, height: 1, head: [0, 0, 0], version: 0, templateShown: -1, loadingTemplate: false,
  drag: null, pending: null, sending: false, teacherTimer: null, teacherShown: null, polling: false };
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function api(path, options) {
  const reply = await fetch(path, options);
  if (!reply.ok) throw new Error((await reply.json()).error || reply.statusText);
  return reply;
}

async function post(path, body) {
  return (await api(path, { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json" } })).json();
}

function loaded(img, src) {
  return new Promise((done, failed) => {
    img.onload = done;
    img.onerror = () => failed(new Error(`cannot show ${src}`));
    img.src = src;
  });
}

async function showImage(id, path) {
  const reply = await api(path);
  const url = URL.createObjectURL(await reply.blob());
  const img = $(id);
  try {
    await loaded(img, url);
  } finally {
    URL.revokeObjectURL(url);
  }
  img.dataset.version = reply.headers.get("X-Head-Version");
  return Number(img.dataset.version);
}

// source pixels per screen pixel
function scale() { return page.width / $("source").clientWidth; }

function drawBox() {
  const k = scale();
  const [x, y, size] = page.head;
  Object.assign($("box").style, { left: `${x / k}px`, top: `${y / k}px`, width: `${size / k}px`,
    height: `${size / k}px` });
  $("box").dataset.head = page.head.join(",");
  $("head-arg").value = `--head ${page.head.join(",")}`;
}

function showState(state) {
  page.width = state.source.width;
  page.height = state.source.height;
  page.version = state.version;
  if (!page.drag && !page.pending && !page.sending) {  // not while the user's own box is moved or sent
    page.head = state.head;
    drawBox();
  }
  $("warnings").replaceChildren(...state.warnings.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  const teacher = state.teacher;
  $("teacher-title").textContent = `Teacher preview (${teacher.name})`;
  $("teacher-hint").textContent = `The template ${teacher.shows}, rendered by the teacher once the box rests.`;
  $("teacher-status").textContent = { idle: "", rendering: "rendering…", ready: "",
    failed: `failed: ${teacher.error}` }[teacher.state];
  if (teacher.shown !== null && teacher.shown !== page.teacherShown) {
    page.teacherShown = teacher.shown;
    showImage("teacher", "/api/teacher.png").catch((e) => { $("teacher-status").textContent = e.message; });
  }
  showSave(state.save, state.output);
}

function showSave(save, output) {
  $("save").disabled = save.state === "running" || save.state === "done";
  $("progress").hidden = save.state !== "running";
  $("save-status").dataset.state = save.state;
  if (save.state === "running") {
    Object.assign($("progress"), { max: save.total, value: save.done });
    $("save-status").textContent = `saving: ${save.stage} (${save.done}/${save.total})`;
  } else if (save.state === "failed") {
    $("save-status").textContent = `save failed: ${save.error}`;
  } else if (save.state === "done" && $("saved").hidden) {
    $("save-status").textContent = `saved with --head ${save.head}`;
    $("folder").textContent = `${save.folder}: ${save.files.join(", ")}` +
      (save.warnings.length ? ` (warnings: ${save.warnings.join("; ")})` : "");
    $("result").src = "/api/result.png";
    $("saved").hidden = false;
  } else if (save.state === "idle") {
    $("save-status").textContent = `Save writes ${output}`;
  }
}

// While the teacher renders or the folder is saved, the state is read again every few hundred milliseconds.
async function poll() {
  if (page.polling) return;
  page.polling = true;
  try {
    for (;;) {
      const state = await (await api("/api/state")).json();
      showState(state);
      if (state.teacher.state !== "rendering" && state.save.state !== "running") break;
      await sleep(400);
    }
  } finally {
    page.polling = false;
  }
}

async function refreshTemplate() {
  if (page.loadingTemplate || page.templateShown >= page.version) return;
  page.loadingTemplate = true;
  try {
    page.templateShown = await showImage("template", "/api/template.png");
  } finally {
    page.loadingTemplate = false;
  }
  refreshTemplate();
}

function askTeacher(delay) {
  clearTimeout(page.teacherTimer);
  page.teacherTimer = setTimeout(() => post("/api/teacher", {}).then(showState).then(poll).catch(fail), delay);
}

async function sendHead() {
  page.pending = page.head.slice();
  if (page.sending) return;
  page.sending = true;
  try {
    while (page.pending) {
      const head = page.pending;
      page.pending = null;
      const state = await post("/api/head", { head });
      showState(state);
      refreshTemplate();
      askTeacher(TEACHER_DELAY_MS);
    }
  } catch (e) {
    fail(e);
  } finally {
    page.sending = false;
  }
}

function startDrag(event) {
  event.preventDefault();
  page.drag = { resize: event.target === $("handle"), x: event.clientX, y: event.clientY, head: page.head.slice() };
}

function moveDrag(event) {
  if (!page.drag) return;
  const k = scale();
  const dx = (event.clientX - page.drag.x) * k;
  const dy = (event.clientY - page.drag.y) * k;
  let [x, y, size] = page.drag.head;
  const clamp = (v, low, high) => Math.round(Math.min(Math.max(v, low), high));
  if (page.drag.resize) {
    size = clamp(size + Math.max(dx, dy), 16, Math.min(page.width - x, page.height - y));
  } else {
    x = clamp(x + dx, 0, page.width - size);
    y = clamp(y + dy, 0, page.height - size);
  }
  page.head = [x, y, size];
  drawBox();
  sendHead();
}

function endDrag() {
  if (!page.drag) return;
  page.drag = null;
  sendHead();
}

function fail(e) { $("save-status").textContent = "error: " + e.message; }

async function main() {
  const state = await (await api("/api/state")).json();
  $("title").textContent = `New character from ${state.source.name}`;
  document.title = `${state.source.name} — tha4 new character`;
  await loaded($("source"), "/api/source.png");
  showState(state);
  refreshTemplate();
  askTeacher(0);
  $("box").addEventListener("mousedown", startDrag);
  document.addEventListener("mousemove", moveDrag);
  document.addEventListener("mouseup", endDrag);
  window.addEventListener("resize", drawBox);
  $("save").addEventListener("click", () => post("/api/save", {}).then(showState).then(poll).catch(fail));
}

main().catch(fail);
