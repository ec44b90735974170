"""The shape of the code: parts that import one way, and an engine that does no I/O.

The import graph is read from the source with `ast`, so imports hidden inside functions count
too. A package's own `__init__` is not counted as a dependency of its modules (importing
`bot.directory.cache` runs `bot/directory/__init__.py` first, but the code does not use it).
"""

from __future__ import annotations

import ast
import contextlib
import json
import subprocess
import sys
import threading
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import ROOT
from bot.engine.conversation import State, step
from bot.tables import context, load_flows

BOT = ROOT / "bot"
FLOWS = load_flows(ROOT / "flows")
CONTEXT = context()
NOW = 1_800_000_000.0


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the bot modules it imports (anywhere in its source)."""
    files = {_module_name(p): p for p in BOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names if alias.name in files}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bot":
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    edges.add(submodule if submodule in files else node.module)
        graph[name] = {edge for edge in edges if edge != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk (one per back edge)."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def test_cycles_are_found_when_there_are_some():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_of_bot_has_no_cycles():
    graph = import_graph()
    assert len(graph) > 40 and "bot.engine.conversation" in graph
    assert cycles(graph) == []


def test_imports_run_one_way_between_the_parts():
    """The engine imports nothing outside itself (and the shared errors); no part imports the
    app factory but the CLI; the directory knows nothing of the web face or the CLI."""
    graph = import_graph()
    for module, edges in graph.items():
        if module.startswith("bot.engine"):
            assert edges <= {e for e in edges if e.startswith("bot.engine")} | {"bot.errors"}, module
        if "bot.app" in edges:
            assert module.startswith("bot.cli"), module
        if module.startswith("bot.directory"):
            assert not {e for e in edges if e.startswith(("bot.web", "bot.cli", "bot.app"))}, module


def test_importing_the_engine_loads_no_web_framework_database_or_child_process():
    code = ("import json, sys; import bot.engine.conversation, bot.engine.flows, bot.engine.sms, bot.engine.words; "
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,  # noqa: S603
                                       cwd=ROOT).stdout)
    assert not [m for m in loaded if m.split(".")[0] in ("flask", "werkzeug", "sqlalchemy", "psycopg", "subprocess")]
    ours = [m for m in loaded if m.startswith("bot")]
    using_subprocess = [m for m in ours if "subprocess" in imported_names(m)]
    assert ours and using_subprocess == []


def imported_names(module: str) -> set[str]:
    """The top-level names a bot module imports."""
    path = BOT.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = BOT.parent / module.replace(".", "/") / "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


# What doing I/O looks like from the inside: Python's audit events.
_IO_EVENTS = ("open", "os.", "shutil.", "subprocess.", "socket.", "sqlite3.", "glob.", "tempfile.")
_guard = threading.local()


def _refuse_io(event: str, args: tuple) -> None:
    if getattr(_guard, "on", False) and event.startswith(_IO_EVENTS):
        _guard.on = False
        raise AssertionError(f"step did I/O: {event} {args[:1]}")


sys.addaudithook(_refuse_io)


@contextlib.contextmanager
def no_io():
    """Any file opened, process started, socket or database touched in the block fails the test."""
    _guard.on = True
    try:
        yield
    finally:
        _guard.on = False


def test_the_guard_catches_a_file_read():
    try:
        with no_io():
            (ROOT / "README.md").read_text()
    except AssertionError as err:
        assert "open" in str(err)
    else:
        raise AssertionError("reading a file went unnoticed")


NODES = sorted(FLOWS.nodes)
texts = st.text(max_size=300) | st.sampled_from(["luna", "clinic in new britain", "06106", "boston", "Narnia", "1",
                                                  "he has a gun", "me quiero morir", "STOP", "BACK", "hola"])
states = st.none() | st.builds(
    State, node=st.sampled_from(NODES), lang=st.sampled_from(["en", "es"]),
    at=st.integers(min_value=int(NOW // 60) - 40, max_value=int(NOW // 60)),
    trail=st.lists(st.sampled_from(NODES), max_size=5).map(tuple),
    offer=st.lists(st.sampled_from(NODES), max_size=2).map(tuple))


@given(states, texts, st.floats(min_value=NOW, max_value=NOW + 3600 * 24 * 400))
@settings(max_examples=300, deadline=None)
def test_step_is_a_pure_function_of_its_arguments(state, text, now):
    """Same state, text, flows, context and time: the same answer, and no file, process, socket
    or database touched on the way."""
    with no_io():
        first = step(state, text, FLOWS, CONTEXT, now)
        second = step(state, text, FLOWS, CONTEXT, now)
    assert first == second
