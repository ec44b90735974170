"""`python -m bench.profile [N]`: cProfile N webhook requests (default 3000) through Flask's test client.

The same conversations as the load turns (distinct senders, signed, cookies carried), in
process, so the profile shows where a worker spends its time per text. Not part of the table.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import secrets
import sys
import tempfile
from urllib.parse import parse_qsl

from bench import load

URL = "http://localhost/sms"


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 3000
    from bot.app import create_app

    token, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        app = create_app({"TWILIO_AUTH_TOKEN": token, "SECRET_KEY": secret, "LOCAL_MODE": False,
                          "DATABASE_URL": f"sqlite:///{tmp}/helpline.db"})
        conversations = load.build_conversations(URL, token, max(1, count // 3), seed=5)
        requests = []
        for conversation in conversations:
            for head, body in conversation.requests:
                signature = next(line.split(b": ", 1)[1] for line in head.split(b"\r\n")
                                 if line.startswith(b"X-Twilio-Signature"))
                requests.append((conversation.sender, dict(parse_qsl(body.decode())), signature.decode()))
        requests = requests[:count]
        client = app.test_client(use_cookies=False)  # Twilio keeps a jar per sender: done below

        def send_all() -> None:
            cookies: dict[str, str] = {}
            for sender, form, signature in requests:
                headers = {"X-Twilio-Signature": signature}
                if sender in cookies:
                    headers["Cookie"] = f"hl={cookies[sender]}"
                response = client.post("/sms", data=form, headers=headers)
                response.close()
                cookie = response.headers.get("Set-Cookie", "")
                if cookie.startswith("hl="):
                    cookies[sender] = cookie.split(";", 1)[0][3:]

        send_all()  # warm: imports, caches
        profiler = cProfile.Profile()
        profiler.enable()
        send_all()
        profiler.disable()
        line = app.extensions.get("helpline")
        if getattr(line, "tally", None) is not None:
            line.tally.flush()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    print(f"{len(requests)} requests, {total / len(requests) * 1e6:.0f} us per request (own time summed, "
          "profiler overhead included)\n")
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(30)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
