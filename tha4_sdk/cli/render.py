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
from tha4_sdk.render.base import RendererOption, RenderSession, flag_of, open_renderer
from tha4_sdk.render.source_render import render_source_to_file

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


def open_session(character: str, renderer: str, device: str, dtype: str, options: dict[str, Any]) -> RenderSession:
    """Open a renderer session on a character spec; an option the renderer does not declare is an error that
    lists, as flags, those it does."""
    plugins.get("renderer", renderer).check_options(list(options), as_flags=True)
    return open_renderer(renderer, character, device=device, dtype=dtype, **options)


def declared_options() -> dict[str, tuple[RendererOption, list[str]]]:
    """Every option the installed renderers declare, by name, with the names of the renderers that take it (the
    first declaration of a name gives its type and default)."""
    found: dict[str, tuple[RendererOption, list[str]]] = {}
    for cls in plugins.renderers().values():
        for option in cls.options:
            found.setdefault(option.name, (option, []))[1].append(cls.name)
    return found


def option_flag(option: RendererOption, renderers: list[str]) -> click.Option:
    """The ``tha4 render`` flag of a declared renderer option; its help names the renderers that take it."""
    help, flag = f"{', '.join(renderers)}: {option.help}", flag_of(option.name)
    if option.type is bool:  # a flag; one that defaults to True is turned off by --no-…
        switch = f"{flag}/--no-{flag[2:]}" if option.default else flag
        return click.Option([switch, option.name], is_flag=True, default=bool(option.default), help=help)
    kind = (click.Choice(option.choices) if option.choices else click.Path() if option.type is Path
            else click.types.convert_type(option.type))
    return click.Option([flag, option.name], type=kind, default=option.default, help=help,
                        show_default=option.default is not None)


class RenderCommand(click.Command):
    """``tha4 render``: besides its own options, one flag per option the installed renderers declare
    (`tha4_sdk.render.base.RendererOption`), so a renderer's new option needs no edit here."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        own = {p.name for p in self.params}
        flags = [option_flag(option, names) for name, (option, names) in declared_options().items() if name not in own]
        return [*self.params, *flags, *super().get_params(ctx)[len(self.params):]]


def given_options(ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The renderer options the command line gave (not those left at their defaults)."""
    return {name: value for name, value in values.items()
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}


def _write(session: RenderSession, poses: np.ndarray, paths: list[Path], raw: bool) -> None:
    """Render N poses in one call into N files: raw tensors (.npy, the computed dtype) or pictures."""
    if raw:
        with torch.inference_mode():
            tensor = session.render_raw(torch.tensor(poses, device=session.device))
        if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16; float32 holds it exactly
            tensor = tensor.float()
        for path, image in zip(paths, tensor.cpu().numpy()):
            np.save(path, image)  # the computed dtype: float32, float64 or float16
    else:
        for path, frame in zip(paths, session.render(poses, batch_size=len(poses))):
            frame.save(path)


@click.command("render", cls=RenderCommand)
@click.argument("character")
@click.option("--pose", "pose_items", multiple=True, metavar="NAME=VALUE",
              help="Set a pose parameter (official name); repeat for several.")
@click.option("--poses", "poses_file", type=click.Path(exists=True, dir_okay=False),
              help="An N×45 .npy file of poses; renders N frames into the folder given by -o.")
@click.option("--batch-size", default=4, show_default=True, type=click.IntRange(min=1),
              help="Poses rendered per call with --poses (fewer: less memory).")
@click.option("-o", "--output", required=True, type=click.Path(), help="out.png, out.npy (raw tensor in the computed dtype), or a folder.")
@click.option("--renderer", default="student", show_default=True,
              help="Renderer plugin name (student, teacher, tha3, …).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--dtype", default="float32", show_default=True,
              help="float32 or float64 (every operation in that dtype), float16 or bfloat16 (autocast).")
@click.option("--clamp", is_flag=True, help="Clamp out-of-range pose values instead of rejecting them.")
@click.option("--format", "fmt", type=click.Choice(["png", "npy"]), default="png", show_default=True,
              help="Frame format when -o is a folder (with --poses).")
@click.option("--timeline", "timeline_file", type=click.Path(exists=True, dir_okay=False),
              help="A YAML timeline (docs/timeline.md); -o picks the format: .webm .mov .apng .gif or folder/.")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True, max=240),
              help="Frame rate for --timeline (default: the timeline's own, else 30).")
@click.option("--size", type=click.IntRange(16, 4096), help="Scale --timeline frames to SIZE×SIZE pixels.")
@click.pass_context
def render(ctx: click.Context, character: str, pose_items: tuple[str, ...], poses_file: str | None, batch_size: int,
           output: str, renderer: str, device: str, dtype: str, clamp: bool, fmt: str, timeline_file: str | None,
           fps: float | None, size: int | None, **renderer_options: Any) -> None:
    """Render CHARACTER (a folder, an image for the teacher, or a fetched name) in a pose or a timeline.

    The renderer's own options (--fast, --weights, --channels-last, …) are those it declares; a flag the chosen
    renderer does not take is an error that lists the ones it does.

    \b
    tha4 render lambda_00 --pose mouth_aaa=1 --pose head_y=0.4 -o smile.png
    tha4 render lambda_00 --poses poses.npy -o frames/
    tha4 render lambda_00 --timeline scene.yaml -o scene.webm
    tha4 render me.png --renderer teacher --weights tha4/ --pose eye_wink_left=1 -o wink.png
    tha4 render me.png --renderer tha3 --pose mouth_aaa=1 -o talk.png
    """
    out = Path(output)
    options = given_options(ctx, renderer_options)
    if sum(map(bool, (poses_file, pose_items, timeline_file))) > 1:
        raise click.UsageError("use only one of --pose, --poses and --timeline")
    if timeline_file:  # the ``timeline`` pose-source plugin plays the file; the file's suffix picks the sink
        source = plugins.get("pose_source", "timeline")(timeline_file)
        session = open_session(character, renderer, device, dtype, options)
        count = render_source_to_file(session, source, output, fps=fps, size=size)
        click.echo(f"wrote {count} frames to {output}")
        return
    if poses_file:
        poses = validate_batch(np.load(poses_file, allow_pickle=False), clamp=clamp)
    else:
        poses = Pose.from_dict(parse_assignments(pose_items), clamp=clamp).array[None]
    if not poses_file and out.suffix.lower() not in (".png", ".npy", ".webp", ".tif", ".tiff"):
        raise click.UsageError(f"-o {output}: use a .png (picture) or .npy (raw tensor) file name")
    session = open_session(character, renderer, device, dtype, options)
    if not poses_file:
        _write(session, poses, [out], raw=out.suffix.lower() == ".npy")
        click.echo(f"wrote {out}")
        return
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"frame_{i:05d}.{fmt}" for i in range(len(poses))]
    with tqdm(total=len(poses), desc="rendering", unit="frame") as bar:
        for start in range(0, len(poses), batch_size):
            _write(session, poses[start:start + batch_size], paths[start:start + batch_size], raw=fmt == "npy")
            bar.update(len(paths[start:start + batch_size]))
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
    session = open_session(character, "student", device, "float32", {"fast": not exact})
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
