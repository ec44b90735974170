"""The baseline: a bare Flask app that answers "ok" to POST /sms, served like the real one."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.post("/sms")
def sms() -> str:
    return "ok"
