"""The benchmarks' line chart of PSNR curves (PIL only: no plotting library to install)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

#: a line's colour by curve name
COLOURS = {"scratch": (200, 40, 40), "warm start": (40, 110, 200), "baseline": (200, 40, 40),
           "pixels 1/4": (30, 150, 60), "pixels 1/16": (20, 120, 120), "coarse to fine": (140, 160, 20),
           "bf16": (120, 70, 170), "rest-face fit": (220, 130, 20), "warm, batch 2": (200, 40, 40),
           "warm, batch 1": (30, 150, 60), "warm, batch 2, lr /3": (20, 120, 120), "warm, lr x3": (120, 70, 170),
           "warm, lr /3": (220, 130, 20), "warm, final weights": (140, 160, 20),
           "face": (220, 130, 20), "body": (30, 150, 60), "full": (40, 110, 200),
           "full, uniform poses": (120, 70, 170)}
#: the cached runs' lines, fewest poses first
CACHED_COLOURS = [(30, 150, 60), (140, 160, 20), (20, 120, 120), (120, 70, 170)]


def plot_curves(curves: dict[str, list[tuple[float, float]]], path: Path, title: str,
                x_label: str = "training examples") -> Path:
    """A line chart (``x_label`` → PSNR dB), one line per curve, drawn with PIL."""
    w, h, left, right, top, bottom = 720, 440, 70, 20, 40, 70
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    points = [p for c in curves.values() for p in c]
    x_max = max(p[0] for p in points) or 1
    y_lo, y_hi = min(p[1] for p in points) - 1.0, max(p[1] for p in points) + 1.0

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (w - left - right) * x / x_max, h - bottom - (h - top - bottom) * (y - y_lo) / (y_hi - y_lo))

    d.rectangle([left, top, w - right, h - bottom], outline="black")
    for k in range(5):
        y = y_lo + (y_hi - y_lo) * k / 4
        d.text((8, at(0, y)[1] - 6), f"{y:.1f}", fill="black")
        x = x_max * k / 4
        d.text((at(x, y_lo)[0] - 10, h - bottom + 6), f"{x:,.0f}" if x_max >= 10 else f"{x:.2g}", fill="black")
    cached = [name for name in curves if name.startswith("cached")]
    for i, (name, curve) in enumerate(curves.items()):
        colour = (CACHED_COLOURS[cached.index(name) % len(CACHED_COLOURS)] if name in cached
                  else COLOURS.get(name, (90, 90, 90)))
        if len(curve) > 1:
            d.line([at(x, y) for x, y in curve], fill=colour, width=2)
        for x, y in curve:
            cx, cy = at(x, y)
            d.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour)
        x0 = left + 10 + min(125, (w - left - 10) // len(curves)) * i
        d.line([(x0, h - 18), (x0 + 16, h - 18)], fill=colour, width=3)  # PIL's default font has no dash
        d.text((x0 + 20, h - 24), name, fill=colour)
    d.text((left, 12), title, fill="black")
    d.text((w // 2 - 60, h - 46), x_label, fill="black")
    d.text((8, top - 16), "PSNR (dB)", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
