"""The help line's app factory."""

from __future__ import annotations

import gc
import logging
import os
import secrets
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import ROOT
from bot.clock import Clock
from bot.directory.database import default_database_url
from bot.errors import ConfigError

log = logging.getLogger("bot")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _number(name: str, default: str, kind: type[int] | type[float]) -> int | float:
    """A number from the environment; ConfigError naming the variable when it is not one."""
    value = os.environ.get(name) or default
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a {'whole ' if kind is int else ''}number") from None


def _from_env() -> dict[str, Any]:
    """The settings from the environment.

    Not Flask's `config.from_prefixed_env`: the documented names have no one prefix (TWILIO_AUTH_TOKEN,
    SECRET_KEY, DATABASE_URL and RATELIMIT_STORAGE_URI are contracts other tools rely on), several
    config keys differ from their variable (HELPLINE_LOCAL -> LOCAL_MODE), and a wrong number must stop
    the line with the variable's name, where from_prefixed_env would keep the text as a string.
    """
    env = os.environ
    return {
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "SECRET_KEY": env.get("SECRET_KEY", ""),
        "DATABASE_URL": env.get("DATABASE_URL", ""),
        "LOCAL_MODE": _truthy(env.get("HELPLINE_LOCAL")),
        "TRUST_PROXY": _number("HELPLINE_TRUST_PROXY", "0", int),
        "PUBLIC_URL": env.get("HELPLINE_PUBLIC_URL", ""),
        "FLOWS_DIR": env.get("HELPLINE_FLOWS_DIR", str(ROOT / "flows")),
        "DATA_DIR": env.get("HELPLINE_DATA_DIR", str(ROOT / "data")),
        "DIRECTORY_REFRESH_SECONDS": _number("HELPLINE_DIRECTORY_REFRESH_SECONDS", "60", float),
        "ADMIN_PASSWORD": env.get("HELPLINE_ADMIN_PASSWORD", ""),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_KEY_PREFIX": env.get("HELPLINE_RATE_LIMIT_PREFIX", "helpline"),
        "RATE_LIMIT": env.get("HELPLINE_RATE_LIMIT", "10 per minute"),
        "DANGER_RATE_LIMIT": env.get("HELPLINE_DANGER_RATE_LIMIT", "30 per hour;60 per day"),
        "STATS_FLUSH_SECONDS": _number("HELPLINE_STATS_FLUSH_SECONDS", "10", float),
    }


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the help line: config from the environment (or test_config), flows, directory, webhook."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.config.from_mapping(_from_env(), MAX_CONTENT_LENGTH=64 * 1024, MAX_FORM_MEMORY_SIZE=64 * 1024)
    if test_config is not None:
        app.config.update(test_config)
    if app.config.get("CLOCK") is None:  # tests hand in a FakeClock
        app.config["CLOCK"] = Clock.from_env()
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = default_database_url()

    local = app.config["LOCAL_MODE"]
    missing = [name for name in ("TWILIO_AUTH_TOKEN", "SECRET_KEY") if not app.config[name]]
    if missing and not local:
        raise ConfigError(
            f"{' and '.join(missing)} not set: refusing to serve Twilio. Set them, or run "
            "HELPLINE_LOCAL=1 (helpline serve --local) to try the line on this machine only."
        )
    if local:
        if not app.config["SECRET_KEY"]:
            app.config["SECRET_KEY"] = secrets.token_urlsafe(32)
        log.warning(
            "LOCAL MODE: requests from this machine (loopback) are answered without a Twilio "
            "signature. Never expose this server to the internet in local mode."
        )
    if app.config["TRUST_PROXY"]:
        hops = app.config["TRUST_PROXY"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    from bot import privacy
    from bot.web import admin, webhook

    privacy.install_redaction()
    webhook.init_app(app)
    admin.init_app(app)
    # Flows, keyword tables and the directory live as long as the worker: keep the garbage
    # collector from walking them again and again while it answers texts.
    gc.collect()
    gc.freeze()
    return app
