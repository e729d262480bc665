"""`tha4 export onnx`: a character's student graphs (`tha4_sdk.models.student.onnx_graph`) as files, each
carrying the render's credits in its metadata, and ``character.json`` beside them (docs/onnx.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tha4_sdk
from tha4_sdk.character import Character
from tha4_sdk.image import IMAGE_SIZE
from tha4_sdk.licensing import credits_for
from tha4_sdk.models.student.body_morpher import POSE_SIZE
from tha4_sdk.models.student.onnx_graph import OPSET, build_graph
from tha4_sdk.pose import CATEGORIES, PARAMETERS
from tha4_sdk.presets import PRESETS

#: graph name (`tha4_sdk.models.student.onnx_graph.GRAPHS`) → file name
GRAPH_FILES: dict[str, str] = {"fast": "character.onnx", "unbanded": "character_unbanded.onnx",
                                "fp16": "character_fp16.onnx", "exact": "character_exact.onnx"}
MANIFEST = "character.json"
#: the renderer that runs these graphs, whose credits they carry (the character's, its student's teacher's)
RENDERER = "onnx"


def manifest(character: Character, graphs: dict[str, str]) -> dict[str, Any]:
    """``character.json``: what an engine or the web player needs besides the graph."""
    credits = credits_for(character, RENDERER)
    return {
        "format": "tha4-character",
        "version": 1,
        "exported_by": f"tha4-sdk {tha4_sdk.__version__}",
        "name": character.name,
        "license": credits[0].license,
        "attribution": credits[0].attribution,
        "credits": [c.as_dict() for c in credits],
        "graphs": {name: {"file": file, "inputs": {"pose": ["N", POSE_SIZE]},
                          "outputs": {"image": ["N", 4, IMAGE_SIZE, IMAGE_SIZE],
                                      "rgba8": ["N", IMAGE_SIZE, IMAGE_SIZE, 4]}, "opset": OPSET}
                   for name, file in graphs.items()},
        "image": {"size": IMAGE_SIZE, "value_range": [-1, 1],
                  "image": "linear premultiplied RGBA, unclamped", "rgba8": "straight-alpha sRGB, uint8"},
        "parameters": [{"index": p.index, "name": p.name, "group": p.group, "category": p.category,
                        "low": p.low, "high": p.high, "default": p.default} for p in PARAMETERS],
        "groups": [{"name": c, "parameters": [p.name for p in PARAMETERS if p.category == c]} for c in CATEGORIES],
        "presets": [{"name": p.name, "description": p.description, "values": dict(p.values)}
                    for p in PRESETS.values()],
    }


def export_onnx(character: Character, out_dir: str | Path, *, graphs: tuple[str, ...] = ("fast",),
                rgba8: bool = True) -> list[Path]:
    """Write the chosen graphs and ``character.json`` into ``out_dir``; return the files written."""
    credits = credits_for(character, RENDERER)
    properties = {"tha4.license": credits[0].license, "tha4.attribution": credits[0].attribution,
                  "tha4.credits": "\n".join(c.line() for c in credits)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for graph in graphs:
        model = build_graph(character, graph, rgba8=rgba8, properties=properties)
        path = out / GRAPH_FILES[graph]
        path.write_bytes(model.SerializeToString())
        written.append(path)
    info = out / MANIFEST
    info.write_text(json.dumps(manifest(character, {g: GRAPH_FILES[g] for g in graphs}), indent=1,
                               ensure_ascii=False) + "\n", encoding="utf-8")
    return written + [info]
