"""`helpline directory import | export | check`: the resource directory as HSDS."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click

from bot import ROOT, directory
from bot.clock import Clock
from bot.directory.database import default_database_url
from bot.directory.hsds.read import merged_with, read_package
from bot.directory.hsds.spec import TABLES, plural
from bot.directory.hsds.write import schema_problems, write_package
from bot.errors import FlowError, ImportRefused


def _database_url() -> str:


    return os.environ.get("DATABASE_URL") or default_database_url()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - any unparsable URL is shown as a placeholder
        return "the database"


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def _default_data() -> Path:

    return ROOT / "data"


@click.group("directory", help="The resource directory as HSDS: import, export, check the dates.")
def directory_group() -> None:
    pass


@directory_group.command("import", help="Load an HSDS package (folder with datapackage.json, or HSDS JSON) "
                         "into the database named by DATABASE_URL, replacing the directory there "
                         "(with --merge: adding to it).")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The line's data/ (for its rejected numbers). Default: data/ here.")
@click.option("--force", is_flag=True, help="Import even if some pages would have no number to send.")
@click.option("--merge", is_flag=True, help="Add the package to the directory in the database instead of "
              "replacing it: rows with the same id are replaced, new ones added, the rest kept.")
def import_command(path: Path, data_dir: Path | None, force: bool, merge: bool) -> None:
    from sqlalchemy.exc import SQLAlchemyError


    data_dir = data_dir or _default_data()
    url = _database_url()
    try:
        package = read_package(path)
        engine = directory.make_engine(url)
        if merge:
            package = merged_with(directory.read_tables(engine, data_dir)[0], package)
        result = directory.import_package(engine, package, data_dir, force=force)
    except FlowError as err:
        _fail(str(err))
    except ImportRefused as err:
        _fail(f"{path}: {err}")
    except SQLAlchemyError as err:
        _fail(f"{_safe_url(url)} cannot be written ({type(err).__name__})")
    for warning in package.warnings:
        click.echo(f"warning: {warning}")
    for note in package.notes:
        click.echo(f"note: {note}")
    click.echo(f"imported {path} into {_safe_url(url)}: {package.counts() or 'nothing'}")
    click.echo(f"{result.sendable} services can be sent to texters (active, assured, with a source and a phone).")
    click.echo(f"{len(package.warnings)} warning{'s' if len(package.warnings) != 1 else ''}.")
    if result.empty_categories:
        click.echo(f"warning: texters will get no numbers for {len(result.empty_categories)} categories the flows "
                   f"name ({', '.join(result.empty_categories)}): no active, assured service with a source and a "
                   "phone. To serve data/ again: helpline load")


@directory_group.command("export", help="Write the directory in the database as an HSDS Tabular Data Package "
                         "(datapackage.json, CSV files, rejected.csv) into a folder.")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Loaded first if the database has no directory yet. Default: data/ here.")
@click.option("--schemas", "schema_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Also check every row against the HSDS JSON schemas in this folder.")
def export_command(path: Path, data_dir: Path | None, schema_dir: Path | None) -> None:
    from sqlalchemy.exc import SQLAlchemyError


    url = _database_url()
    try:
        engine = directory.make_engine(url)
        tables, rejected = directory.read_tables(engine, data_dir or _default_data())
        written = write_package(tables, rejected, path)
    except FlowError as err:
        _fail(str(err))
    except SQLAlchemyError as err:
        _fail(f"{_safe_url(url)} cannot be read ({type(err).__name__})")
    except OSError as err:
        _fail(f"{path} cannot be written: {err.strerror or err}")
    counts = ", ".join(plural(t.name, len(tables.get(t.name, ()))) for t in TABLES if tables.get(t.name))
    click.echo(f"wrote {len(written)} files to {path}: {counts}")
    if schema_dir is not None:
        problems = schema_problems(path, schema_dir)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        if problems:
            raise SystemExit(1)
        click.echo(f"every row passes the HSDS schemas in {schema_dir}")


@directory_group.command("check", help="List services by the date a person last confirmed them; "
                         "flag those older than 180 days.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The package to check. Default: data/ here.")
@click.option("--database", "use_database", is_flag=True, help="Check the database (DATABASE_URL) instead.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Count ages from this day.")
@click.option("--days", default=180, show_default=True, help="How old a check may be.")
def check_command(data_dir: Path | None, use_database: bool, today: dt.datetime | None, days: int) -> None:
    from sqlalchemy.exc import SQLAlchemyError


    day = today.date() if today else Clock.from_env().today()
    try:
        if use_database:
            url = _database_url()
            tables, _ = directory.read_tables(directory.make_engine(url), data_dir or _default_data())
        else:
            tables = {name: [r.values for r in records]
                      for name, records in read_package(data_dir or _default_data(), strict=True).tables.items()}
    except FlowError as err:
        _fail(str(err))
    except SQLAlchemyError as err:
        _fail(f"the database cannot be read ({type(err).__name__})")
    for line in [*directory.age_report(tables, day, days), *directory.need_report(tables)]:
        click.echo(line)
