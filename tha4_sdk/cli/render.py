"""``tha4 render`` (one pose or a batch of poses) and ``tha4 demo`` (a short animation of lambda_00)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from tqdm import tqdm

from tha4_sdk import hub, plugins
from tha4_sdk.easing import CURVES
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.licensing import licence_of
from tha4_sdk.pose import Pose, lerp, parse_assignments, validate_batch
from tha4_sdk.render.base import RenderSession, open_renderer
from tha4_sdk.render.over_time import render_source_to_file

DEMO_KEYFRAMES: list[tuple[float, dict[str, float]]] = [
    (0.0, {}),
    (0.6, {"eye_happy_wink_left": 1.0, "eye_happy_wink_right": 1.0, "mouth_raised_corner_left": 0.8,
           "mouth_raised_corner_right": 0.8, "eyebrow_happy_left": 0.7, "eyebrow_happy_right": 0.7,
           "head_y": 0.3, "breathing": 0.5}),
    (1.2, {"mouth_aaa": 1.0, "eye_surprised_left": 0.8, "eye_surprised_right": 0.8, "eyebrow_raised_left": 1.0,
           "eyebrow_raised_right": 1.0, "head_x": -0.3, "breathing": 1.0}),
    (1.8, {"eye_wink_right": 1.0, "mouth_iii": 0.8, "neck_z": 0.4, "head_y": -0.4, "iris_rotation_y": 0.5,
           "body_y": -0.3, "breathing": 0.4}),
    (2.4, {"eyebrow_troubled_left": 0.8, "eyebrow_troubled_right": 0.8, "mouth_ooo": 0.7, "head_x": 0.3,
           "body_z": 0.2}),
    (3.0, {}),
]


def demo_poses(fps: int) -> list[Pose]:
    """The demo animation: ``ease-in-out`` transitions (`tha4_sdk.easing`) between expressive keyframes."""
    ease = CURVES["ease-in-out"]
    keys = [(t, Pose.from_dict(p)) for t, p in DEMO_KEYFRAMES]
    poses = []
    for i in range(int(keys[-1][0] * fps)):
        t = i / fps
        k = max(j for j, (kt, _) in enumerate(keys) if kt <= t)
        (t0, a), (t1, b) = keys[k], keys[min(k + 1, len(keys) - 1)]
        poses.append(lerp(a, b, ease(0.0 if t1 == t0 else (t - t0) / (t1 - t0))))
    return poses


def open_session(character: str, renderer: str, device: str, dtype: str, fast: bool,
                 weights: str | None, fit: str, variant: str | None = None, channels_last: bool = False,
                 compile: bool = False) -> RenderSession:
    """Open a renderer session on a character spec, the command-line options turned into renderer options."""
    options: dict[str, Any] = {"device": device, "dtype": dtype}
    if fast:
        options["fast"] = True
    if weights:
        options["weights"] = weights
    if variant:
        options["variant"] = variant
    if fit != "reject":
        options["fit"] = fit
    if channels_last:
        options["channels_last"] = True
    if compile:
        options["compile"] = True
    return open_renderer(renderer, character, **options)


def _write(session: RenderSession, poses: np.ndarray, out: Path, raw: bool) -> None:
    if raw:
        with torch.inference_mode():
            tensor = session.render_raw(torch.tensor(poses, device=session.device))[0]
        if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16; float32 holds it exactly
            tensor = tensor.float()
        np.save(out, tensor.cpu().numpy())  # the computed dtype: float32, float64 or float16
    else:
        session.render(poses)[0].save(out)


@click.command("render")
@click.argument("character")
@click.option("--pose", "pose_items", multiple=True, metavar="NAME=VALUE",
              help="Set a pose parameter (official name); repeat for several.")
@click.option("--poses", "poses_file", type=click.Path(exists=True, dir_okay=False),
              help="An N×45 .npy file of poses; renders N frames into the folder given by -o.")
@click.option("-o", "--output", required=True, type=click.Path(), help="out.png, out.npy (raw tensor in the computed dtype), or a folder.")
@click.option("--renderer", default="student", show_default=True,
              help="Renderer plugin name (student, teacher, tha3, …).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--dtype", default="float32", show_default=True,
              help="float32 or float64 (every operation in that dtype), float16 or bfloat16 (autocast).")
@click.option("--fast", is_flag=True, help="Use the renderer's fast path (student: folded SIREN, ≥45 dB).")
@click.option("--weights", type=click.Path(file_okay=False),
              help="teacher, tha3: folder with the five official .pt files.")
@click.option("--variant", help="tha3: separable_float (default), separable_half, standard_float or standard_half.")
@click.option("--fit", type=click.Choice(["reject", "resize", "pad"]), default="reject", show_default=True,
              help="What to do with a character image that is not 512×512.")
@click.option("--channels-last", is_flag=True, help="teacher, tha3: channels-last memory format (docs/tha3.md, speed).")
@click.option("--compile", "use_compile", is_flag=True, help="teacher, tha3: wrap the networks in torch.compile.")
@click.option("--clamp", is_flag=True, help="Clamp out-of-range pose values instead of rejecting them.")
@click.option("--format", "fmt", type=click.Choice(["png", "npy"]), default="png", show_default=True,
              help="Frame format when -o is a folder (with --poses).")
@click.option("--timeline", "timeline_file", type=click.Path(exists=True, dir_okay=False),
              help="A YAML timeline (docs/timeline.md); -o picks the format: .webm .mov .apng .gif or folder/.")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True, max=240),
              help="Frame rate for --timeline (default: the timeline's own, else 30).")
@click.option("--size", type=click.IntRange(16, 4096), help="Scale --timeline frames to SIZE×SIZE pixels.")
def render(character: str, pose_items: tuple[str, ...], poses_file: str | None, output: str, renderer: str,
           device: str, dtype: str, fast: bool, weights: str | None, variant: str | None, fit: str,
           channels_last: bool, use_compile: bool, clamp: bool, fmt: str, timeline_file: str | None,
           fps: float | None, size: int | None) -> None:
    """Render CHARACTER (a folder, an image for the teacher, or a fetched name) in a pose or a timeline.

    \b
    tha4 render lambda_00 --pose mouth_aaa=1 --pose head_y=0.4 -o smile.png
    tha4 render lambda_00 --poses poses.npy -o frames/
    tha4 render lambda_00 --timeline scene.yaml -o scene.webm
    tha4 render me.png --renderer teacher --weights tha4/ --pose eye_wink_left=1 -o wink.png
    tha4 render me.png --renderer tha3 --pose mouth_aaa=1 -o talk.png
    """
    out = Path(output)
    if sum(map(bool, (poses_file, pose_items, timeline_file))) > 1:
        raise click.UsageError("use only one of --pose, --poses and --timeline")
    if timeline_file:  # the ``timeline`` pose-source plugin plays the file; the file's suffix picks the sink
        source = plugins.get("pose_source", "timeline")(timeline_file)
        session = open_session(character, renderer, device, dtype, fast, weights, fit, variant, channels_last,
                               use_compile)
        count = render_source_to_file(session, source, output, fps=fps, size=size)
        click.echo(f"wrote {count} frames to {output}")
        return
    if poses_file:
        poses = validate_batch(np.load(poses_file, allow_pickle=False), clamp=clamp)
    else:
        poses = Pose.from_dict(parse_assignments(pose_items), clamp=clamp).array[None]
    if not poses_file and out.suffix.lower() not in (".png", ".npy", ".webp", ".tif", ".tiff"):
        raise click.UsageError(f"-o {output}: use a .png (picture) or .npy (raw tensor) file name")
    session = open_session(character, renderer, device, dtype, fast, weights, fit, variant, channels_last,
                           use_compile)
    if not poses_file:
        _write(session, poses, out, raw=out.suffix.lower() == ".npy")
        click.echo(f"wrote {out}")
        return
    out.mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(len(poses)), desc="rendering", unit="frame"):
        _write(session, poses[i:i + 1], out / f"frame_{i:05d}.{fmt}", raw=fmt == "npy")
    click.echo(f"wrote {len(poses)} frames to {out}")


@click.command("demo")
@click.option("--character", default="lambda_00", show_default=True, help="A fetched name or a character folder.")
@click.option("-o", "--output", default="tha4-demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--fps", default=20, show_default=True, type=click.IntRange(1, 60))
@click.option("--device", default="auto", show_default=True)
@click.option("--exact", is_flag=True, help="Use the official-equivalent fp32 path instead of the fast path.")
@click.option("--from", "from_dir", type=click.Path(exists=True, file_okay=False),
              help="Offline: take the character's files from this folder when fetching.")
def demo(character: str, output: str, fps: int, device: str, exact: bool, from_dir: str | None) -> None:
    """Fetch lambda_00 if needed and render a short expressive animation (APNG, GIF and PNG frames)."""
    if character in hub.bundles("character") and not Path(character).exists():
        b = hub.bundle(character, "character")
        if not hub.is_fetched(b):
            click.echo(f"fetching {character} ({licence_of(b).notice()})")
            hub.fetch(b, from_dir=from_dir)
    session = open_session(character, "student", device, "float32", not exact, None, "reject")
    out = Path(output)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    images = []
    for i, pose in enumerate(tqdm(demo_poses(fps), desc="rendering demo", unit="frame")):
        frame = session.render(pose)[0]
        frame.save(out / "frames" / f"frame_{i:04d}.png")
        images.append(frame.to_pil())
    duration = round(1000 / fps)
    images[0].save(out / "demo.apng", format="PNG", save_all=True, append_images=images[1:], duration=duration,
                   loop=0, disposal=1)
    images[0].save(out / "demo.gif", save_all=True, append_images=images[1:], duration=duration, loop=0,
                   disposal=2, optimize=False)
    click.echo(f"wrote {len(images)} frames, {out / 'demo.apng'} and {out / 'demo.gif'}")


@hookimpl
def tha4_register_commands(cli: click.Group) -> None:
    cli.add_command(render)
    cli.add_command(demo)
