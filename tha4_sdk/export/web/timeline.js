// Timelines compiled by `tha4 export web` (tha4_plugins/timeline/compiled.py), evaluated with the same rules as
// the Python timeline source (docs/timeline.md): keyframe tracks with easing, holds and loops, layered from the rest
// pose in file order (override / add / max over the parameters each track moves), clamped to each range.
// Values are rounded to float32 where the Python code holds float32 arrays, so both give the same poses.

const f32 = Math.fround;

function easeInOut(u) {
  return u < 0.5 ? 4.0 * u ** 3 : 1.0 - (2.0 - 2.0 * u) ** 3 / 2.0;
}

export const CURVES = {
  linear: (u) => u,
  step: () => 0.0,
  "ease-in": (u) => u ** 3,
  "ease-out": (u) => 1.0 - (1.0 - u) ** 3,
  "ease-in-out": easeInOut,
};

// Slopes of a monotone cubic (Fritsch–Carlson) through the keys: 0 at the ends, at extrema and next to holds.
export function splineTangents(times, values) {
  const n = times.length;
  const secants = [];
  for (let i = 0; i < n - 1; i++) {
    secants.push(times[i + 1] > times[i] ? (values[i + 1] - values[i]) / (times[i + 1] - times[i]) : 0.0);
  }
  const slopes = new Array(n).fill(0.0);
  for (let i = 1; i < n - 1; i++) {
    const a = secants[i - 1], b = secants[i];
    if (a * b > 0.0) {
      const h0 = times[i] - times[i - 1], h1 = times[i + 1] - times[i];
      const w0 = 2.0 * h1 + h0, w1 = h1 + 2.0 * h0;
      slopes[i] = (w0 + w1) / (w0 / a + w1 / b);
    }
  }
  return slopes;
}

export function hermite(v0, v1, m0, m1, dt, u) {
  const u2 = u * u, u3 = u * u * u;
  return ((2 * u3 - 3 * u2 + 1) * v0 + (u3 - 2 * u2 + u) * dt * m0
    + (-2 * u3 + 3 * u2) * v1 + (u3 - u2) * dt * m1);
}

class Track {
  constructor(data) {
    this.mode = data.mode;
    this.params = data.params;
    this.target = Float32Array.from(data.target);
    this.loop = data.loop;
    this.times = data.keys.map((k) => k[0]);
    this.values = data.keys.map((k) => k[1]);
    this.eases = data.keys.map((k) => k[2]);
    this.slopes = splineTangents(this.times, this.values);
    this.span = this.times[this.times.length - 1] - this.times[0];
  }

  // The track's value (parameter value or preset weight) at t seconds.
  valueAt(t) {
    const first = this.times[0];
    if (this.loop && t > first) {
      const cycle = Math.floor((t - first) / this.span);
      if (this.loop === true || cycle < Number(this.loop)) t = first + (t - first) - cycle * this.span;
    }
    let i = -1;
    while (i + 1 < this.times.length && this.times[i + 1] <= t) i++;
    if (i < 0) return this.values[0];
    if (i >= this.times.length - 1) return this.values[this.values.length - 1];
    const t0 = this.times[i], t1 = this.times[i + 1], v0 = this.values[i], v1 = this.values[i + 1];
    const u = (t - t0) / (t1 - t0);
    const ease = this.eases[i];
    if (ease === "cubic") return hermite(v0, v1, this.slopes[i], this.slopes[i + 1], t1 - t0, u);
    return v0 + (v1 - v0) * CURVES[ease](u);
  }
}

export class Timeline {
  // data: the compiled timeline; lows, highs: the 45 parameter ranges (character.json's `parameters`).
  constructor(data, lows, highs) {
    if (data.format !== "tha4-timeline" || data.version !== 1) throw new Error(`not a tha4 timeline: ${data.format}`);
    this.name = data.name;
    this.length = data.length;
    this.fps = data.fps;
    this.loop = data.loop;
    this.tracks = data.tracks.map((t) => new Track(t));
    this.lows = Float32Array.from(lows);
    this.highs = Float32Array.from(highs);
  }

  clamp(v, i) {
    return Math.min(Math.max(v, this.lows[i]), this.highs[i]);
  }

  // The 45-float pose at t seconds (t ≥ 0; a looping timeline wraps every `length` seconds).
  poseAt(t) {
    const local = this.loop ? t % this.length : t;
    const out = new Float32Array(45);
    for (const track of this.tracks) {
      const w = f32(track.valueAt(local));
      for (const i of track.params) {
        const value = f32(this.clamp(f32(track.target[i] * w), i));
        const current = out[i];
        if (track.mode === "override") out[i] = f32(current + f32(value - current));
        else if (track.mode === "add") out[i] = f32(current + value);
        else out[i] = Math.max(current, value);
      }
    }
    for (let i = 0; i < 45; i++) out[i] = this.clamp(out[i], i);
    return out;
  }
}
