"""The load generator: pre-signed texts from thousands of senders, 8 connections, a fixed time.

Every request is built and signed before the clock starts; during a turn a connection only
adds the sender's cookie (what Twilio does) and sends bytes. Each connection plays whole
conversations, one at a time, so each sender's cookie advances turn by turn.
"""

from __future__ import annotations

import random
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from bot.cli.chat import inbound_form
from bot.web.twilio import sign

CONNECTIONS = 8
TIMEOUT = 10.0  # seconds a single request may take before it counts as an error

# Conversation scripts: a first text, then what a person sends next. Free texts get a
# random prefix and ending below, so no two senders send quite the same words.
SCRIPTS: tuple[tuple[str, ...], ...] = (
    ("hi", "1", "1", "0"),
    ("hi", "2", "2", "BACK", "1"),
    ("hello", "4", "1", "0", "6"),
    ("hola", "1", "1"),
    ("hola", "2", "3", "0"),
    ("hola", "5", "2"),
    ("where can i get tested", "0", "3", "2"),
    ("i want to get out", "2", "BACK", "3"),
    ("hotlne", "1"),
    ("numbrs to call", "0", "4"),
    ("what are my rights if i get arrested", "1", "0"),
    ("he is going to hurt me", "1"),
    ("i need a lawyer", "0", "1"),
    ("asdf qwer", "0", "5", "1"),
    ("HELP", "MENU", "3", "5"),
    ("necesito un abogado", "0", "4", "3"),
    ("donde me hago la prueba", "MENU", "2", "1"),
    ("quiero salirme de esto", "2", "atras", "3"),
    ("estoy en peligro", "1"),
    ("necesito un lugar seguro para dormir", "0", "1"),
    ("ESPAÑOL", "1", "1"),
    ("no se", "3", "4"),
)
FREE_TEXT_PREFIXES = ("", "", "hey ", "ok ", "um ", "please ")
FREE_TEXT_ENDINGS = ("", "", "?", "??", " pls", " now", ".", " 🙏")
MENU_ENDINGS = ("", "", "", ".", " ")


def vary(text: str, rng: random.Random) -> str:
    """The same text, written a little differently (prefix, ending, case) by each sender."""
    if len(text) <= 2 or text.isupper():
        return text + rng.choice(MENU_ENDINGS)
    spanish = any(ch in text for ch in "ñ¿áéíóú") or text.split()[0] in {"necesito", "donde", "quiero", "estoy",
                                                                          "hola", "no"}
    prefix = rng.choice(("", "", "oye ", "porfa ")) if spanish else rng.choice(FREE_TEXT_PREFIXES)
    text = prefix + text + rng.choice(FREE_TEXT_ENDINGS)
    return text.capitalize() if rng.random() < 0.3 else text


@dataclass
class Conversation:
    sender: str
    requests: list[tuple[bytes, bytes]]  # (request line and headers without Cookie and blank line, body)


def build_conversations(url: str, token: str, count: int, seed: int = 8,
                        exchange: str = "+1860555") -> list[Conversation]:
    """`count` conversations from distinct senders (exchange + 4 digits), each request signed for `url`."""
    if count > 10_000:
        raise ValueError("at most 10,000 distinct senders per exchange")
    rng = random.Random(seed)  # noqa: S311 - repeatable test data, not secrets
    parts = urlsplit(url)
    conversations = []
    for number in rng.sample(range(10_000), count):
        sender = f"{exchange}{number:04d}"
        script = rng.choice(SCRIPTS)
        requests = []
        for text in script:
            form = inbound_form(sender, vary(text, rng))
            body = urlencode(form).encode()
            head = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    f"User-Agent: TwilioProxy/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    f"X-Twilio-Signature: {sign(token, url, form)}\r\nContent-Length: {len(body)}\r\n")
            requests.append((head.encode(), body))
        conversations.append(Conversation(sender, requests))
    return conversations


@dataclass
class TurnResult:
    """What one load turn against one server gave."""

    name: str
    seconds: float
    ok: int = 0
    non_200: int = 0
    errors: int = 0
    empty: int = 0  # 200 answers without a <Message> (the rate limiter's empty TwiML)
    with_cookie: int = 0
    senders: int = 0
    latencies: list[float] = field(default_factory=list, repr=False)  # seconds, 200 answers only
    server_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return percentile(self.latencies, q)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class ConversationPool:
    """Hands whole conversations to connections, round and round; the cookie jar per sender."""

    def __init__(self, conversations: list[Conversation]):
        self.conversations = conversations
        self.cookies: dict[str, bytes] = {}
        self.handed = 0
        self._lock = threading.Lock()

    def take(self) -> Conversation:
        with self._lock:
            index, self.handed = self.handed, self.handed + 1
        return self.conversations[index % len(self.conversations)]


def run_turn(name: str, host: str, port: int, pool: ConversationPool, seconds: float,
             connections: int = CONNECTIONS, cpu_of_server=None) -> TurnResult:
    """Load one server for `seconds` with `connections` concurrent connections."""
    deadline_box: list[float] = []
    results = [_ConnectionResult() for _ in range(connections)]
    start_gate = threading.Barrier(connections + 1)
    threads = [threading.Thread(target=_connection, args=(host, port, pool, deadline_box, start_gate, r), daemon=True)
               for r in results]
    for thread in threads:
        thread.start()
    first_conversation = pool.handed
    cpu_before = cpu_of_server() if cpu_of_server else 0.0
    client_before = time.process_time()
    start = time.perf_counter()
    deadline_box.append(start + seconds)
    start_gate.wait()
    for thread in threads:
        thread.join(seconds + TIMEOUT + 5)
    result = TurnResult(name, seconds)
    result.client_cpu_seconds = time.process_time() - client_before
    result.server_cpu_seconds = (cpu_of_server() - cpu_before) if cpu_of_server else 0.0
    result.senders = min(pool.handed - first_conversation, len(pool.conversations))
    for r in results:
        result.ok += r.ok
        result.non_200 += r.non_200
        result.errors += r.errors
        result.empty += r.empty
        result.with_cookie += r.with_cookie
        result.latencies.extend(r.latencies)
    return result


@dataclass
class _ConnectionResult:
    ok: int = 0
    non_200: int = 0
    errors: int = 0
    empty: int = 0
    with_cookie: int = 0
    latencies: list[float] = field(default_factory=list)


def _connection(host: str, port: int, pool: ConversationPool, deadline_box: list[float],
                start_gate: threading.Barrier, out: _ConnectionResult) -> None:
    """One client connection: keep-alive when the server allows it, reconnect when it closes."""
    start_gate.wait()
    deadline = deadline_box[0]
    clock = time.perf_counter
    cookies = pool.cookies
    conn: socket.socket | None = None
    try:
        while True:
            conversation = pool.take()
            sender = conversation.sender
            for head, body in conversation.requests:
                began = clock()
                if began >= deadline:
                    return
                cookie = cookies.get(sender)
                data = head + (b"Cookie: hl=" + cookie + b"\r\n\r\n" if cookie else b"\r\n") + body
                try:
                    if conn is None:
                        conn = socket.create_connection((host, port), timeout=TIMEOUT)
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conn.sendall(data)
                    status, set_cookie, close, has_message = _read_answer(conn)
                except OSError:
                    out.errors += 1
                    if conn is not None:
                        conn.close()
                        conn = None
                    break  # this conversation's cookie is now unknown: start another
                finished = clock()
                if close:
                    conn.close()
                    conn = None
                if finished > deadline:
                    return  # answered after the bell: not counted
                if cookie:
                    out.with_cookie += 1
                if set_cookie is not None:
                    if set_cookie:
                        cookies[sender] = set_cookie
                    else:
                        cookies.pop(sender, None)
                if status == 200:
                    out.ok += 1
                    out.empty += not has_message
                    out.latencies.append(finished - began)
                else:
                    out.non_200 += 1
    finally:
        if conn is not None:
            conn.close()


def _read_answer(conn: socket.socket) -> tuple[int, bytes | None, bool, bool]:
    """(status, the hl cookie set (b"" when deleted, None when untouched), server closes, has a <Message>)."""
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the answer")
        data += chunk
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            break
    head, body = data[:end], data[end + 4:]
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close, cookie = None, lines[0].startswith(b"HTTP/1.0"), None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"set-cookie":
            pair = value.strip().split(b";", 1)[0]
            key, _, val = pair.partition(b"=")
            if key == b"hl":
                cookie = b"" if b"max-age=0" in value.lower() or not val else val
    if length is None:
        close = True
        while chunk:
            chunk = conn.recv(65536)
            body += chunk
    else:
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("closed in the middle of the answer")
            body += chunk
    return status, cookie, close, b"<Message" in body


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
