"""``tha4 export …``: ship a character (an ONNX graph, a static web player, a Ren'Py game folder, …).

The ``export`` group is added to ``tha4`` through the ``tha4_register_commands`` hook, like every command
group. A new exporter is a command added to it: here, or by a plugin that looks the group up in the
root group it is given (``cli.commands["export"].add_command(...)``, docs/plugin_hooks.md). Each command
imports its library module only when it runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from tha4_sdk import hub, plugins
from tha4_sdk.hookspecs import hookimpl


@click.group("export")
def export() -> None:
    """Ship a character: an ONNX graph, a static web player, a Ren'Py game folder."""


def _student_character(spec: str):  # noqa: ANN202
    character = hub.resolve_character(spec)
    if not character.has_student:
        raise click.ClickException(f"{spec}: character {character.name!r} has no student weights to export; "
                                   "distill one with `tha4 distill` first")
    return character


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.2f} MB"


@export.command("onnx")
@click.argument("character")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
@click.option("--graph", "graphs", multiple=True, type=click.Choice(["fast", "unbanded", "fp16", "exact"]),
              default=("fast",), show_default=True,
              help="fast: character.onnx (the fast path's algebra, float32, in bands for CPU caches); unbanded: "
                   "character_unbanded.onnx (the same without bands: loads faster); fp16: character_fp16.onnx "
                   "(float16 products, for GPUs); exact: character_exact.onnx (the official networks as written). "
                   "Repeatable.")
@click.option("--no-rgba8", is_flag=True, help="Leave out the second output rgba8 (uint8 N×512×512×4).")
def onnx_cmd(character: str, output: str, graphs: tuple[str, ...], no_rgba8: bool) -> None:
    """Write CHARACTER's student as DIR/character.onnx (pose [N,45] → image [N,4,512,512]) and character.json."""
    from tha4_sdk.export.onnx import export_onnx

    ch = _student_character(character)
    for path in export_onnx(ch, output, graphs=tuple(dict.fromkeys(graphs)), rgba8=not no_rgba8):
        click.echo(f"{path}  {_size(path)}")


@export.command("web")
@click.argument("character")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder of the site.")
@click.option("--timeline", "timeline_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A YAML timeline to play in the page (docs/timeline.md); repeatable.")
@click.option("--from", "runtime_from", type=click.Path(exists=True),
              help="onnxruntime-web offline: its .tgz from the npm registry, or a folder holding it or its files.")
@click.option("--mirror", help="Download onnxruntime-web from MIRROR/<name>/<file> instead of the npm registry.")
def web_cmd(character: str, output: str, timeline_files: tuple[str, ...], runtime_from: str | None,
            mirror: str | None) -> None:
    """Write a static site that plays CHARACTER in the browser (onnxruntime-web; no Python, no network).

    \b
    tha4 export web lambda_00 -o site --timeline scene.yaml
    tha4 export serve site                  # then open http://127.0.0.1:8000/
    """
    from tha4_sdk.export.web import export_web

    ch = _student_character(character)
    # the ``timeline`` pose-source plugin reads each file and compiles it for the page
    timelines = [plugins.get("pose_source", "timeline")(f).compiled() for f in timeline_files]
    written = export_web(ch, output, timelines=timelines, runtime_from=runtime_from, mirror=mirror)
    total = sum(p.stat().st_size for p in written)
    click.echo(f"wrote {len(written)} files ({total / 1e6:.1f} MB) into {output}; "
               + ", ".join(f"{p.name} {_size(p)}" for p in written if p.suffix == ".onnx"))
    click.echo(f"try it: tha4 export serve {output}   (any static file server works; one that sends "
               "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, as this one "
               "does, lets it run multi-threaded)")


@export.command("serve")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-isolation", is_flag=True, help="Leave out the COOP/COEP headers (single-threaded WASM).")
def serve_cmd(folder: str, port: int, no_isolation: bool) -> None:
    """Serve an exported web player on 127.0.0.1 (cross-origin isolated: multi-threaded WASM) until Ctrl+C."""
    from tha4_sdk.export.static_site_server import SiteServer

    server = SiteServer(folder, port, isolated=not no_isolation)
    click.echo(f"serving {folder} at {server.url}/ (Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


@export.command("renpy")
@click.argument("character")
@click.option("-o", "--output", "game_dir", required=True, type=click.Path(file_okay=False),
              help="The Ren'Py game/ folder to write into.")
@click.option("--tag", required=True, help="The Ren'Py image tag: `show TAG smile`.")
@click.option("--expressions", help="Comma-separated presets to export (default: every one known).")
@click.option("--timeline", "timelines", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A YAML timeline to export as a movie, `show TAG STEM`; repeat for several.")
@click.option("--renderer", default="student", show_default=True, help="Renderer plugin name.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--fast", is_flag=True, help="Use the renderer's fast path (student: folded SIREN, ≥45 dB).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True, max=240),
              help="Frame rate of the movies (default: each timeline's own).")
@click.option("--size", type=click.IntRange(16, 4096), help="Scale sprites and movies to SIZE×SIZE pixels.")
def renpy_cmd(character: str, game_dir: str, tag: str, expressions: str | None, timelines: tuple[str, ...],
          renderer: str, device: str, fast: bool, fps: float | None, size: int | None) -> None:
    """Write CHARACTER's sprites, timeline movies and tha4_TAG.rpy into a Ren'Py game folder (docs/renpy.md).

    \b
    tha4 export renpy lambda_00 -o mygame/game --tag lambda --expressions smile,wink --timeline greeting.yaml
    """
    from tha4_sdk.cli.render import open_session
    from tha4_sdk.export.renpy import export_renpy, load_timelines

    loaded = load_timelines(timelines)
    session = open_session(character, renderer, device, "float32", {"fast": True} if fast else {})
    names = [n.strip() for n in expressions.split(",") if n.strip()] if expressions else None
    result = export_renpy(session, game_dir, tag, renderer=renderer, expressions=names, timelines=loaded, fps=fps,
                          size=size)
    click.echo(f"wrote {len(result.sprites)} expressions and {len(result.movies)} movies for `show {tag} …` "
               f"into {result.game_dir / result.folder}, script {result.script}")


@hookimpl
def tha4_register_commands(cli: click.Group) -> None:
    cli.add_command(export)
