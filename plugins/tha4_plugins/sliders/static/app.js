// The slider page: builds one slider per pose parameter from /api/config, sends changes to
// /api/pose and keeps the preview image in step (one preview request in flight at a time).
"use strict";

const state = { version: 0, shown: -1, loading: false, preview: false, pending: null, sending: false };
const $ = (id) => document.getElementById(id);

async function api(path, options) {
  const reply = await fetch(path, options);
  if (!reply.ok) throw new Error((await reply.json()).error || reply.statusText);
  return reply;
}

function setStatus(text) { $("status").textContent = text; }

function showPose(pose) {
  for (const [name, value] of Object.entries(pose)) {
    const input = $("p-" + name);
    if (input === document.activeElement) continue;  // do not fight a slider being dragged
    input.value = value;
    input.nextElementSibling.value = Number(value).toFixed(2);
  }
  $("command").value = Object.entries(pose).filter(([, v]) => v !== 0)
    .map(([k, v]) => `--pose ${k}=${+v.toFixed(3)}`).join(" ") || "(rest pose)";
}

// Changes made while a request is on its way are merged and sent together afterwards.
async function send(values) {
  state.pending = { ...(state.pending || {}), ...values };
  if (state.sending) return;
  state.sending = true;
  try {
    while (state.pending) {
      const body = JSON.stringify(state.pending);
      state.pending = null;
      const reply = await (await api("/api/pose", { method: "POST", body,
        headers: { "Content-Type": "application/json" } })).json();
      state.version = reply.version;
      showPose(reply.pose);
      refreshPreview();
    }
  } catch (e) {
    setStatus("error: " + e.message);
  } finally {
    state.sending = false;
  }
}

async function refreshPreview() {
  if (!state.preview || state.loading || state.shown >= state.version) return;
  state.loading = true;
  setStatus("rendering…");
  try {
    const reply = await api("/api/preview.png");
    const shown = Number(reply.headers.get("X-Pose-Version"));
    const url = URL.createObjectURL(await reply.blob());
    const img = $("preview");
    img.onload = () => URL.revokeObjectURL(url);
    img.src = url;
    img.dataset.version = String(shown);
    state.shown = shown;
    setStatus(`showing pose ${shown}`);
  } catch (e) {
    setStatus("preview failed: " + e.message);
  } finally {
    state.loading = false;
  }
  if (state.shown < state.version) refreshPreview();
}

function slider(param) {
  const row = document.createElement("div");
  row.className = "row";
  const label = document.createElement("label");
  label.htmlFor = "p-" + param.name;
  label.textContent = param.name;
  label.title = param.name;
  const input = document.createElement("input");
  Object.assign(input, { type: "range", id: "p-" + param.name, min: param.low, max: param.high,
    step: 0.01, value: param.default });
  input.dataset.param = param.name;
  const out = document.createElement("output");
  out.value = Number(param.default).toFixed(2);
  input.addEventListener("input", () => {
    out.value = Number(input.value).toFixed(2);
    send({ [param.name]: Number(input.value) });
  });
  row.append(label, input, out);
  return row;
}

async function main() {
  const config = await (await api("/api/config")).json();
  document.title = `${config.title} — tha4 pose`;
  $("title").textContent = config.title;
  state.preview = config.preview;
  const form = $("sliders");
  for (const group of config.groups) {
    const set = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = group.title;
    set.append(legend, ...group.params.map(slider));
    form.append(set);
  }
  const everything = Object.fromEntries(config.groups.flatMap((g) => g.params.map((p) => [p.name, p.default])));
  for (const preset of config.presets) {
    const button = document.createElement("button");
    Object.assign(button, { type: "button", textContent: preset.name, title: preset.description });
    button.addEventListener("click", () => send({ ...everything, ...preset.values }));
    $("presets").append(button);
  }
  $("reset").addEventListener("click", () => send(everything));
  const current = await (await api("/api/pose")).json();
  state.version = current.version;
  showPose(current.pose);
  setStatus(config.preview ? "" : "no preview renderer");
  refreshPreview();
}

main().catch((e) => setStatus("error: " + e.message));
