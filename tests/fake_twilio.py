"""A small fake of Twilio's Messages API on 127.0.0.1, for purge tests: list, page, delete.

Only what `client.messages.list(...)` and `client.messages(sid).delete()` use:
GET  /2010-04-01/Accounts/{AccountSid}/Messages.json   To, From, DateSent< (whole GMT days), PageSize, Page
DELETE /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json   204; 400 + code 20009 while not final; 404
Error bodies quote the SID and numbers, as Twilio's may, so a test catches any code that prints them.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

FOREVER = -1
MAX_REQUESTS = 1000  # a runaway loop fails fast instead of hanging the test run
_COLLECTION = re.compile(r"/2010-04-01/Accounts/(AC\w+)/Messages\.json")
_INSTANCE = re.compile(r"/2010-04-01/Accounts/(AC\w+)/Messages/(\w+)\.json")


@dataclass
class FakeMessage:
    """A message record as Twilio keeps it."""

    sid: str
    to: str
    from_: str
    body: str
    date_sent: dt.datetime
    not_final: int = 0  # DELETE answers 20009 this many times first (FOREVER: always)
    vanishes: bool = False  # deleted by someone else between the listing and our DELETE
    fails_with: int | None = None  # DELETE answers 400 with this Twilio error code

    def as_json(self, account_sid: str) -> dict:
        """The record as Twilio's API returns it."""
        stamp = format_datetime(self.date_sent.astimezone(dt.UTC), usegmt=True)
        return {
            "sid": self.sid, "account_sid": account_sid, "to": self.to, "from": self.from_, "body": self.body,
            "status": "sent" if self.not_final else "delivered", "direction": "inbound",
            "date_created": stamp, "date_sent": stamp, "date_updated": stamp, "num_segments": "1",
            "num_media": "0", "api_version": "2010-04-01", "price": None, "price_unit": "USD",
            "error_code": None, "error_message": None, "messaging_service_sid": None,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{self.sid}.json", "subresource_uris": {},
        }


class FakeTwilio:
    """Twilio's Messages API for one account, served from a thread on a random local port."""

    def __init__(self, account_sid: str, auth_token: str, max_requests: int = MAX_REQUESTS):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.max_requests = max_requests
        self.messages: dict[str, FakeMessage] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path and query) in order
        self.delete_attempts: dict[str, int] = {}
        self.number_filters = True  # False: To and From are ignored, as by a broken API or a typo
        self._sids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give the client instead of https://api.twilio.com."""
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, to: str, from_: str, body: str, date_sent: dt.datetime, not_final: int = 0,
            vanishes: bool = False, fails_with: int | None = None) -> FakeMessage:
        """Keep a message record; its SID looks like Twilio's (SM + 32 hex digits)."""
        sid = f"SM{next(self._sids):032x}"
        message = FakeMessage(sid, to, from_, body, date_sent, not_final, vanishes, fails_with)
        self.messages[message.sid] = message
        return message

    def start(self) -> FakeTwilio:
        """Serve on 127.0.0.1, on a port the OS picks."""
        self._server = HTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.timeout = 5
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def answer(self, method: str, target: str, authorization: str | None) -> tuple[int, dict | None]:
        """The status and JSON body for one request."""
        with self._lock:
            self.requests.append((method, target))
            if len(self.requests) > self.max_requests:
                return 503, _error(503, 20503, "the fake's request budget is spent")
            if authorization != _basic(self.account_sid, self.auth_token):
                return 401, _error(401, 20003, "Authenticate")
            parts = urlsplit(target)
            collection, instance = _COLLECTION.fullmatch(parts.path), _INSTANCE.fullmatch(parts.path)
            if method == "GET" and collection and collection[1] == self.account_sid:
                return 200, self._page(parts.path, parse_qs(parts.query))
            if method == "DELETE" and instance and instance[1] == self.account_sid:
                return self._delete(instance[2])
            return 404, _error(404, 20404, f"The requested resource {parts.path} was not found")

    def _page(self, path: str, query: dict[str, list[str]]) -> dict:
        """One page of the filtered collection, newest first, with Twilio's paging fields."""
        params = {key: values[0] for key, values in query.items()}
        size, number = int(params.get("PageSize", "50")), int(params.get("Page", "0"))
        found = sorted(self._matching(params), key=lambda m: (m.date_sent, m.sid), reverse=True)
        chunk = found[number * size:(number + 1) * size]
        base = {key: value for key, value in params.items() if key not in ("Page", "PageToken")}
        more = (number + 1) * size < len(found)
        return {
            "messages": [message.as_json(self.account_sid) for message in chunk],
            "page": number, "page_size": size, "start": number * size, "end": number * size + len(chunk) - 1,
            "uri": f"{path}?{urlencode({**base, 'Page': number})}",
            "first_page_uri": f"{path}?{urlencode({**base, 'Page': 0})}",
            "previous_page_uri": f"{path}?{urlencode({**base, 'Page': number - 1})}" if number else None,
            "next_page_uri": f"{path}?{urlencode({**base, 'Page': number + 1, 'PageToken': 'PAfake'})}"
            if more else None,
        }

    def _matching(self, params: dict[str, str]) -> Iterator[FakeMessage]:
        """Messages passing the To, From and DateSent< filters (DateSent< compares whole GMT days, inclusive)."""
        last_day = dt.date.fromisoformat(params["DateSent<"][:10]) if "DateSent<" in params else None
        for message in self.messages.values():
            if self.number_filters and "To" in params and message.to != params["To"]:
                continue
            if self.number_filters and "From" in params and message.from_ != params["From"]:
                continue
            if last_day and message.date_sent.astimezone(dt.UTC).date() > last_day:
                continue
            yield message

    def _delete(self, sid: str) -> tuple[int, dict | None]:
        """204, or 20009 while the message is not final, or 404."""
        message = self.messages.get(sid)
        self.delete_attempts[sid] = self.delete_attempts.get(sid, 0) + 1
        if message is None or message.vanishes:
            self.messages.pop(sid, None)
            return 404, _error(404, 20404, f"The requested resource /Messages/{sid}.json was not found")
        if message.fails_with is not None:
            return 400, _error(400, message.fails_with, f"Message {sid} from {message.from_} cannot be deleted")
        if message.not_final:
            if message.not_final > 0:
                message.not_final -= 1
            return 400, _error(400, 20009, f"Cannot delete message {sid} to {message.to} from {message.from_}: "
                                           "delivery has not been completed")
        del self.messages[sid]
        return 204, None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _error(status: int, code: int, message: str) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def _handler_for(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one fake."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(*fake.answer("GET", self.path, self.headers.get("Authorization")))

        def do_DELETE(self) -> None:
            self._reply(*fake.answer("DELETE", self.path, self.headers.get("Authorization")))

        def _reply(self, status: int, body: dict | None) -> None:
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass  # the request line carries numbers and SIDs

    return Handler
