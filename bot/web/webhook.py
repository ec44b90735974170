"""POST /sms and GET /healthz: the only module that touches Flask's request."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import io
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Request, Response, abort, current_app, jsonify, request
from flask.sessions import SessionInterface
from limits import parse_many
from werkzeug.exceptions import HTTPException

from bot import directory, stats, tables
from bot.clock import Clock
from bot.engine import conversation as engine
from bot.engine.conversation import Context
from bot.engine.flows import Flows
from bot.errors import FlowError
from bot.privacy import StateCodec, keyed_hash
from bot.tables import load_flows
from bot.web.flowswatch import FlowsWatch
from bot.web.ratelimit import Limits
from bot.web.replies import Renderer
from bot.web.twilio import EMPTY_TWIML, signature_valid, twiml
from bot.web.upkeep import Upkeep

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)
COOKIE = "hl"
MAX_FIELDS = 100  # Twilio's webhook posts about 20 to 40 fields (more with media); more is not Twilio
MAX_BODY = 64 * 1024
BODY_SECONDS = 2.0  # Twilio sends a text's body at once; a body still arriving after this is cut off
EXIT_FLUSH_SECONDS = 3.0  # at exit, the last counts wait this long for the database, then are dropped
XML = "text/xml; charset=utf-8"


@dataclass
class Helpline:
    """What a worker answers from: flows, directory snapshot, cookie codec, settings."""

    flows: Flows
    context: Context  # what step needs besides the flows: the place resolver
    codec: StateCodec
    token: str
    local: bool
    directory: directory.DirectoryCache
    limits: Limits
    tally: stats.Tally
    clock: Clock  # the one clock: now, and the line's day and wall time
    public_url: str = ""
    danger_limit: list = field(default_factory=list)  # limits items for danger texts (HELPLINE_DANGER_RATE_LIMIT)
    watch: FlowsWatch | None = None  # the flows folder, reloaded when edited
    upkeep: Upkeep = field(init=False)  # the database jobs, on their own thread
    renderer: Renderer = field(init=False)
    safe_twiml: str = field(init=False)

    def __post_init__(self) -> None:
        self.rebuild()
        self.upkeep = Upkeep(self.database_jobs, now=self.clock.now)

    def database_jobs(self, now: float) -> None:
        """Write the batched counts, pick up a changed directory and edited flows (on the upkeep thread)."""
        self.tally.flush_if_due(now)
        self.directory.refresh_if_due(now, self.rebuild)
        if self.watch is not None:
            self.watch.refresh_if_due(now, self.use_flows)

    def use_flows(self, flows: Flows) -> None:
        """Answer from newly loaded flows from the next text on."""
        self.flows = flows
        self.rebuild()

    @property
    def problem(self) -> str | None:
        """Why the line is not answering as configured (the directory, then the flows), or None."""
        return self.directory.problem or (self.watch.problem if self.watch is not None else None)

    def day(self, now: float) -> dt.date:
        """The line's calendar day at a moment (counts are per day, in the line's time zone)."""
        return self.clock.today(now)

    def rebuild(self) -> None:
        """Re-render against the current snapshot (at start and when the directory changes)."""
        self.renderer = Renderer(self.flows, self.directory.snapshot, clock=self.clock)
        fallback = engine.step(None, "", self.flows, self.context, 0)[1]
        self.safe_twiml = twiml(self.renderer.messages(fallback))


class NoSessions(SessionInterface):
    """No Flask session: the line's only state is its own sealed cookie, and opening Flask's
    signed session on every text cost a worker more than the engine did."""

    def open_session(self, app: Flask, request: Any) -> None:
        return None

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        return None


def helpline() -> Helpline:
    return current_app.extensions["helpline"]


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _public_url(req: Request, base: str) -> str:
    """The URL Twilio signed: a configured public base, or what the (proxy-fixed) request says.

    Built from the request's parts as sent (werkzeug's request.url also rewrites escapes).
    """
    query = req.environ.get("QUERY_STRING", "")
    path = req.root_path + req.path + (f"?{query}" if query else "")
    return base.rstrip("/") + path if base else f"{req.scheme}://{req.host}{path}"


def _refusal(line: Helpline, req: Request) -> str | None:
    """Why a request is not Twilio's (None when it is): what an operator needs to fix a first connection."""
    signature = req.headers.get("X-Twilio-Signature")
    form = req.form
    fields = sum(len(values) for _, values in form.lists())
    if fields > MAX_FIELDS:  # not Twilio: refused before any HMAC over thousands of fields
        abort(413)
    if any(not isinstance(name, str) or not name for name in form):  # a multipart part with no name
        return "a form field has no name"
    if line.token and signature:
        if signature_valid(line.token, _public_url(req, line.public_url), form, signature):
            return None
        return ("the X-Twilio-Signature does not match: Twilio signs the URL it calls, so set HELPLINE_PUBLIC_URL "
                "or HELPLINE_TRUST_PROXY if that URL is not this one, and check TWILIO_AUTH_TOKEN")
    if line.local and _loopback(req.remote_addr):
        return None
    if not signature:
        return "no X-Twilio-Signature header" + (" (local mode answers this machine only)" if line.local else "")
    return "a signed request, but TWILIO_AUTH_TOKEN is not set"


def _refused(line: Helpline, req: Request, reason: str) -> Response:
    """403, and one log line with the reason and the URL the signature is checked against (no form value)."""
    log.warning("refused a request: %s; signature checked against %r", reason, _public_url(req, line.public_url)[:300])
    return Response(f"Forbidden: {reason}.\n", status=403, mimetype="text/plain")


def sender_key(limits: Limits, sender: str, day: dt.date) -> str:
    """Who the rate limit counts: a hash of the number under a random key of the line's day (not
    SECRET_KEY: with it, a whole area code could be tried in seconds)."""
    day = day.isoformat()
    return "sms:" + keyed_hash(limits.salt(day), sender, day)


def _xml(body: str) -> Response:
    return Response(body, status=200, mimetype="text/xml", content_type=XML)


@bp.before_request
def _bounded_body() -> None:
    """Read the body here, at most 64 KiB and within BODY_SECONDS, before anything parses it.

    A chunked body has no Content-Length for the 64 KiB limit to check: a longer one is refused
    with 413 instead of parsed truncated. A body that trickles in (Content-Length 60000, seven
    bytes sent) would hold a sync worker until gunicorn killed it, 30 s later, while texts
    waited: under gunicorn it is cut off with 408 once BODY_SECONDS have passed.
    """
    env = request.environ
    chunked = not env.get("CONTENT_LENGTH") and env.get("wsgi.input_terminated")
    length = MAX_BODY + 1 if chunked else int(env.get("CONTENT_LENGTH") or 0)
    if not chunked and length > MAX_BODY:
        abort(413)
    sock = env.get("gunicorn.socket")
    if not length or (sock is None and not chunked):
        return
    body = _read_within(env["wsgi.input"], length, sock)
    if len(body) > MAX_BODY:
        abort(413)
    env["wsgi.input"], env["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    env.pop("wsgi.input_terminated", None)  # now an ordinary body of known length
    env.pop("HTTP_TRANSFER_ENCODING", None)


def _read_within(stream: Any, length: int, sock: socket.socket | None) -> bytes:
    """Up to `length` bytes, all within BODY_SECONDS (408 past it) when the socket is known."""
    deadline, parts, got = time.monotonic() + BODY_SECONDS, [], 0
    before = sock.gettimeout() if sock is not None else None
    try:
        while got < length:
            if sock is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    abort(408)
                sock.settimeout(remaining)
            try:
                part = stream.read(min(65536, length - got))
            except (TimeoutError, OSError):
                abort(408)
            if not part:
                break
            parts.append(part)
            got += len(part)
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(before)
    return b"".join(parts)


@bp.post("/sms")
def sms() -> Response:
    line, req = helpline(), request._get_current_object()  # one lookup of each, not one per use
    reason = _refusal(line, req)
    if reason is not None:
        return _refused(line, req, reason)
    form, now = req.form, line.clock.now()
    sender = form.get("From", "")
    flows = line.flows.for_line(form.get("To", ""))
    before = engine.fresh(line.codec.open(req.cookies.get(COOKIE)), flows, now)  # None: a conversation starts
    state, replies = engine.step(before, form.get("Body", ""), flows, line.context, now)
    in_danger = any(reply.node in flows.always_answered for reply in replies)
    key = sender_key(line.limits, sender, line.day(now))
    # Danger is answered past the flood limit, but within a limit of its own: a flood of danger
    # words from one number must not cost unlimited outbound texts.
    allowed = line.limits.hit(key + "/danger", line.danger_limit) if in_danger else line.limits.hit(key)
    if not allowed:
        return _xml(EMPTY_TWIML)  # Twilio webhooks have no 429: answer nothing, pay for nothing
    private = any(reply.near for reply in replies)  # a town the texter named is not kept, even in a cache
    response = _xml(twiml(line.renderer.messages(replies, now, line=flows), cache=not private))
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    line.tally.count(_event(state, replies, line.day(now), channel, before,
                            stats.counted_line(form.get("To", ""), line.flows.lines)))
    secure = "; Secure" if req.is_secure else ""
    if state is None:  # nothing to keep: tell Twilio to drop the cookie now
        response.headers["Set-Cookie"] = f"{COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}"
    else:  # the sealed value is URL-safe base64: nothing in it needs quoting
        response.headers["Set-Cookie"] = (f"{COOKIE}={line.codec.seal(state)}; Max-Age={engine.EXPIRY_SECONDS}; "
                                          f"Path=/; HttpOnly; SameSite=Lax{secure}")
    response.call_on_close(lambda: _after_answer(line, now))
    return response


def _event(state: engine.State | None, replies: tuple[engine.Reply, ...], day: dt.date,
           channel: str, before: engine.State | None, number: str = "") -> stats.TextAnswered:
    """What is counted of a text: its day, campaign tag, topic, language, channel and line (`number`:
    the line's own number texted when listed, see stats.counted_line), and whether it started a
    conversation: no live state before it (`before`, the cookie's state as the engine takes it: None
    when missing or expired) and a state kept after it (so STOP starts none)."""
    topic = replies[0].topic if replies else "optout"
    lang = replies[0].lang if replies else (state.lang if state else "")
    return stats.TextAnswered(day, state.campaign if state else "", topic, lang, channel,
                              starts=before is None and state is not None, line=number)


def _after_answer(line: Helpline, now: float) -> None:
    """Once the answer is sent: wake the upkeep thread (counts, the directory's freshness), never wait for it."""
    line.upkeep.poke()


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Any:
    """Never a 5xx to Twilio: log where it broke (not what was said) and send the safe menu."""
    if isinstance(error, HTTPException):
        return error
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f"{Path(frame.tb_frame.f_code.co_filename).name}:{frame.tb_lineno}" if frame else "?"
    log.error("sms: %s at %s; answered with the safe menu", type(error).__name__, where)
    return _xml(helpline().safe_twiml)


@bp.get("/healthz")
def healthz() -> Any:
    line = helpline()
    line.upkeep.poke()
    problem = line.problem
    waited = line.upkeep.stuck()
    if waited is not None:
        problem = f"database not answering for {waited:.0f} s; answering from memory"
    body = {"status": "degraded" if problem else "ok", "directory": line.directory.snapshot.source}
    if problem:
        body["reason"] = problem
    return jsonify(body), 503 if problem else 200


def _check_regions(flows: Flows, context: Context, folder: str) -> None:
    """Every town a line's team names as its region is a town the postal data knows."""
    for line in flows.lines.values():
        for town in line.team.region if line.team else ():
            if context.places.by_name(town) is None:
                raise FlowError(f"{folder}/campaigns.yaml", f"line {line.number}: region town '{town}' is not a "
                                "Connecticut town the postal data knows")


def init_app(app: Flask) -> None:
    """Load flows and directory, and register the webhook; a bad flow stops startup here."""
    context = tables.context()

    def load(folder: str | Path) -> Flows:
        flows = load_flows(folder)
        _check_regions(flows, context, str(folder))
        return flows

    flows = load(app.config["FLOWS_DIR"])
    cache = directory.DirectoryCache.open(app.config["DATABASE_URL"], app.config["DATA_DIR"],
                                          app.config["DIRECTORY_REFRESH_SECONDS"], app.config["CLOCK"].today())
    limits = Limits(app.config["RATE_LIMIT"], app.config["RATELIMIT_STORAGE_URI"],
                    app.config.get("RATELIMIT_KEY_PREFIX") or "helpline", now=app.config["CLOCK"].now)
    app.extensions["helpline"] = Helpline(
        flows=flows, context=context, codec=StateCodec(app.config["SECRET_KEY"]),
        token=app.config["TWILIO_AUTH_TOKEN"] or "",
        local=app.config["LOCAL_MODE"], directory=cache, limits=limits,
        tally=stats.Tally(lambda: cache.engine, app.config["STATS_FLUSH_SECONDS"]),
        clock=app.config["CLOCK"], public_url=app.config["PUBLIC_URL"],
        danger_limit=parse_many(app.config["DANGER_RATE_LIMIT"]),
        watch=FlowsWatch(app.config["FLOWS_DIR"], load, app.config["DIRECTORY_REFRESH_SECONDS"]),
    )
    app.session_interface = NoSessions()
    line = app.extensions["helpline"]
    atexit.register(line.upkeep.finish, line.tally.flush, EXIT_FLUSH_SECONDS)
    app.register_blueprint(bp)
