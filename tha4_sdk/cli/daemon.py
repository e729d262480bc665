"""``tha4 serve`` (run the daemon in the foreground) and ``tha4 curve-keys`` (keys for a non-loopback daemon)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click
import zmq

from tha4_sdk.cli.errors import as_flags
from tha4_sdk.daemon.curve_auth import CurveError, make_keys
from tha4_sdk.daemon.protocol import DEFAULT_PORT, Limits
from tha4_sdk.daemon.server import Daemon, DaemonConfig
from tha4_sdk.hookspecs import hookimpl

_folder = click.Path(file_okay=False, path_type=Path)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback needs --curve.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Control port (0: any free port).")
@click.option("--frame-port", type=click.IntRange(0, 65535), help="Frame/event port  [default: PORT + 1]")
@click.option("--characters", type=_folder, help="Character store: characters loadable by name  "
                                                  "[default: $THA4_HOME/characters]")
@click.option("--allow-root", multiple=True, type=_folder,
              help="Also allow loading character folders by absolute path under this folder (repeatable).")
@click.option("--state-dir", type=_folder, help="Job database and job logs  [default: $THA4_HOME/daemon]")
@click.option("--curve", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="CURVE key folder from `tha4 curve-keys` (encrypts and authenticates every client).")
@click.option("--max-sessions", default=Limits.max_sessions, show_default=True, type=click.IntRange(1, 256),
              help="Most characters loaded at once.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv: debug).")
def serve(host: str, port: int, frame_port: int | None, characters: Path | None, allow_root: tuple[Path, ...],
          state_dir: Path | None, curve: Path | None, max_sessions: int, verbose: int) -> None:
    """Run the tha4 daemon in the foreground (Ctrl+C or SIGTERM stops it cleanly).

    Clients speak the protocol in docs/protocol.md; from Python use tha4_sdk.client.Client.
    """
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = DaemonConfig(host=host, port=port, frame_port=frame_port, allow_roots=allow_root, curve=curve,
                          limits=Limits(max_sessions=max_sessions))
    config.characters = characters or config.characters
    config.state_dir = state_dir or config.state_dir
    try:
        daemon = Daemon(config)
    except CurveError as e:
        raise click.UsageError(as_flags(str(e), click.get_current_context().command)) from None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: daemon.stop())

    def ready(d: Daemon) -> None:
        click.echo(f"tha4 daemon listening on tcp://{host}:{d.control_port} (frames on port {d.frame_port}); "
                   f"characters from {config.characters}")

    try:
        daemon.run(on_ready=ready)
    except zmq.ZMQError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e}") from None


@click.command("curve-keys")
@click.argument("folder", type=_folder)
@click.option("--client", "clients", multiple=True, default=("client",), show_default=True,
              help="Client name to create and authorize (repeatable).")
def curve_keys(folder: Path, clients: tuple[str, ...]) -> None:
    """Create CURVE keys for `tha4 serve --curve FOLDER` and its clients."""
    make_keys(folder, clients)
    click.echo(f"server keys in {folder}; give each client server.key and its clients/NAME.key_secret")


@hookimpl
def tha4_register_commands(cli: click.Group) -> None:
    cli.add_command(serve)
    cli.add_command(curve_keys)
