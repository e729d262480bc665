"""The daemon: a ROUTER for requests, a PUB for frames and events, sessions, the distillation queue and
characters made from pictures.

The network thread owns both sockets and answers quick operations itself; slow ones (loading a
character, attaching a source) run in a small thread pool, rendering runs on each session's thread,
jobs on the job runner's thread and a character creation on its own. Everything they send goes through
the `Outbox`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import zmq

import tha4_sdk
from tha4_sdk import plugins
from tha4_sdk.daemon import operations, protocol
from tha4_sdk.daemon.characters import CharacterLibrary
from tha4_sdk.daemon.creations import CharacterCreator, picture_path
from tha4_sdk.daemon.curve_auth import CurveError, ServerKeys, is_loopback
from tha4_sdk.daemon.jobs import JobManager
from tha4_sdk.daemon.jobstore import JobStore
from tha4_sdk.daemon.operations import Operation, Runs
from tha4_sdk.daemon.outbox import Outbox, Request
from tha4_sdk.daemon.protocol import Limits, ProtocolError
from tha4_sdk.daemon.session import CharacterSession, StreamSettings, stop_quietly
from tha4_sdk.hub import home
from tha4_sdk.new_character import HeadBox, NewCharacterOptions
from tha4_sdk.plugins import PluginError
from tha4_sdk.pose import PARAMETER_NAMES, PoseError
from tha4_sdk.presets import PRESETS, preset
from tha4_sdk.source import PoseSource

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Request], "dict[str, Any] | None"]
MAX_ID = 2**63 - 1


#: the teachers `distill.start` takes by name, as `tha4 distill --teacher` does (``student:CHARACTER`` besides)
NAMED_TEACHERS = ("tha4", "tha3")


@dataclass
class DaemonConfig:
    """How to run a daemon (the options of ``tha4 serve``)."""

    host: str = "127.0.0.1"
    port: int = protocol.DEFAULT_PORT
    frame_port: int | None = None  # None: port + 1 (or any free port when port is 0)
    characters: Path = field(default_factory=lambda: home() / "characters")
    allow_roots: tuple[Path, ...] = ()
    state_dir: Path = field(default_factory=lambda: home() / "daemon")
    curve: Path | None = None
    limits: Limits = field(default_factory=Limits)
    heartbeat_s: float = protocol.HEARTBEAT_S


class Daemon:
    """Run with `run` (blocking, in one thread); `stop` from any thread or a signal handler."""

    def __init__(self, config: DaemonConfig) -> None:
        if not is_loopback(config.host) and config.curve is None:
            raise CurveError(f"binding {config.host} exposes the daemon beyond this machine; give it CURVE keys "
                             "(curve=DIR, made by `tha4 curve-keys DIR`) or bind 127.0.0.1")
        self.config = config
        self.limits = config.limits
        # float32 frames depend on the torch thread count, and a new thread may start with another count than
        # this one (on machines with SMT, torch counts physical cores): every thread that loads or renders uses
        # this thread's count, so a frame is the same whichever thread renders it
        self.torch_threads = torch.get_num_threads()
        self.library = CharacterLibrary(config.characters, config.allow_roots)
        self.control_port = 0
        self.frame_port = 0
        self._keys = ServerKeys.load(config.curve) if config.curve else None
        self._stop = threading.Event()
        self._sessions: dict[str, CharacterSession] = {}
        self._reserved = 0
        self._lock = threading.Lock()
        self._heartbeat_seq = 0
        self._handlers: dict[str, Handler] = {name: getattr(self, op.handler)
                                               for name, op in operations.OPERATIONS.items()}

    # --- lifecycle ---------------------------------------------------------------------------------------
    def run(self, on_ready: Callable[["Daemon"], None] | None = None) -> None:
        """Bind, call ``on_ready``, serve until `stop`, then shut everything down cleanly."""
        ctx = zmq.Context()
        auth = self._keys.start_authenticator(ctx) if self._keys else None
        router, pub = ctx.socket(zmq.ROUTER), ctx.socket(zmq.PUB)
        try:
            self._bind(router, pub)
        except BaseException:
            _close(ctx, auth, router, pub)
            raise
        self.outbox = Outbox(ctx, router, pub)
        self.jobs = JobManager(JobStore(self.config.state_dir / "jobs.sqlite"), self.config.state_dir / "jobs",
                               self.outbox.publish_event)
        self.creator = CharacterCreator(self.outbox.publish_event)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="daemon-op",
                                        initializer=torch.set_num_threads, initargs=(self.torch_threads,))
        try:
            self.jobs.start()
            log.info("tha4 daemon listening: control tcp://%s:%d, frames tcp://%s:%d",
                     self.config.host, self.control_port, self.config.host, self.frame_port)
            if on_ready:
                on_ready(self)
            self._serve(router)
        finally:
            self._shutdown()
            _close(ctx, auth, router, pub)
            log.info("tha4 daemon stopped")

    def stop(self) -> None:
        self._stop.set()

    def _bind(self, router: zmq.Socket, pub: zmq.Socket) -> None:
        for sock in (router, pub):
            sock.linger = 0
            sock.setsockopt(zmq.MAXMSGSIZE, self.limits.max_transport_bytes)
            if self._keys:
                self._keys.apply(sock)
        pub.sndhwm = self.limits.frame_queue
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        if ":" in self.config.host:
            router.ipv6 = pub.ipv6 = True
        router.bind(f"tcp://{host}:{self.config.port}")
        self.control_port = _bound_port(router)
        frame_port = self.config.frame_port
        if frame_port is None:
            frame_port = self.control_port + 1 if self.config.port else 0
        pub.bind(f"tcp://{host}:{frame_port}")
        self.frame_port = _bound_port(pub)

    def _serve(self, router: zmq.Socket) -> None:
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(self.outbox.pull, zmq.POLLIN)
        next_beat = time.monotonic()
        while not self._stop.is_set():
            timeout_ms = max(0.0, min(next_beat - time.monotonic(), 0.1)) * 1000
            ready = dict(poller.poll(timeout_ms))
            if self.outbox.pull in ready:
                self.outbox.drain()
            if router in ready:
                for _ in range(256):
                    try:
                        parts = router.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._handle(parts)
            if time.monotonic() >= next_beat:
                self._heartbeat()
                next_beat = time.monotonic() + self.config.heartbeat_s

    def _shutdown(self) -> None:
        """Stop taking work, checkpoint a running job, close the sessions, send what is left."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.jobs.stop()
        self.jobs.store.close()
        self.creator.stop()
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()
        self.outbox.drain()
        self.outbox.close()

    def _heartbeat(self) -> None:
        with self._lock:
            count = len(self._sessions)
        self.outbox.publish_event("heartbeat", {"t": time.time(), "seq": self._heartbeat_seq, "sessions": count})
        self._heartbeat_seq += 1

    # --- requests ----------------------------------------------------------------------------------------
    def _handle(self, parts: list[bytes]) -> None:
        routing, body = parts[:1], parts[1:]
        if body and body[0] == b"":  # a REQ socket's delimiter: echo it back
            routing, body = parts[:2], parts[2:]
        req = Request(self.outbox, routing)
        try:
            self._dispatch(req, body)
        except ProtocolError as e:
            req.fail(e)
        except Exception as e:
            log.exception("request %r (%s) failed", req.id, req.op)
            req.fail(ProtocolError("internal", f"{type(e).__name__}: {e}"))

    def _dispatch(self, req: Request, body: list[bytes]) -> None:
        if len(body) != 1:
            raise ProtocolError("bad_message", f"a request is one envelope frame, got {len(body)} frames")
        env = protocol.unpack_request(body[0], self.limits)
        req_id, op = env.get("id"), env.get("op")
        if isinstance(req_id, int) and not isinstance(req_id, bool) and 0 <= req_id <= MAX_ID or \
                isinstance(req_id, str) and len(req_id) <= 64:
            req.id = req_id
        else:
            raise ProtocolError("bad_message", "id must be an integer ≥ 0 or a string of at most 64 characters")
        if not isinstance(op, str) or len(op) > 64:
            raise ProtocolError("bad_message", "op must be a string of at most 64 characters")
        req.op = op
        version = env.get("v")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProtocolError("bad_message", "v (the protocol version) must be an integer")
        if version not in protocol.VERSIONS:
            raise ProtocolError("unsupported_version", f"protocol version {version} is not spoken here",
                                versions=list(protocol.VERSIONS))
        operation = operations.find(op)
        args = operation.validate(env.get("args", {}))
        if operation.runs is Runs.POOL:
            if self._stop.is_set():
                raise ProtocolError("shutting_down", "the daemon is stopping")
            self._pool.submit(self._run_background, operation, args, req)
        elif operation.runs is Runs.SESSION:
            self._handlers[op](args, req)  # the session's render thread replies
        else:
            req.reply(_declared_result(operation, self._handlers[op](args, req)))

    def _run_background(self, operation: Operation, args: dict[str, Any], req: Request) -> None:
        try:
            req.reply(_declared_result(operation, self._handlers[operation.name](args, req)))
        except ProtocolError as e:
            req.fail(e)
        except Exception as e:
            log.exception("request %r (%s) failed", req.id, req.op)
            req.fail(ProtocolError("internal", f"{type(e).__name__}: {e}"))

    def _session(self, session_id: str) -> CharacterSession:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise ProtocolError("not_found", f"no session {session_id!r} (see sessions.list)")
        return session

    # --- operations --------------------------------------------------------------------------------------
    def op_hello(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        log.info("hello from %s", args["client"] or "a client")
        return {"server": "tha4-sdk", "version": tha4_sdk.__version__, "protocol": protocol.VERSION,
                "protocols": list(protocol.VERSIONS), "protocol_version": protocol.PROTOCOL_VERSION,
                "ops": operations.accepted_args(), "frame_port": self.frame_port,
                "heartbeat_s": self.config.heartbeat_s, "limits": self.limits.as_dict(),
                "parameters": list(PARAMETER_NAMES), "renderers": list(plugins.renderers()),
                "pose_sources": list(plugins.pose_sources()), "pose_filters": list(plugins.pose_filters()),
                "formats": list(protocol.FORMATS)}

    def op_ping(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        return {"t": time.time()}

    def op_characters_list(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        return {"characters": self.library.describe()}

    def op_sessions_list(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        with self._lock:
            sessions = list(self._sessions.values())
        return {"sessions": [s.info() for s in sessions]}

    def op_character_load(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        with self._lock:
            if len(self._sessions) + self._reserved >= self.limits.max_sessions:
                raise ProtocolError("busy", f"{self.limits.max_sessions} sessions are loaded, the most allowed; "
                                            "unload one first")
            self._reserved += 1
        try:
            character = self.library.load(args["character"])
            try:
                renderer = plugins.get("renderer", args["renderer"])(**args["options"])
            except PluginError as e:
                raise ProtocolError("unknown_plugin", str(e), available=list(plugins.renderers())) from None
            except (TypeError, ValueError, RuntimeError) as e:
                raise ProtocolError("bad_args", f"options: {e}", field="options") from None
            try:
                render_session = renderer.open(character)
            except Exception as e:
                raise ProtocolError("load_failed", f"{type(e).__name__}: {e}") from None
            session_id = self._new_session_id()
            session = CharacterSession(session_id, character, args["renderer"], render_session, self.outbox,
                                       self.limits, self.torch_threads)
            with self._lock:
                stopping = self._stop.is_set()
                if not stopping:
                    self._sessions[session_id] = session
        finally:
            with self._lock:
                self._reserved -= 1
        if stopping:
            session.close()
            raise ProtocolError("shutting_down", "the daemon is stopping")
        info = session.info()
        self.outbox.publish_event("session.loaded", info)
        log.info("loaded %s as %s with the %s renderer", character.name, session_id, args["renderer"])
        return info

    def op_character_create(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        image = picture_path(args["image"])
        folder = self.library.new_folder(args["output"])
        options = NewCharacterOptions(name=args["name"] or folder.name, attribution=args["attribution"],
                                      license=args["license"], head=HeadBox(*args["head"]) if args["head"] else None,
                                      teacher=args["teacher"])
        return self.creator.start(image, folder, args["output"], options)

    def _new_session_id(self) -> str:
        while True:
            session_id = "s" + secrets.token_hex(4)
            with self._lock:
                if session_id not in self._sessions:
                    return session_id

    def op_character_unload(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        with self._lock:
            session = self._sessions.pop(args["session"], None)
        if session is None:
            raise ProtocolError("not_found", f"no session {args['session']!r}")
        session.close()
        self.outbox.publish_event("session.unloaded", {"session": session.id, "character": session.character.name})
        return {}

    def op_pose_set(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        self._session(args["session"]).set_pose(args["params"], reset=args["reset"], clamp=args["clamp"])
        return {}

    def op_presets_list(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        return {"presets": [{"name": p.name, "description": p.description, "params": dict(p.values)}
                            for p in PRESETS.values()]}

    def op_expression_set(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        session = self._session(args["session"])
        try:
            chosen = preset(args["preset"])
        except PoseError as e:
            raise ProtocolError("not_found", str(e), presets=list(PRESETS)) from None
        params = {name: value * args["weight"] for name, value in chosen.values.items()}
        session.set_pose(params, reset=args["reset"], clamp=True)
        return {"params": params}

    def op_pose_get(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        return {"params": self._session(args["session"]).pose.to_dict()}

    def op_source_attach(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        session = self._session(args["session"])
        session.check_source_room()
        name = args["source"]
        cls = plugins.pose_sources().get(name) or plugins.pose_filters().get(name)
        if cls is None:
            raise ProtocolError("unknown_plugin", f"no pose source or filter named {name!r}",
                                available=[*plugins.pose_sources(), *plugins.pose_filters()])
        layer = {k: args[k] for k in ("mode", "params", "weight") if args[k] is not None}
        if layer and not issubclass(cls, PoseSource):
            raise ProtocolError("bad_args", f"{name} is a pose filter: mode, params and weight apply to sources",
                                field=next(iter(layer)))
        try:
            plugin = cls(**args["args"])
            if isinstance(plugin, PoseSource):
                plugin.start()
        except Exception as e:
            raise ProtocolError("source_failed", f"{name}: {type(e).__name__}: {e}") from None
        try:
            return {"source": session.attach(name, plugin, layer)}
        except ProtocolError:
            stop_quietly(plugin)
            raise

    def op_source_detach(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        stop_quietly(self._session(args["session"]).detach(args["source"]))
        return {}

    def op_source_sample(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        """A pose source's poses at ``frames`` times ``start + i / fps`` on its own clock (for baking keyframes)."""
        name = args["source"]
        cls = plugins.pose_sources().get(name)
        if cls is None:
            raise ProtocolError("unknown_plugin", f"no pose source named {name!r} (filters cannot be sampled)",
                                available=list(plugins.pose_sources()))
        wanted = args["params"] if args["params"] is not None else list(PARAMETER_NAMES)
        unknown = [n for n in wanted if n not in PARAMETER_NAMES]
        if unknown:
            raise ProtocolError("bad_pose", f"unknown pose parameter {unknown[0]!r}", field="params")
        columns = [PARAMETER_NAMES.index(n) for n in wanted]
        try:
            plugin = cls(**args["args"])
            plugin.start()
        except Exception as e:
            raise ProtocolError("source_failed", f"{name}: {type(e).__name__}: {e}") from None
        try:
            poses: list[list[float] | None] = []
            for i in range(args["frames"]):
                pose = plugin.pose_at(args["start"] + i / args["fps"])
                poses.append(None if pose is None else [float(v) for v in pose.array[columns]])
        except Exception as e:
            raise ProtocolError("source_failed", f"{name}: {type(e).__name__}: {e}") from None
        finally:
            stop_quietly(plugin)
        return {"fps": args["fps"], "start": args["start"], "params": wanted, "poses": poses}

    def op_render(self, args: dict[str, Any], req: Request) -> None:
        self._session(args["session"]).render(req, args["format"], args["size"])

    def op_stream_start(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        settings = StreamSettings(args["fps"], args["format"], args["size"], args["pose"])
        self._session(args["session"]).start_stream(settings)
        return {"stream": settings.as_dict()}

    def op_stream_stop(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        self._session(args["session"]).stop_stream()
        return {}

    def op_distill_start(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        character = self.library.load(args["character"])  # without a face mask, the job reads one off the teacher
        teacher = args["teacher"]
        if teacher.startswith("student:"):
            student = self.library.load(teacher.removeprefix("student:"))
            if not student.has_student or student.root is None:
                raise ProtocolError("load_failed", f"character {student.name!r} has no student weights to teach with")
            teacher_arg = f"student:{student.root}"
        elif teacher in NAMED_TEACHERS:
            teacher_arg = teacher
        else:
            raise ProtocolError("bad_args", f"teacher must be {' or '.join(map(repr, NAMED_TEACHERS))} or "
                                            f"'student:CHARACTER', got {teacher!r}", field="teacher")
        spec = {"character": args["character"], "output": args["output"], "examples": args["examples"],
                "time_budget": args["time_budget"], "teacher": teacher, "image": str(character.image_path),
                "face_mask": character.face_mask_path and str(character.face_mask_path),
                "teacher_arg": teacher_arg, "output_dir": str(self.library.new_folder(args["output"]))}
        return {"job": self.jobs.submit(spec)}

    def op_distill_status(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        return {"job": self.jobs.status(args["job"])}

    def op_distill_cancel(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        return {"job": self.jobs.cancel(args["job"])}

    def op_distill_list(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        return {"jobs": self.jobs.list()}

    def op_shutdown(self, args: dict[str, Any], req: Request) -> dict[str, Any]:
        log.info("shutdown requested")
        self.stop()
        return {}


def _declared_result(operation: Operation, result: dict[str, Any] | None) -> dict[str, Any]:
    """A handler's result, when it is the map its operation declares (an ``internal`` error otherwise)."""
    if not isinstance(result, dict) or set(result) != set(operation.result):
        got = sorted(result) if isinstance(result, dict) else type(result).__name__
        raise ProtocolError("internal", f"{operation.name} answered {got}, not its declared result "
                                        f"{list(operation.result)}")
    return result


def _close(ctx: zmq.Context, auth: Any, router: zmq.Socket, pub: zmq.Socket) -> None:
    router.close(linger=500)  # lets the reply to `shutdown` leave
    pub.close(linger=0)
    if auth is not None:
        auth.stop()
    ctx.term()


def _bound_port(sock: zmq.Socket) -> int:
    return int(sock.getsockopt_string(zmq.LAST_ENDPOINT).rsplit(":", 1)[1])
