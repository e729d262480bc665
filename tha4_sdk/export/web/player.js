// The tha4 web player: the character's student graph (character.onnx) on onnxruntime-web, drawn on a canvas over a
// checkerboard, with grouped sliders for the 45 pose parameters, preset buttons, an fps readout and the timelines
// exported with it. Backend: WebGPU when the browser has an adapter, else multi-threaded WebAssembly when the page
// is cross-origin isolated (served with COOP/COEP headers), else single-threaded WebAssembly. Everything is loaded
// from this folder: no network access beyond the server that serves it.
//
// window.tha4 is the page's programmable interface (used by tests and by pages that embed the player), set once
// the files are read; window.tha4Ready resolves when the first frame is drawn:
//   setPose(values) → Promise (resolved once that pose is on the canvas) · pose · backend
//   play(name) → Promise (resolved when a non-looping timeline has played to its end) · stop() · playback
//   fps · frames · benchmark(count) → frames/s · pixels() → the canvas as a PNG data URL

import { Timeline } from "./timeline.js";

const SIZE = 512;
const CELL = 16; // checkerboard cell, pixels
const LIGHT = 255, DARK = 204;
const $ = (id) => document.getElementById(id);

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

async function chooseBackend() {
  if (navigator.gpu) {
    try {
      if (await navigator.gpu.requestAdapter()) return "webgpu";
    } catch (e) { /* no usable adapter */ }
  }
  return self.crossOriginIsolated ? "wasm-threads" : "wasm";
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
    this.times = [];
    this.wanted = null;
    this.busy = null;
    this.playback = { name: null, t: 0, ended: false, frames: 0 };
    this.playToken = 0;
  }

  async start() {
    this.backend = await chooseBackend();
    await loadScript(this.backend === "webgpu" ? "ort/ort.webgpu.min.js" : "ort/ort.wasm.min.js");
    const ort = self.ort;
    ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
    ort.env.wasm.numThreads = this.backend === "wasm-threads" ? Math.min(navigator.hardwareConcurrency || 4, 8) : 1;
    this.ort = ort;
    const providers = this.backend === "webgpu" ? ["webgpu", "wasm"] : ["wasm"];
    const graph = this.config.graphs.fast || Object.values(this.config.graphs)[0];
    this.session = await ort.InferenceSession.create(graph.file, { executionProviders: providers });
    $("backend").textContent = this.backend === "wasm-threads"
      ? `wasm, ${ort.env.wasm.numThreads} threads` : this.backend;
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

  async render(pose) {
    const feeds = { pose: new this.ort.Tensor("float32", pose, [1, pose.length]) };
    const out = await this.session.run(feeds, ["rgba8"]);
    return out.rgba8.data;
  }

  async draw(pose) {
    const rgba = await this.render(pose);
    this.frameCtx.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length),
      SIZE, SIZE), 0, 0);
    this.ctx.drawImage(this.board, 0, 0);
    this.ctx.drawImage(this.frame, 0, 0);
    this.drawnPose = pose;
    this.frames++;
    const now = performance.now();
    this.times.push(now);
    while (this.times.length > 2 && now - this.times[0] > 2000) this.times.shift();
    if (this.times.length > 1) this.fps = (this.times.length - 1) * 1000 / (now - this.times[0]);
    $("fps").textContent = `${this.fps.toFixed(1)} fps`;
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
