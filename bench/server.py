"""Gunicorn servers on loopback for the load turns: start, wait until they answer, measure, stop."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# The production command (`helpline serve`) runs gunicorn with its default worker class, sync.
WORKER_CLASS = "sync"
WEBHOOK_APP = "wsgi:app"
BARE_APP = "bench.bare:app"


def free_port() -> int:
    """A port nothing listens on right now, on loopback."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _quiet_flags() -> list[str]:
    """Gunicorn 25.1+ opens a control socket under ~/.gunicorn: not for throwaway benchmark servers."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def webhook_env(database_url: str, token: str, secret: str) -> dict[str, str]:
    """The environment of a production-like webhook server: signed requests only, a temp database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env.update(TWILIO_AUTH_TOKEN=token, SECRET_KEY=secret, DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    return env


@dataclass
class Server:
    """One gunicorn master (and its workers) started by the benchmark."""

    app: str
    workers: int
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/sms"

    def start(self) -> Server:
        log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(log.name)
        command = [sys.executable, "-m", "gunicorn", "--workers", str(self.workers),
                   "--worker-class", WORKER_CLASS, "--bind", f"{HOST}:{self.port}", *_quiet_flags(), self.app]
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,  # noqa: S603 - our argv
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        return self

    def first_answer(self, request: bytes, timeout: float = 30.0) -> float:
        """Seconds from process start until `request` (a whole HTTP request) is answered 200."""
        deadline = self.started_at + timeout
        while time.perf_counter() < deadline:
            self._check_alive()
            try:
                with socket.create_connection((HOST, self.port), timeout=timeout) as conn:
                    conn.sendall(request)
                    status = _status_of(conn)
            except OSError:
                time.sleep(0.005)
                continue
            if status == 200:
                return time.perf_counter() - self.started_at
            time.sleep(0.005)
        raise RuntimeError(f"{self.app} did not answer 200 within {timeout:.0f} s; see {self.log_path}")

    def wait_ready(self, request: bytes, timeout: float = 30.0) -> None:
        self.first_answer(request, timeout)

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"gunicorn for {self.app} exited with {self.process.returncode}:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: children of the master, found through /proc."""
        if self.process is None:
            return []
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name is in parentheses and may hold spaces: the ppid follows the last ")".
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == self.process.pid:
                children.append(int(entry.name))
        return sorted(children)

    def workers_rss_kib(self) -> list[int]:
        """VmRSS of each worker, in KiB."""
        sizes = []
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]))
            except OSError:
                continue
        return sizes

    def workers_cpu_seconds(self) -> float:
        """User + system CPU time of all workers so far (for CPU per request)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.worker_pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the master (it stops its workers), SIGKILL if it does not go in time."""
        if self.process is None or self.process.poll() is not None:
            return
        workers = self.worker_pids()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=5)

    def cleanup(self) -> None:
        self.stop()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)


def _status_of(conn: socket.socket) -> int:
    """The status code of the answer on conn, reading the whole answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while length is not None and len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1])


def new_secrets() -> tuple[str, str]:
    """A throwaway Twilio token and SECRET_KEY for one run."""
    return secrets.token_hex(16), secrets.token_urlsafe(32)
