"""The `helpline` command: serve, chat, validate, load."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click

from bot import ROOT
from bot.app import create_app
from bot.cli.card import card_command
from bot.cli.directory import directory_group
from bot.cli.doctor import doctor
from bot.cli.purge import purge_twilio
from bot.directory.database import default_database_url
from bot.directory.service_file import add_command
from bot.errors import ConfigError, FlowError
from bot.tables import load_flows


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group(help="An anonymous SMS help line. Run `helpline COMMAND --help` for each command.")
def main() -> None:
    pass


@main.command(help="Run the production server (gunicorn) on the embedded defaults or the environment.")
@click.option("--local", is_flag=True, help="Try the line on this machine: no Twilio signature from loopback.")
@click.option("--bind", help="Address and port to listen on.  [default: 127.0.0.1:8000; 0.0.0.0:$PORT when "
              "PORT is set, as on a platform host]")
@click.option("--workers", default=2, show_default=True, help="Worker processes.")
def serve(local: bool, bind: str | None, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    if bind is None:  # a platform host (Heroku, Render, ...) names the port its proxy sends to in PORT
        port = os.environ.get("PORT", "").strip()
        if port and not local and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            _fail(f"PORT={port!r} is not a port number")
        bind = f"0.0.0.0:{port}" if port and not local else "127.0.0.1:8000"
    if local:
        host = bind.rsplit(":", 1)[0].strip("[]")
        if host not in ("127.0.0.1", "localhost", "::1"):
            _fail("--local only listens on this machine (127.0.0.1, localhost or ::1)")
        os.environ["HELPLINE_LOCAL"] = "1"
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))  # the same in every worker
    try:
        app = create_app()
    except (ConfigError, FlowError) as err:
        _fail(str(err))

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", [bind])
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "bot.web.serving.DrainingSyncWorker")  # answers its queue on SIGTERM
            self.cfg.set("post_fork", lambda _server, _worker: _dispose(app))

        def load(self):
            return app

    if local:
        click.echo(f"Local mode: text the line with `helpline chat`, or POST to http://{bind}/sms")
    Server().run()


def _dispose(app) -> None:
    """Each worker opens its own database connections instead of sharing the master's."""
    engine = app.extensions["helpline"].directory.engine
    if engine is not None:
        engine.dispose(close=False)


def _switch_word(lang: str) -> str:
    """The word that switches the line's conversation to a language, from the flows it runs."""
    try:
        flows = load_flows(os.environ.get("HELPLINE_FLOWS_DIR") or ROOT / "flows")
    except FlowError as err:
        _fail(str(err))
    word = flows.lexicon.switch_word(lang) if lang in flows.languages else None
    if word is None:
        _fail(f"the flows have no language '{lang}' (they have {', '.join(flows.languages)})")
    return word


@main.command(help="Talk to the line in this terminal, through the real webhook with signed requests.")
@click.option("--lang", help="Start by switching to this language (a code the flows list: en, es).")
@click.option("--url", help="Talk to a running server instead (e.g. http://127.0.0.1:8000/sms); "
              "requests are signed with TWILIO_AUTH_TOKEN when it is set.")
@click.option("--script", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Replay the texts of a file: a transcript (.yaml) or one text per line.")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the conversation as a golden transcript (YAML) for tests/transcripts/.")
@click.option("--line", "number", default=None, help="Text this one of the line's numbers (campaigns.yaml "
              "`lines:`; default +18605550100).")
def chat(lang: str | None, url: str | None, script: Path | None, record: Path | None, number: str | None) -> None:
    from bot.cli.chat import LINE_NUMBER, Conversation, RemoteConversation, script_texts, transcript_yaml

    try:
        if url:
            conversation = RemoteConversation(url, os.environ.get("TWILIO_AUTH_TOKEN", ""), line=number or LINE_NUMBER)
        else:
            conversation = Conversation.start(line=number or LINE_NUMBER)
    except (ConfigError, FlowError) as err:
        _fail(str(err))
    turns: list[tuple[str, list[str]]] = []

    def say(text: str, echo: bool) -> None:
        if echo:
            click.echo(f"you> {text}")
        try:
            messages = conversation.send(text)
        except (RuntimeError, OSError) as err:
            _fail(str(err))
        _show(messages)
        turns.append((text, messages))

    if not script:
        click.echo("Type a text and press Enter (Ctrl-D to stop). Nothing is kept.\n")
    if lang:
        say(_switch_word(lang), echo=True)
    for text in script_texts(script) if script else _typed():
        say(text, echo=bool(script))
    if record:
        record.write_text(transcript_yaml(record.stem, turns), encoding="utf-8")
        click.echo(f"recorded {len(turns)} turns in {record}")


def _typed():
    """Texts typed at the prompt, until end of input."""
    while True:
        try:
            yield input("you> " if sys.stdin.isatty() else "")
        except EOFError:
            click.echo()
            return


def _show(messages: list[str]) -> None:
    from bot.engine.sms import count_segments

    if not messages:
        click.echo("(no reply)\n")
    for body in messages:
        encoding, segments = count_segments(body)
        click.echo(f"--- line ({segments} segment{'s' if segments != 1 else ''}, {encoding}) ---")
        click.echo(body + "\n")


@main.command(help="Draw the flows: Graphviz DOT (plus SVG when Graphviz is installed) or Mermaid.")
@click.argument("flows_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid"]), default="dot", show_default=True)
@click.option("--lang", default="en", show_default=True, help="Which language's texts to show in the boxes.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default="instance/graph/flows-graph",
              help="File name; the extension is set by the format.")
def graph(flows_dir: Path | None, fmt: str, lang: str, output: Path | None) -> None:
    from bot.cli.graph import DEFAULT_OUTPUT, write_graph

    output = output or DEFAULT_OUTPUT
    try:
        flows = load_flows(flows_dir or ROOT / "flows")
    except FlowError as err:
        _fail(str(err))
    if lang not in flows.languages:
        _fail(f"the flows have no language '{lang}' (they have {', '.join(flows.languages)})")
    for path in write_graph(flows, output, fmt, lang):
        click.echo(f"wrote {path}")


@main.command(help="Check the flows (and the directory they name); exit 1 naming file and node on error.")
@click.argument("flows_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=ROOT / "data", show_default=True, help="The directory data the flows name.")
def validate(flows_dir: Path | None, data_dir: Path) -> None:
    from bot.cli.validate import check

    try:
        flows = load_flows(flows_dir or ROOT / "flows")
        report = check(flows, data_dir)
    except FlowError as err:
        _fail(str(err))
    for line in report.lines:
        click.echo(line)
    if report.errors:
        for error in report.errors:
            click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo("ok")


@main.command(help="Reload data/ into the database now (workers pick it up within a minute).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=ROOT / "data", show_default=True)
def load(data_dir: Path) -> None:
    from bot import directory

    try:
        engine = directory.make_engine(os.environ.get("DATABASE_URL") or default_database_url())
        directory.load_database(engine, data_dir, force=True)
    except FlowError as err:
        _fail(str(err))
    click.echo(f"loaded {data_dir / directory.DIRECTORY_FILE}")

main.add_command(purge_twilio)
main.add_command(doctor)
main.add_command(card_command)
directory_group.add_command(add_command)
main.add_command(directory_group)


@main.command(help="Show the anonymous counts: texts and conversations by day, card word, topic, language, "
                   "channel and line (the number texted, by its team's name), labelled from the flows.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660),
              help="How many days back, today included (1 to 3660).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: the same counts, the same small ones hidden.")
@click.option("--csv", "as_csv", is_flag=True,
              help="Spreadsheet-ready: a row per value (breakdown, label, texts, conversations) after the totals; "
                   "the same small counts hidden.")
def stats(days: int, as_json: bool, as_csv: bool) -> None:
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from bot import stats as counts
    from bot.clock import Clock
    from bot.directory.database import make_engine, migrate

    if as_json and as_csv:
        _fail("--json or --csv, not both")
    url = os.environ.get("DATABASE_URL") or default_database_url()
    try:
        engine = make_engine(url)
        migrate(engine)
        rows = counts.rows(engine, days, Clock.from_env().today())
    except SQLAlchemyError as err:
        _fail(f"the database in DATABASE_URL cannot be read ({type(err).__name__}); is it running?")
    try:  # the labels: the words of the flows the line runs
        flows = load_flows(os.environ.get("HELPLINE_FLOWS_DIR") or ROOT / "flows")
    except FlowError as err:
        flows = None
        click.echo(f"warning: the flows cannot be read, so values are shown as kept ({err})", err=True)
    summary, labels = counts.summarize(rows, lambda row: str(row["day"])), counts.Labels.of(flows)
    if as_json:
        click.echo(json.dumps(counts.as_json(summary, labels, days), indent=2, ensure_ascii=False))
    elif as_csv:
        click.echo(counts.as_csv(summary, labels), nl=False)
    else:
        click.echo(counts.as_table(summary, labels, days))
