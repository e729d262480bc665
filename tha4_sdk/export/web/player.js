// The tha4 web player: the character's student graph on onnxruntime-web, drawn on a canvas over a checkerboard,
// with grouped sliders for the 45 pose parameters, preset buttons, an fps and frame-time readout and the timelines
// exported with it. The graph runs in a Web Worker (render_worker.js), so the page stays responsive while a frame
// renders. Backend: WebGPU when the browser has an adapter (character_fp16.onnx when it has shader-f16, else
// character_unbanded.onnx), else multi-threaded WebAssembly when the page is cross-origin isolated (served with
// COOP/COEP headers), else single-threaded WebAssembly. WebAssembly runs character.onnx, the banded graph, in
// onnxruntime's parallel execution mode: its session then starts in seconds (sequential mode plans memory over the
// graph's 11,000 nodes for half a minute) and runs as fast. Everything is loaded from this folder: no network access
// beyond the server that serves it.
//
// window.tha4 is the page's programmable interface (used by tests and by pages that embed the player), set once
// the files are read; window.tha4Ready resolves when the first frame is drawn:
//   setPose(values) → Promise (resolved once that pose is on the canvas) · pose · backend · graph
//   play(name) → Promise (resolved when a non-looping timeline has played to its end) · stop() · playback
//   fps · frameMs (the last session.run) · frames · benchmark(count) → frames/s · pixels() → the canvas as PNG

import { Timeline } from "./timeline.js";

const SIZE = 512;
const CELL = 16; // checkerboard cell, pixels
const LIGHT = 255, DARK = 204;
const $ = (id) => document.getElementById(id);

// {backend, f16}: WebGPU when an adapter is offered (f16: it has shader-f16), else WebAssembly; the page's
// ?backend=wasm keeps it on WebAssembly.
async function chooseBackend() {
  if (navigator.gpu && new URLSearchParams(location.search).get("backend") !== "wasm") {
    try {
      const adapter = await navigator.gpu.requestAdapter();
      if (adapter) return { backend: "webgpu", f16: adapter.features.has("shader-f16") };
    } catch (e) { /* no usable adapter */ }
  }
  return { backend: self.crossOriginIsolated ? "wasm-threads" : "wasm", f16: false };
}

function checkerboard() {
  const c = document.createElement("canvas");
  c.width = c.height = SIZE;
  const ctx = c.getContext("2d");
  for (let y = 0; y < SIZE; y += CELL) {
    for (let x = 0; x < SIZE; x += CELL) {
      const v = ((x / CELL + y / CELL) & 1) ? DARK : LIGHT;
      ctx.fillStyle = `rgb(${v},${v},${v})`;
      ctx.fillRect(x, y, CELL, CELL);
    }
  }
  return c;
}

class Player {
  constructor(config, timelines) {
    this.config = config;
    this.params = config.parameters;
    this.lows = this.params.map((p) => p.low);
    this.highs = this.params.map((p) => p.high);
    this.pose = new Float32Array(this.params.length);
    this.timelines = Object.fromEntries(timelines.map((t) => [t.name, new Timeline(t, this.lows, this.highs)]));
    this.canvas = $("canvas");
    this.ctx = this.canvas.getContext("2d");
    this.board = checkerboard();
    this.frame = document.createElement("canvas");
    this.frame.width = this.frame.height = SIZE;
    this.frameCtx = this.frame.getContext("2d");
    this.frames = 0;
    this.fps = 0;
    this.frameMs = 0;
    this.times = [];
    this.wanted = null;
    this.busy = null;
    this.playback = { name: null, t: 0, ended: false, frames: 0 };
    this.playToken = 0;
  }

  async start() {
    const { backend, f16 } = await chooseBackend();
    this.backend = backend;
    const gpu = backend === "webgpu";
    const numThreads = backend === "wasm-threads" ? Math.min(navigator.hardwareConcurrency || 4, 8) : 1;
    this.graph = gpu ? (f16 && this.config.graphs.fp16 ? "fp16" : "unbanded") : "fast";
    this.worker = new Worker("render_worker.js");
    this.worker.onmessage = (event) => this.received(event.data);
    this.worker.onerror = (event) => this.received({ type: "error", message: event.message });
    await this.ask({
      type: "init", script: new URL(gpu ? "ort/ort.webgpu.min.js" : "ort/ort.wasm.min.js", location.href).href,
      wasmPaths: new URL("ort/", location.href).href, numThreads, providers: gpu ? ["webgpu", "wasm"] : ["wasm"],
      graph: new URL(this.config.graphs[this.graph].file, location.href).href,
      options: gpu ? {} : { executionMode: "parallel" },
    });
    $("backend").textContent = `${backend === "wasm-threads" ? `wasm, ${numThreads} threads` : backend} `
      + `(${this.graph} graph)`;
    this.buildControls();
    await this.show(this.pose);
    $("status").textContent = "ready";
  }

  buildControls() {
    const byName = Object.fromEntries(this.params.map((p) => [p.name, p]));
    this.sliders = [];
    for (const group of this.config.groups) {
      const set = document.createElement("fieldset");
      set.innerHTML = `<legend>${group.name.replace("_", " ")}</legend>`;
      for (const name of group.parameters) {
        const p = byName[name];
        const label = document.createElement("label");
        label.innerHTML = `<span>${p.name}</span><input type="range" min="${p.low}" max="${p.high}" step="0.01" ` +
          `value="${p.default}" name="${p.name}"><output>${p.default.toFixed(2)}</output>`;
        const input = label.querySelector("input"), out = label.querySelector("output");
        input.addEventListener("input", () => {
          this.stop();
          this.pose[p.index] = Number(input.value);
          out.textContent = Number(input.value).toFixed(2);
          this.show(this.pose);
        });
        this.sliders[p.index] = [input, out];
        set.appendChild(label);
      }
      $("sliders").appendChild(set);
    }
    for (const preset of this.config.presets) {
      const b = document.createElement("button");
      b.textContent = preset.name;
      b.title = preset.description;
      b.dataset.preset = preset.name;
      b.addEventListener("click", () => this.setPose(preset.values));
      $("presets").appendChild(b);
    }
    for (const name of Object.keys(this.timelines)) {
      const b = document.createElement("button");
      b.textContent = `▶ ${name}`;
      b.dataset.timeline = name;
      b.addEventListener("click", () => this.play(name));
      $("timelines").appendChild(b);
    }
    const c = this.config;
    $("credits").textContent = [...(c.credits || []).map((credit) => credit.line), c.exported_by].join(" · ");
  }

  updateSliders() {
    this.pose.forEach((v, i) => {
      const [input, out] = this.sliders[i];
      input.value = v;
      out.textContent = v.toFixed(2);
    });
  }

  // A pose as a 45-array or {name: value}; values are clamped to their ranges.
  toPose(values) {
    const pose = new Float32Array(this.params.length);
    if (Array.isArray(values) || ArrayBuffer.isView(values)) pose.set(values);
    else for (const [name, v] of Object.entries(values)) {
      const p = this.params.find((q) => q.name === name);
      if (!p) throw new Error(`unknown pose parameter ${name}`);
      pose[p.index] = v;
    }
    return pose.map((v, i) => Math.min(Math.max(v, this.lows[i]), this.highs[i]));
  }

  setPose(values) {
    this.stop();
    this.pose = this.toPose(values);
    this.updateSliders();
    return this.show(this.pose);
  }

  // Draw `pose` (after any frame in progress); resolves when the latest wanted pose is on the canvas.
  show(pose) {
    this.wanted = Float32Array.from(pose);
    if (!this.busy) this.busy = this.pump();
    return this.busy;
  }

  async pump() {
    try {
      while (this.wanted) {
        const pose = this.wanted;
        this.wanted = null;
        await this.draw(pose);
      }
    } finally {
      this.busy = null;
    }
  }

  // One message to the worker; resolves with its answer (one at a time: `show` draws frames in turn).
  ask(message, transfer = []) {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(message, transfer);
    });
  }

  received(message) {
    const pending = this.pending;
    this.pending = null;
    if (!pending) return;
    if (message.type === "error") pending.reject(new Error(message.message));
    else pending.resolve(message);
  }

  async draw(pose) {
    const copy = Float32Array.from(pose); // its buffer goes to the worker
    const frame = await this.ask({ type: "render", pose: copy }, [copy.buffer]);
    this.frameMs = frame.ms;
    // the worker's bytes, transferred here, viewed as ImageData without a copy
    this.frameCtx.putImageData(new ImageData(new Uint8ClampedArray(frame.rgba), SIZE, SIZE), 0, 0);
    this.ctx.drawImage(this.board, 0, 0);
    this.ctx.drawImage(this.frame, 0, 0);
    this.drawnPose = pose;
    this.frames++;
    const now = performance.now();
    this.times.push(now);
    while (this.times.length > 2 && now - this.times[0] > 2000) this.times.shift();
    if (this.times.length > 1) this.fps = (this.times.length - 1) * 1000 / (now - this.times[0]);
    $("fps").textContent = `${this.fps.toFixed(1)} fps`;
    $("frametime").textContent = `${this.frameMs.toFixed(0)} ms/frame`;
  }

  // Play a timeline on the wall clock; resolves when a non-looping one has drawn its last pose.
  async play(name) {
    const timeline = this.timelines[name];
    if (!timeline) throw new Error(`no timeline named ${name}`);
    const token = ++this.playToken;
    this.playback = { name, t: 0, ended: false, frames: 0 };
    const start = performance.now();
    for (;;) {
      let t = (performance.now() - start) / 1000;
      const last = !timeline.loop && t >= timeline.length;
      if (last) t = timeline.length;
      const pose = timeline.poseAt(t);
      await this.show(pose);
      if (token !== this.playToken) return;
      this.pose = pose;
      this.playback.t = t;
      this.playback.frames++;
      if (last) break;
    }
    this.updateSliders();
    this.playback.ended = true;
  }

  stop() {
    this.playToken++;
  }

  async benchmark(count) {
    const pose = Float32Array.from(this.pose);
    await this.show(pose);
    const start = performance.now();
    for (let i = 0; i < count; i++) await this.draw(pose);
    return count * 1000 / (performance.now() - start);
  }

  pixels() {
    return this.canvas.toDataURL("image/png");
  }
}

async function main() {
  const [config, timelines] = await Promise.all(["character.json", "timelines.json"].map(async (f) => {
    const r = await fetch(f);
    if (!r.ok) throw new Error(`${f}: HTTP ${r.status}`);
    return r.json();
  }));
  document.title = `${config.name} · tha4 player`;
  const player = new Player(config, timelines);
  window.tha4 = player;
  await player.start();
  return player;
}

const ready = main().catch((e) => {
  $("status").textContent = `error: ${e.message || e}`;
  $("status").className = "error";
  window.tha4Error = String(e.message || e);
  throw e;
});
window.tha4Ready = ready;
