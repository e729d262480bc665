"""CURVE encryption and client authentication, required when the daemon binds a non-loopback address.

A key folder (made by ``tha4 curve-keys DIR``)::

    DIR/server.key, DIR/server.key_secret      the daemon's key pair
    DIR/authorized/NAME.key                    public keys of the clients the daemon accepts
    DIR/clients/NAME.key, NAME.key_secret      each client's key pair (copy to that client with server.key)
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from tha4_sdk.errors import Tha4Error


class CurveError(Tha4Error, RuntimeError):
    """Missing CURVE support or keys, or a non-loopback bind without them."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that resolve only to them (``localhost``)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def require_curve() -> None:
    if not zmq.has("curve"):
        raise CurveError("this libzmq has no CURVE support (built without libsodium); install a pyzmq wheel from PyPI")


def make_keys(folder: str | Path, clients: tuple[str, ...] = ("client",)) -> Path:
    """Create the server key pair and one key pair per client name; authorize those clients."""
    require_curve()
    folder = Path(folder)
    for sub in ("authorized", "clients"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if not (folder / "server.key_secret").exists():
        zmq.auth.create_certificates(folder, "server")
    for name in clients:
        public, _ = zmq.auth.create_certificates(folder / "clients", name)
        shutil.copyfile(public, folder / "authorized" / f"{name}.key")
    return folder


@dataclass(frozen=True)
class ServerKeys:
    public: bytes
    secret: bytes
    authorized: Path

    @classmethod
    def load(cls, folder: str | Path) -> "ServerKeys":
        require_curve()
        folder = Path(folder)
        secret_file = folder / "server.key_secret"
        if not secret_file.is_file():
            raise CurveError(f"{secret_file} not found; create keys with `tha4 curve-keys {folder}`")
        public, secret = zmq.auth.load_certificate(secret_file)
        if secret is None:
            raise CurveError(f"{secret_file} holds no secret key; create keys with `tha4 curve-keys {folder}`")
        return cls(public, secret, folder / "authorized")

    def start_authenticator(self, ctx: zmq.Context) -> ThreadAuthenticator:
        """Accept only clients whose public key is in ``authorized/``."""
        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve(domain="*", location=str(self.authorized))
        return auth

    def apply(self, sock: zmq.Socket) -> None:
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_server = True


@dataclass(frozen=True)
class ClientKeys:
    server_public: bytes
    public: bytes
    secret: bytes

    @classmethod
    def load(cls, folder: str | Path, name: str = "client") -> "ClientKeys":
        """Keys for client ``name`` from a key folder (``server.key`` and ``clients/NAME.key_secret``)."""
        require_curve()
        folder = Path(folder)
        server_public, _ = zmq.auth.load_certificate(folder / "server.key")
        public, secret = zmq.auth.load_certificate(folder / "clients" / f"{name}.key_secret")
        if secret is None:
            raise CurveError(f"{folder / 'clients' / name}.key_secret holds no secret key")
        return cls(server_public, public, secret)

    def apply(self, sock: zmq.Socket) -> None:
        sock.curve_serverkey = self.server_public
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret
