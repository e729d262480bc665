// The web player's renderer, in a Web Worker so that the page stays responsive while a frame renders: it holds
// the onnxruntime-web session and answers each pose with the frame's straight-alpha sRGB bytes.
//
// Messages in:  {type: "init", script, wasmPaths, numThreads, providers, graph, options}
//               {type: "render", pose: Float32Array}            (the pose's buffer is transferred)
// Messages out: {type: "ready"} · {type: "error", message}
//               {type: "frame", rgba: ArrayBuffer, ms, pose}     (both buffers transferred: no copy)
// `rgba` is the graph's rgba8 output (512×512×4 bytes) as onnxruntime-web hands it out of its own memory; `ms` is
// the time session.run took.

let session = null;

async function init(message) {
  importScripts(message.script);
  const ort = self.ort;
  ort.env.wasm.wasmPaths = message.wasmPaths;
  ort.env.wasm.numThreads = message.numThreads;
  session = await ort.InferenceSession.create(message.graph,
                                              { ...message.options, executionProviders: message.providers });
  postMessage({ type: "ready" });
}

async function render(message) {
  const start = performance.now();
  const pose = new self.ort.Tensor("float32", message.pose, [1, message.pose.length]);
  const out = await session.run({ pose }, ["rgba8"]);
  const ms = performance.now() - start;
  let rgba = out.rgba8.data;
  if (rgba.byteOffset !== 0 || rgba.byteLength !== rgba.buffer.byteLength) rgba = rgba.slice(); // a view: own it
  postMessage({ type: "frame", rgba: rgba.buffer, ms, pose: message.pose }, [rgba.buffer, message.pose.buffer]);
}

self.onmessage = (event) => {
  const message = event.data;
  (message.type === "init" ? init(message) : render(message))
    .catch((e) => postMessage({ type: "error", message: String((e && e.message) || e) }));
};
