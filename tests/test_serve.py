"""`helpline serve` itself, as deployed: gunicorn, two sync workers, on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from bench.server import free_port
from bot.cli.chat import inbound_form, messages_of
from bot.web.twilio import sign

TOKEN, SECRET = "t" * 32, "s" * 32


@pytest.fixture
def served(tmp_path):
    """`helpline serve --workers 2` on a free port: (its /sms URL, the process)."""
    port = free_port()
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": SECRET,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}"}
    helpline = os.path.join(os.path.dirname(sys.executable), "helpline")
    server = subprocess.Popen([helpline, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],  # noqa: S603
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()  # noqa: S310
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/sms", server
    server.terminate()
    server.wait(15)


def text(url: str, body: str, timeout: float = 40) -> list[str]:
    form = inbound_form("+18605550999", body)
    request = urllib.request.Request(url, urlencode(form).encode(), {  # noqa: S310 - loopback
        "X-Twilio-Signature": sign(TOKEN, url, form), "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return messages_of(response.read().decode())


def test_two_slow_bodies_do_not_keep_a_danger_text_waiting(served):
    """Content-Length 60000 and seven bytes sent, twice: both sync workers were held for 30 s."""
    url, _ = served
    port = int(url.split(":")[2].split("/")[0])
    slow = []
    for _ in range(2):
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(b"POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 60000\r\nX-Twilio-Signature: x\r\n\r\nBody=he")
        slow.append(conn)
    time.sleep(0.5)  # both workers are now reading a body that does not come
    started = time.monotonic()
    answer = text(url, "he is going to kill me")
    took = time.monotonic() - started
    for conn in slow:
        conn.close()
    assert "911" in "\n".join(answer) and took < 5, took


def test_a_restart_under_load_answers_every_connection_it_accepted(served):
    """SIGTERM while texts keep coming: each connection the server took is answered, none reset."""
    import http.client
    import signal
    import threading

    url, server = served
    port = int(url.split(":")[2].split("/")[0])
    form = inbound_form("+18605550998", "hi")
    body = urlencode(form).encode()
    headers = {"X-Twilio-Signature": sign(TOKEN, url, form), "Content-Type": "application/x-www-form-urlencoded"}
    outcomes: list[str] = []
    stop = threading.Event()

    def sender() -> None:
        while not stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            try:
                conn.connect()
            except OSError:
                outcomes.append("refused")  # not listening any more: Twilio's fallback URL takes it
                time.sleep(0.01)
                continue
            try:
                conn.request("POST", "/sms", body, headers)
                outcomes.append("answered" if conn.getresponse().status == 200 else "error")
            except (OSError, http.client.HTTPException):
                outcomes.append("reset")  # taken, and never answered
            finally:
                conn.close()
            time.sleep(0.03)  # 16 senders, about 500 texts a second: busy, not saturated

    threads = [threading.Thread(target=sender) for _ in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    server.send_signal(signal.SIGTERM)
    server.wait(20)
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join(20)
    assert outcomes.count("answered") > 300 and outcomes.count("reset") == 0, \
        {kind: outcomes.count(kind) for kind in set(outcomes)}


def test_a_reload_keeps_the_line_answering(served):
    """HUP (a reload, new workers) must not stop the listening socket the master keeps."""
    import signal

    url, server = served
    assert "911" in "\n".join(text(url, "hi"))
    server.send_signal(signal.SIGHUP)
    time.sleep(3)  # the old workers drain and leave, new ones start
    answers = [text(url, "hi", timeout=10) for _ in range(5)]
    assert all("911" in "\n".join(a) for a in answers) and server.poll() is None
