"""``tha4 pose-ui CHARACTER``: pose a character with sliders in the browser, previewed by a renderer."""

from __future__ import annotations

import threading

import click

from tha4_sdk.local_page import LOOPBACK, serve_until_stopped, stop_on_sigint
from tha4_sdk.pose import Pose
from tha4_sdk.render import open_renderer

from tha4_plugins.sliders.source import SliderSource


@click.command("pose-ui")
@click.argument("character")
@click.option("--renderer", default="student", show_default=True, help="Renderer plugin for the preview.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--fast", is_flag=True, help="Use the renderer's fast path for a quicker preview.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on (keep it local).")
@click.option("--port", default=8045, show_default=True, help="Port (0: any free port).")
@click.option("--browser/--no-browser", default=True, show_default=True, help="Open the page in a web browser.")
def pose_ui(character: str, renderer: str, device: str, fast: bool, host: str, port: int, browser: bool) -> None:
    """Pose CHARACTER (a folder or a fetched name) with one slider per parameter and a live preview.

    Stop with Ctrl+C; the final pose is printed as --pose arguments for `tha4 render`.
    """
    with stop_on_sigint() as stopping:
        click.echo(f"loading {character} (Ctrl+C to stop)", err=True)
        pose = serve_until(stopping, character, renderer, device, fast, host, port, browser)
    click.echo(" ".join(f"--pose {k}={v:g}" for k, v in pose.to_dict(nonzero=True).items()) or "(rest pose)")


def serve_until(stopping: threading.Event, character: str, renderer: str, device: str, fast: bool, host: str,
                port: int, browser: bool) -> Pose:
    """Serve the slider page until ``stopping`` is set; the pose the sliders were left in (rest if none)."""
    session = open_renderer(renderer, character, device=device, **({"fast": True} if fast else {}))
    try:
        if stopping.is_set():
            return Pose()
        if host not in LOOPBACK:
            click.echo(f"warning: serving on {host}: anyone who can reach this address can use the page", err=True)
        source = SliderSource(host, port, lambda pose: session.render(pose)[0].to_png(),
                              title=session.character.name)
        serve_until_stopped(source, stopping, lambda url: click.echo(
            f"pose sliders for {session.character.name}: {url}  (Ctrl+C to stop)"), browser)
        return source.pose_at(0.0)
    finally:
        session.close()
