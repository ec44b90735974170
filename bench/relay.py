"""A TCP relay on loopback that can stop answering without refusing: a database that hangs.

`Relay(port).start()` forwards 127.0.0.1:relay.port to 127.0.0.1:port. After `hold()`, it still
accepts connections and keeps every connection open, but forwards nothing either way: a
client sees a server that takes its bytes and never replies, as a stuck network or a frozen
database host does. `release()` forwards again; `stop()` closes everything.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

HOST = "127.0.0.1"


class Relay:
    """Forward loopback TCP to a port, or hold every byte while held."""

    def __init__(self, target_port: int, target_host: str = HOST):
        self.target = (target_host, target_port)
        self.held = threading.Event()
        self.stopped = threading.Event()
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = [self._listener]
        self._lock = threading.Lock()

    def start(self) -> Relay:
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()
        return self

    def hold(self) -> None:
        self.held.set()

    def release(self) -> None:
        self.held.clear()

    def stop(self) -> None:
        self.stopped.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._keep(client)
            if self.held.is_set():
                continue  # accepted, and never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._keep(upstream)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        while not self.stopped.is_set():
            try:
                ready, _, _ = select.select(list(peers), [], [], 0.1)
            except (OSError, ValueError):
                return
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    for end in peers:
                        with contextlib.suppress(OSError):
                            end.close()
                    return
                if self.held.is_set():
                    continue  # taken, and dropped: the other side waits for ever
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return
