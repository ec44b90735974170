"""The deployment files: compose.yaml, Dockerfile, deploy/ (systemd unit, Caddyfile, settings) and
Procfile say what the README says, and the unit's command, run for real, serves a signed text.

Docker cannot run here, so the image and compose file are checked as files; the systemd unit's
command runs on the test PostgreSQL and Redis with the settings file's variables.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from click.testing import CliRunner

from bench.server import free_port
from bot import ROOT
from bot.cli import main
from bot.cli.chat import inbound_form, messages_of
from bot.web.twilio import sign
from tests.test_docs import configuration_variables

COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
UNIT = ROOT / "deploy" / "helpline.service"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
ENV_EXAMPLE = ROOT / "deploy" / "helpline.env.example"
PROCFILE = ROOT / "Procfile"
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}  # in the settings file for compose.yaml's interpolation, not read by the line
TOKEN, SECRET = "deploy-test-token", "deploy-test-secret-" + "x" * 24


def documented() -> set[str]:
    """The variables the README's configuration table documents."""
    return set(configuration_variables((ROOT / "README.md").read_text(encoding="utf-8")))


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def env_lines(text: str) -> dict[str, str]:
    """VARIABLE=value lines of a settings file (comments and blank lines aside)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def example_variables() -> set[str]:
    """Every variable the settings example names, set or commented out."""
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE))


def service_environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["NAME=value", ...]
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {name: str(value) for name, value in env.items()}


def published(service: dict) -> list[tuple[str, str, str]]:
    """(host address, host port, container port) for each port a service publishes."""
    found = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            found.append((str(port.get("host_ip", "")), str(port.get("published", "")), str(port["target"])))
            continue
        parts = str(port).split(":")
        if len(parts) == 3:
            found.append((parts[0], parts[1], parts[2]))
        else:  # "8000:8000" or "8000": every address of the host
            found.append(("", parts[0], parts[-1]))
    return found


# ---------------------------------------------------------------------------- compose.yaml

def test_compose_runs_the_line_with_postgresql_and_redis():
    services = {name: s for name, s in compose()["services"].items() if not s.get("profiles")}
    assert sorted(services) == ["line", "postgres", "redis"]
    assert services["line"]["build"] in (".", {"context": "."})
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_every_service_is_health_checked_and_the_line_waits_for_healthy_ones():
    services = compose()["services"]
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test != ["NONE"], f"{name} has no health check"
    assert "/healthz" in " ".join(services["line"]["healthcheck"]["test"])
    assert services["line"]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                              "redis": {"condition": "service_healthy"}}


def test_only_the_line_is_published_and_only_on_loopback():
    services = compose()["services"]
    assert published(services["line"]) == [("127.0.0.1", "8000", "8000")]
    assert published(services["postgres"]) == [] and published(services["redis"]) == []


def test_the_lines_variables_are_the_documented_ones_and_point_at_the_compose_services():
    line = compose()["services"]["line"]
    env = service_environment(line)
    assert sorted(set(env) - documented()) == [], "compose sets variables the README's Configuration table lacks"
    database = r"postgresql://helpline:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432/helpline"
    assert re.fullmatch(database, env["DATABASE_URL"]), env["DATABASE_URL"]
    assert env["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    assert line["env_file"] in (".env", [".env"]), "the secrets come from the settings file, not compose.yaml"
    assert not {"TWILIO_AUTH_TOKEN", "SECRET_KEY", "HELPLINE_ADMIN_PASSWORD"} & set(env)


def test_every_variable_compose_needs_is_in_the_settings_example():
    """The .env copied from the example is all compose needs: each ${VARIABLE} in compose.yaml is in it."""
    needed = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    assert needed and sorted(needed - example_variables()) == []


def test_postgresql_keeps_its_data_on_a_named_volume():
    document = compose()
    mounts = [str(v).split(":") for v in document["services"]["postgres"]["volumes"]]
    named = [source for source, target, *_ in mounts if target == "/var/lib/postgresql/data"]
    assert len(named) == 1 and named[0] in (document.get("volumes") or {}), mounts


# ---------------------------------------------------------------------------- the settings example

def test_the_settings_example_names_only_documented_variables_and_holds_no_secret():
    assert sorted(example_variables() - documented() - COMPOSE_ONLY) == []
    values = env_lines(ENV_EXAMPLE.read_text(encoding="utf-8"))
    for name in ("TWILIO_AUTH_TOKEN", "SECRET_KEY", "POSTGRES_PASSWORD"):
        assert values[name] == "", f"{name} must be empty in the example"
    assert values["HELPLINE_TRUST_PROXY"] == "1", "Caddy stands in front: the signature needs the https:// URL"


# ---------------------------------------------------------------------------- Dockerfile

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def docker_env() -> dict[str, str]:
    found = {}
    for instruction, args in dockerfile():
        if instruction == "ENV":
            found.update(pair.split("=", 1) for pair in shlex.split(args))
    return found


def test_the_image_is_slim_and_runs_the_line_as_an_unprivileged_user():
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [args for instruction, args in steps if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("EXPOSE", "8000") in steps
    health = " ".join(args for instruction, args in steps if instruction == "HEALTHCHECK")
    assert "/healthz" in health and "urllib" in health and "curl" not in health
    cmd = [args for instruction, args in steps if instruction == "CMD"][-1]
    assert json.loads(cmd) == ["helpline", "serve"], "0.0.0.0:$PORT: what serve binds when PORT is set"
    assert docker_env()["PORT"] == "8000"


def test_the_image_installs_the_package_without_extras_and_downloads_nothing_else():
    runs = [args for instruction, args in dockerfile() if instruction == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert len(installs) == 1 and "[" not in installs[0] and " -e " not in installs[0]
    for run in runs:
        assert not re.search(r"\b(curl|wget|git clone|huggingface|download)\b", run), run


def test_the_image_says_where_the_flows_data_and_instance_folder_are():
    """`pip install .` puts bot/ in site-packages, away from flows/ and data/: the image must name them."""
    env = docker_env()
    copies = {args.split()[-1] for instruction, args in dockerfile() if instruction == "COPY"}
    assert env["HELPLINE_FLOWS_DIR"] in copies and env["HELPLINE_DATA_DIR"] in copies
    assert env["HELPLINE_INSTANCE_DIR"].startswith("/app/") and env["DATABASE_URL"].startswith("sqlite:////app/")
    names = {name for name in env if not name.startswith(("PYTHON", "PIP_"))} - {"PORT"}
    assert sorted(names - documented()) == []


def test_the_build_context_keeps_out_what_the_image_does_not_need():
    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", "instance", ".git", "tests", "eval", ".env"} <= ignored
    sources = [args.split()[:-1] for instruction, args in dockerfile() if instruction == "COPY"]
    for source in (s for group in sources for s in group if not s.startswith("--")):
        assert (ROOT / source).exists() and source not in ignored, source


# ---------------------------------------------------------------------------- systemd and Caddy

def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_the_unit_runs_helpline_serve_as_an_unprivileged_user_on_loopback():
    service = unit()["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == f"{service['WorkingDirectory']}/.venv/bin/helpline" and argv[1] == "serve"
    assert "--local" not in argv and argv[argv.index("--bind") + 1] == "127.0.0.1:8000"
    assert service["User"] not in ("root", "0") and service["Group"] not in ("root", "0")
    assert service["EnvironmentFile"] == "/etc/helpline/helpline.env"
    assert service["Restart"] == "on-failure"
    assert service["KillMode"] == "mixed", "SIGTERM to gunicorn alone: it drains its workers"


def test_the_unit_is_hardened_and_can_write_only_the_instance_folder():
    service = unit()["Service"]
    assert service["NoNewPrivileges"] == "true" and service["PrivateTmp"] == "true"
    assert service["ProtectSystem"] == "strict" and service["ProtectHome"] == "true"
    assert service["ReadWritePaths"] == f"{service['WorkingDirectory']}/instance"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def caddy_site() -> tuple[str, str]:
    """The Caddyfile's one site: its address and its block, comments left out."""
    text = "\n".join(line.split("#", 1)[0].rstrip() for line in CADDYFILE.read_text(encoding="utf-8").splitlines())
    match = re.fullmatch(r"\s*(\S+) \{\n(.*)\n\}\s*", text, re.DOTALL)
    assert match, "one site block"
    return match.group(1), match.group(2)


def test_caddy_serves_https_for_the_line_and_proxies_to_the_port_it_listens_on():
    address, block = caddy_site()
    assert address == "line.example.org", "a name, so Caddy gets a certificate for it"
    upstream = re.search(r"^\s*reverse_proxy (\S+)", block, re.MULTILINE).group(1)
    assert upstream == "127.0.0.1:8000"
    assert re.search(r"log \{\s*output discard\s*\}", block), "no access log"
    assert re.search(r"request_body \{\s*max_size 64KB\s*\}", block)


def caddy_headers() -> dict[str, str]:
    """The headers Caddy sends the line for a text to https://line.example.org/sms: its own
    X-Forwarded-For, -Proto and -Host (it replaces what a client sent), then the Caddyfile's header_up."""
    headers = {"Host": "line.example.org", "X-Forwarded-For": "203.0.113.9",
               "X-Forwarded-Proto": "https", "X-Forwarded-Host": "line.example.org"}
    _, block = caddy_site()
    headers.update(re.findall(r"^\s*header_up (X-Forwarded-[\w-]+) (\S+)$", block, re.MULTILINE))
    return headers


@pytest.mark.parametrize("client_port", [None, "8443"])
def test_behind_caddy_a_text_signed_for_the_https_url_is_answered(config, client_port):
    """HELPLINE_TRUST_PROXY=1 behind Caddy: the signature is checked against https://line.example.org/sms,
    even when the client sent an X-Forwarded-Port of its own (Caddy's header_up replaces it)."""
    from bot.app import create_app

    app = create_app({**config, "TRUST_PROXY": 1})
    form = inbound_form("+18605550901", "hi")
    sent = {"X-Forwarded-Port": client_port} if client_port else {}
    signature = sign(config["TWILIO_AUTH_TOKEN"], "https://line.example.org/sms", form)
    headers = {**sent, **caddy_headers(), "X-Twilio-Signature": signature}
    response = app.test_client().post("/sms", data=form, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "911" in "\n".join(messages_of(response.get_data(as_text=True)))
    plain = {**headers, "X-Forwarded-Proto": "http"}  # what a proxy that did not say https would give
    assert app.test_client().post("/sms", data=form, headers=plain).status_code == 403



# ---------------------------------------------------------------------------- Procfile and PORT

@pytest.fixture
def bound(monkeypatch):
    """Run `helpline ARGS` up to the point gunicorn would start, and return the address it would bind."""
    from gunicorn.app.base import BaseApplication

    binds: list[list[str]] = []
    monkeypatch.setattr(BaseApplication, "run", lambda self: binds.append(self.cfg.bind))
    monkeypatch.setattr("bot.cli.create_app", lambda: object())  # the address alone: no app needed
    for name in ("PORT", "HELPLINE_LOCAL", "SECRET_KEY"):  # unset here, and as they were after (--local sets two)
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)

    def run(args: list[str], port: str | None = None) -> list[str] | str:
        env = {"PORT": port} if port is not None else {}
        result = CliRunner().invoke(main, args, env=env)
        if result.exit_code != 0:
            return result.output
        return binds.pop()

    return run


def test_the_procfile_binds_every_address_on_the_port_the_platform_gives(bound):
    lines = [line for line in PROCFILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("web: ")
    command = lines[0].removeprefix("web: ")
    argv = shlex.split(command.replace("$PORT", "5123").replace("${PORT}", "5123"))
    assert argv[0] == "helpline"
    assert bound(argv[1:], port="5123") == ["0.0.0.0:5123"]


def test_serve_binds_0_0_0_0_on_port_only_when_port_is_set_and_no_bind_is_given(bound):
    assert bound(["serve"]) == ["127.0.0.1:8000"]
    assert bound(["serve"], port="5124") == ["0.0.0.0:5124"]
    assert bound(["serve", "--bind", "127.0.0.1:9000"], port="5124") == ["127.0.0.1:9000"]
    assert bound(["serve", "--local"], port="5124") == ["127.0.0.1:8000"], "--local never leaves this machine"


def test_serve_refuses_a_port_that_is_not_one(bound):
    for port in ("http", "0", "70000", "80 80"):
        assert f"PORT={port!r} is not a port number" in bound(["serve"], port=port)


# ---------------------------------------------------------------------------- the unit's command, for real

def helpline_executable() -> str:
    beside = Path(sys.executable).parent / "helpline"
    return str(beside) if beside.exists() else shutil.which("helpline") or pytest.skip("no helpline command")


def wait_healthy(url: str, server: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server stopped ({server.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except urllib.error.HTTPError as error:
            last = f"{error.code} {error.read()[:200]!r}"
        except OSError as error:
            last = type(error).__name__
        time.sleep(0.2)
    pytest.fail(f"/healthz did not answer 200 within {seconds:.0f} s ({last}):\n"
                f"{log.read_text(errors='replace')[-3000:]}")


@pytest.mark.postgres
@pytest.mark.redis
def test_the_units_command_with_the_example_settings_serves_a_signed_text(postgres_url, tmp_path):
    """deploy/helpline.service's ExecStart, its Environment= and the variables of the settings example
    (the secrets and the two service URLs filled in for this machine): /healthz says 200, a signed
    text gets the welcome as TwiML, the schema is in PostgreSQL, and SIGTERM stops it."""
    from sqlalchemy import create_engine, inspect

    from bot.directory.database import database_url
    from tests.test_limits import REDIS_URL, redis_client

    redis = redis_client()  # skips without Redis
    service = unit()["Service"]
    argv = shlex.split(service["ExecStart"])
    argv[0] = helpline_executable()
    port = free_port()
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"

    prefix = f"helpline-deploy-test-{secrets.token_hex(4)}"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(tmp_path)}  # as systemd
    env.update(pair.split("=", 1) for pair in shlex.split(service.get("Environment", "")))
    env["XDG_RUNTIME_DIR"] = str(tmp_path)  # the unit's RuntimeDirectory stands in /run
    env.update(env_lines(ENV_EXAMPLE.read_text(encoding="utf-8")))
    env.update(TWILIO_AUTH_TOKEN=TOKEN, SECRET_KEY=SECRET, DATABASE_URL=postgres_url,
               RATELIMIT_STORAGE_URI=REDIS_URL, HELPLINE_RATE_LIMIT_PREFIX=prefix)

    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,  # noqa: S603
                                  stdin=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", server, log)
        url = f"http://127.0.0.1:{port}/sms"
        form = inbound_form("+18605550902", "hi")
        request = urllib.request.Request(url, urlencode(form).encode(), {  # noqa: S310 - loopback
            "X-Twilio-Signature": sign(TOKEN, url, form), "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            content_type, body = response.headers.get("Content-Type", ""), response.read().decode()
        welcome = yaml.safe_load((ROOT / "flows" / "welcome.yaml").read_text(encoding="utf-8"))
        assert content_type.startswith(("text/xml", "application/xml")), content_type
        assert welcome["nodes"]["welcome"]["say"]["en"] in "\n".join(messages_of(body)), body

        assert any(redis.scan_iter(f"*{prefix}*")), "the flood counters are in the test Redis"
        engine = create_engine(database_url(postgres_url))
        try:
            assert {"alembic_version", "daily_count"} <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            code = None
        for key in redis.scan_iter(f"*{prefix}*"):
            redis.delete(key)
    assert code == 0, f"SIGTERM: exit {code}\n{log.read_text(errors='replace')[-2000:]}"
