"""The docs against the code: every path, module, command, variable and YAML example they show
is one the line has, so README.md and docs/*.md cannot drift from it again.

The checks read the docs and the code as text, and load the flows with a doc's example in place
of a shipped file; no app, no database, no network. Each helper takes the text it checks, and a
test beside it shows the helper finding a broken one.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import click
import pytest
import yaml

from bot import ROOT
from bot.cli import main
from bot.engine import flows as flows_module
from bot.engine.lexicon import ROUTE_NAMES
from bot.engine.yamlfile import SPEC_VERSION
from bot.errors import FlowError

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
ALL_DOCS = [README, *DOCS]
FORMAT = ROOT / "docs" / "format.md"
BOT = ROOT / "bot"


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ---------------------------------------------------------------------------- reading Markdown

FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`\n]+)`")


def fenced_blocks(text: str, lang: str | None = None) -> list[str]:
    """The fenced code blocks of a Markdown text (only those marked `lang`, when given)."""
    return [body for marked, body in FENCE.findall(text) if lang is None or marked == lang]


def prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return FENCE.sub("", text)


def section(text: str, heading: str) -> str:
    """The body of the `## heading` section, up to the next heading of level 1 or 2."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^#{{1,2}} |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no '## {heading}' section"
    return match.group(1)


def table_blocks(text: str) -> list[list[str]]:
    """Each run of consecutive lines starting with '|' (outside code blocks): one Markdown table each."""
    blocks, current = [], []
    for line in [*prose(text).splitlines(), ""]:
        if line.lstrip().startswith("|"):
            current.append(line.strip())
        elif current:
            blocks.append(current)
            current = []
    return blocks


def cells(row: str) -> list[str]:
    """The cells of a table row; a '|' inside a code span does not split."""
    found, current, in_code = [], "", False
    for char in row.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            found.append(current.strip())
            current = ""
        else:
            current += char
    return [*found, current.strip()]


SEPARATOR = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+$")


def table_problems(text: str) -> list[str]:
    """Tables that do not render as one: no separator under the header, or a row of another width."""
    problems = []
    for block in table_blocks(text):
        if len(block) < 2 or not SEPARATOR.match(block[1].replace(" ", "")):
            problems.append(f"a table without a header and separator row, starting: {block[0][:60]}")
            continue
        width = len(cells(block[0]))
        problems += [f"a row with {len(cells(row))} cells in a table of {width}: {row[:60]}"
                     for row in block[2:] if len(cells(row)) != width]
    return problems


def rows(block: list[str]) -> list[list[str]]:
    """The body rows of a table, as cells."""
    return [cells(row) for row in block[2:]]


# ---------------------------------------------------------------------------- paths and modules

PATH = re.compile(r"(?<![\w./-])((?:bot|tests|docs|bench|flows)/[\w./-]*)")
OUTPUT = re.compile(r"(?:--json|--record|--output|-o)\s+$")


def named_paths(text: str) -> set[str]:
    """The repository paths under bot/, tests/, docs/, bench/ and flows/ a text names; globs,
    and files a command is told to write (`--json bench/results/run.json`), aside."""
    return {match.group(1).rstrip(".,:;-") for match in PATH.finditer(text)
            if "*" not in match.group(1) and not OUTPUT.search(text[:match.start()])}


MODULE = re.compile(r"(?<![\w./-])(bot(?:\.[A-Za-z_]\w*)+)")


def named_modules(text: str) -> set[str]:
    """The dotted names starting with `bot.` a text names: modules, or names in them."""
    return set(MODULE.findall(text))


def _module_file(parts: list[str]) -> Path | None:
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defined(body: list[ast.stmt]) -> dict[str, ast.AST]:
    """The names a module or class body defines, imports or assigns."""
    names: dict[str, ast.AST] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            names.update({t.id: node for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update({(a.asname or a.name).split(".")[0]: node for a in node.names})
    return names


def module_problem(dotted: str) -> str | None:
    """Why a dotted name does not exist in bot/ (None when it does): the longest module prefix,
    then a name defined in it, then (for a class) a name defined in the class."""
    parts = dotted.split(".")
    for size in range(len(parts), 0, -1):
        path = _module_file(parts[:size])
        if path is not None:
            break
    else:
        return f"{dotted}: no such module"
    scope: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8")).body
    for name in parts[size:]:
        found = _defined(scope).get(name)
        if found is None:
            return f"{dotted}: {'.'.join(parts[:size])} has no '{name}'"
        if not isinstance(found, ast.ClassDef):
            break  # a function's or a value's attributes are not checked
        scope = found.body
    return None


@pytest.mark.parametrize("doc", ALL_DOCS, ids=_name)
def test_every_path_a_doc_names_exists(doc):
    missing = sorted(p for p in named_paths(doc.read_text(encoding="utf-8")) if not (ROOT / p).exists())
    assert missing == [], f"{_name(doc)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", ALL_DOCS, ids=_name)
def test_every_module_a_doc_names_exists(doc):
    problems = sorted(filter(None, map(module_problem, named_modules(doc.read_text(encoding="utf-8")))))
    assert problems == [], f"{_name(doc)}: {problems}"


def test_the_path_and_module_checks_see_what_is_missing():
    assert named_paths("see `bot/matching.py`, then bot/engine/.") == {"bot/matching.py", "bot/engine/"}
    assert named_paths("python -m bench --json bench/results/run.json") == set()
    assert module_problem("bot.serving") == "bot.serving: bot has no 'serving'"
    assert module_problem("bot.web.serving.DrainingSyncWorker") is None
    assert module_problem("bot.web.serving.NoSuchWorker") == "bot.web.serving.NoSuchWorker: bot.web.serving has no " \
                                                             "'NoSuchWorker'"


def _is_part(path: Path) -> bool:
    return (path.suffix == ".py" and path.name != "__init__.py") or (path / "__init__.py").is_file() \
        or path.name == "migrations"


def layout_problems(layout: str) -> list[str]:
    """The parts of bot/ a layout text leaves out: each package and module directly under bot/
    (as `bot/name`), and each module of a package (as a word on the package's lines)."""
    problems = []
    for part in sorted(filter(_is_part, BOT.iterdir())):
        if f"bot/{part.name}" not in layout:
            problems.append(f"bot/{part.name}")
        if part.is_dir():
            lines = re.search(rf"^bot/{part.name}/.*?(?=^\S|\Z)", layout, re.MULTILINE | re.DOTALL)
            text = lines.group(0) if lines else ""
            problems += [f"bot/{part.name}/{module.name}" for module in sorted(filter(_is_part, part.iterdir()))
                         if not re.search(rf"(?<![\w.]){re.escape(module.stem)}\b", text)]
    return problems


def test_the_readme_names_every_part_of_the_code():
    """The layout section names each package and module under bot/, so a new one is described."""
    layout = fenced_blocks(section(README.read_text(encoding="utf-8"), "How the code is laid out"))[0]
    assert layout_problems(layout) == []


def test_the_layout_check_sees_a_module_left_out():
    layout = fenced_blocks(section(README.read_text(encoding="utf-8"), "How the code is laid out"))[0]
    assert layout_problems(layout.replace("charts", "graphs")) == ["bot/web/charts.py"]
    assert layout_problems(layout.replace("bot/clock.py", "clock.py")) == ["bot/clock.py"]


# ---------------------------------------------------------------------------- tables and commands

@pytest.mark.parametrize("doc", ALL_DOCS, ids=_name)
def test_every_table_renders_as_one_table(doc):
    assert table_problems(doc.read_text(encoding="utf-8")) == []


def test_a_table_split_by_a_blank_line_is_seen():
    split = "| a | b |\n|---|---|\n| 1 | 2 |\n\n| 3 | 4 |\n"
    assert table_problems(split) == ["a table without a header and separator row, starting: | 3 | 4 |"]
    assert table_problems(split.replace("\n\n", "\n")) == []


def _options(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", ()) if opt.startswith("-")}


def resolve(words: list[str], group: click.Group = main) -> tuple[click.Group, click.Command | None, str | None]:
    """What some words after `helpline` name: the group the command is in, the command, and
    what is wrong with the words (None if nothing).

    A group's next word must be one of its commands; `--option` must be one the command has;
    other words are arguments (FILE, PATH, 10m).
    """
    command: click.Command = group
    argument = False
    for word in words:
        word = word.strip("[]")
        if word.startswith("-"):
            if word.split("=")[0] not in _options(command):
                return group, command, f"'{command.name}' has no option {word}"
        elif isinstance(command, click.Group) and not argument:
            if word not in command.commands:
                return group, None, f"'{command.name}' has no command '{word}'"
            group, command = command, command.commands[word]
        else:
            argument = True  # options may follow an argument, commands may not
    return group, command, None


def command_problem(words: list[str]) -> str | None:
    """What is wrong with the words after `helpline` (None if nothing)."""
    return resolve(words)[2]


WORDS = r"((?: +[^\s`'\"|;,)]+)+)"
HELPLINE = re.compile(r"(?:^|(?<=[\s/(]))helpline" + WORDS)  # in a code span
HELPLINE_RUN = re.compile(r"(?:^[ \t$]*|bin/)helpline" + WORDS, re.MULTILINE)  # a command line in a code block


def helpline_commands(text: str) -> list[str]:
    """The `helpline ...` commands a text shows, in code spans and as command lines in code blocks."""
    found = []
    for span in CODE_SPAN.findall(prose(text)):
        found += [m.group(1) for m in HELPLINE.finditer(span)]
    for block in fenced_blocks(text):
        found += [m.group(1) for m in HELPLINE_RUN.finditer(block)]
    return found


@pytest.mark.parametrize("doc", ALL_DOCS, ids=_name)
def test_every_helpline_command_a_doc_shows_exists(doc):
    shown = helpline_commands(doc.read_text(encoding="utf-8"))
    problems = [f"helpline{words}: {problem}" for words in shown
                if (problem := command_problem(words.split())) is not None]
    assert problems == []


def test_the_command_check_sees_an_unknown_command_or_option():
    assert command_problem(["directory", "import", "PATH", "--merge"]) is None
    assert command_problem(["directory", "frobnicate"]) == "'directory' has no command 'frobnicate'"
    assert command_problem(["stats", "--weeks", "2"]) == "'stats' has no option --weeks"
    assert helpline_commands("run `helpline load`; then\n```sh\n.venv/bin/helpline serve --local\n"
                             "bot/cli/   the helpline commands\n```\n") == [" load", " serve --local"]


def command_table_problems(text: str, heading: str) -> list[str]:
    """A section's command table: one table, each command in its first column one the CLI has,
    and each `--option` its row names one of those commands has."""
    blocks = table_blocks(section(text, heading))
    if len(blocks) != 1:
        return [f"'{heading}' has {len(blocks)} tables, not one"]
    problems = []
    for row in rows(blocks[0]):
        commands, group = [], main
        for span in CODE_SPAN.findall(row[0]):
            words = span.split()
            if words[0] == "helpline":  # `helpline directory import PATH`, then `export PATH`: the same group
                group, command, problem = resolve(words[1:])
            else:
                group, command, problem = resolve(words, group)
            if problem:
                problems.append(f"{span}: {problem}")
            elif command is not None:
                commands.append(command)
        for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", " ".join(row)):
            if commands and not any(option in _options(c) for c in commands):
                problems.append(f"{row[0]}: no option {option}")
    return problems


def test_the_readme_command_table_is_one_table_of_commands_the_cli_has():
    assert command_table_problems(README.read_text(encoding="utf-8"), "Commands") == []


def test_every_command_the_cli_has_is_in_the_readme_command_table():
    table = table_blocks(section(README.read_text(encoding="utf-8"), "Commands"))[0]
    listed: set[str] = set()
    for row in rows(table):
        group = main
        for span in CODE_SPAN.findall(row[0]):
            words = span.split()
            group, command, _ = resolve(words[1:]) if words[0] == "helpline" else resolve(words, group)
            if command is not None:
                listed.add(_path(group, command))
    commands = [_path(main, c) for c in main.commands.values() if not isinstance(c, click.Group)]
    commands += [_path(g, c) for g in main.commands.values() if isinstance(g, click.Group) for c in g.commands.values()]
    assert sorted(c for c in commands if c not in listed) == []


def _path(group: click.Group, command: click.Command) -> str:
    """A command as typed after `helpline`: "stats", "directory import"."""
    return command.name if group is main else f"{group.name} {command.name}"


def test_the_directory_command_table_is_one_table_of_commands_the_cli_has():
    assert command_table_problems((ROOT / "docs" / "directory.md").read_text(encoding="utf-8"), "Commands") == []


def test_the_command_table_check_sees_a_split_table_and_a_wrong_option():
    table = ("## Commands\n\n| command | what it does |\n|---|---|\n| `helpline load` | Reloads. |\n\n"
             "| `helpline directory import PATH`, `export PATH` | `--merge`, `--schemas DIR` |\n")
    assert command_table_problems(table, "Commands") == ["'Commands' has 2 tables, not one"]
    joined = table.replace("|\n\n|", "|\n|")
    assert command_table_problems(joined, "Commands") == []
    assert command_table_problems(joined.replace("--schemas", "--scheme"), "Commands") == [
        "`helpline directory import PATH`, `export PATH`: no option --scheme"]


# ---------------------------------------------------------------------------- environment variables

def configuration_variables(text: str) -> list[str]:
    """The variables the README's configuration table documents (its first column)."""
    blocks = table_blocks(section(text, "Configuration"))
    assert len(blocks) == 1, "the configuration section should hold one table"
    return [name for row in rows(blocks[0]) for name in CODE_SPAN.findall(row[0])]


def _source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(BOT.rglob("*.py")))


def helpline_variables(source: str) -> set[str]:
    """The HELPLINE_* variables the code names as whole string literals ("HELPLINE_LOCAL")."""
    return set(re.findall(r"[\"'](HELPLINE_[A-Z0-9_]+)[\"']", source))


def test_every_configuration_variable_is_read_by_the_line():
    source = _source()
    documented = configuration_variables(README.read_text(encoding="utf-8"))
    unread = [name for name in documented if f'"{name}"' not in source and f"'{name}'" not in source]
    assert len(documented) > 10 and unread == [], f"documented in README but read nowhere in bot/: {unread}"


def test_every_helpline_variable_the_line_reads_is_documented():
    documented = set(configuration_variables(README.read_text(encoding="utf-8")))
    read = helpline_variables(_source())
    assert "HELPLINE_TIMEZONE" in read
    assert sorted(read - documented) == [], "read in bot/ but not in README's configuration table"


def test_the_variable_checks_see_a_missing_row():
    readme = "## Configuration\n\n| variable | meaning |\n|---|---|\n| `A`, `B` | x |\n"
    assert configuration_variables(readme) == ["A", "B"]
    assert helpline_variables('os.environ.get("HELPLINE_X", "")\nNAME = \'HELPLINE_Y\'\n# HELPLINE_Z') == {
        "HELPLINE_X", "HELPLINE_Y"}


# ---------------------------------------------------------------------------- YAML examples

def yaml_examples(text: str) -> list[object]:
    """Every ```yaml block of a text, parsed (a block that does not parse fails here)."""
    return [yaml.safe_load(block) for block in fenced_blocks(text, "yaml")]


def page_fields() -> set[str]:
    """The page fields the flow loader accepts: the set of names `_node` in bot/engine/flows.py
    checks a page against (read from its source, so a field added there shows up here)."""
    tree = ast.parse(Path(flows_module.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Set) and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                             for e in node.elts):
            names = {e.value for e in node.elts}
            if {"say", "resources", "options"} <= names:
                return names
    raise AssertionError("no set of page fields (with say, resources, options) in bot/engine/flows.py")


def line_languages() -> list[str]:
    """The line's languages, as flows/welcome.yaml lists them (English and Spanish if it does not)."""
    welcome = yaml.safe_load((ROOT / "flows" / "welcome.yaml").read_text(encoding="utf-8"))
    return list(welcome.get("languages") or ["en", "es"])


def page_problems(node_id: str, page: object, fields: set[str], languages: list[str]) -> list[str]:
    """What the flow loader would refuse in one page of an example."""
    if not isinstance(page, dict):
        return [f"{node_id}: not a mapping"]
    problems = [f"{node_id}: unknown field {name}" for name in sorted(set(page) - fields)]
    texts = [("say", page.get("say"))] + [(f"option {i}", option.get("label") if isinstance(option, dict) else None)
                                          for i, option in enumerate(page.get("options") or [], start=1)]
    for what, value in texts:
        missing = [lang for lang in languages if not (isinstance(value, dict) and value.get(lang))]
        if missing:
            problems.append(f"{node_id}: {what} has no text in {', '.join(missing)}")
    route = page.get("route", "")
    if route not in ("", *ROUTE_NAMES):
        problems.append(f"{node_id}: route {route} is not one of {', '.join(ROUTE_NAMES)}")
    if bool(page.get("for_minors")) != (route == "minors"):
        problems.append(f"{node_id}: for_minors goes with route minors, and only there")
    return problems


def flow_example_problems(text: str) -> list[str]:
    """Every flow document among a text's YAML examples: the current spec_version, whole pages."""
    fields, languages = page_fields(), line_languages()
    documents = [d for d in yaml_examples(text) if isinstance(d, dict) and "nodes" in d]
    if not documents:
        return ["no flow example (a YAML block with spec_version and nodes)"]
    problems = []
    for document in documents:
        if document.get("spec_version") != SPEC_VERSION:
            problems.append(f"spec_version {document.get('spec_version')}, not the current {SPEC_VERSION}")
        for node_id, page in document["nodes"].items():
            problems += page_problems(node_id, page, fields, languages)
    return problems


def test_the_flow_example_is_a_current_flow_file():
    assert flow_example_problems(FORMAT.read_text(encoding="utf-8")) == []


def test_every_page_field_the_loader_accepts_is_documented():
    documented = set(CODE_SPAN.findall(section(FORMAT.read_text(encoding="utf-8"),
                                               "Flows: `flows/*.yaml` (one file per topic)")))
    assert sorted(page_fields() - documented) == []
    assert sorted(set(ROUTE_NAMES) - documented) == []
    assert sorted(set(flows_module.REQUIRED_STRINGS) - documented) == []


def test_the_flow_example_check_sees_an_old_version_and_a_wrong_field():
    page = "  p:\n    say: {en: a, es: b}\n    route: minors\n    for_minors: [health]\n"
    good = f"```yaml\nspec_version: {SPEC_VERSION}\nnodes:\n{page}```\n"
    assert flow_example_problems(good) == []
    assert flow_example_problems(good.replace(f"spec_version: {SPEC_VERSION}", "spec_version: 1")) == [
        f"spec_version 1, not the current {SPEC_VERSION}"]
    assert flow_example_problems(good.replace("route: minors", "route: kids")) == [
        f"p: route kids is not one of {', '.join(ROUTE_NAMES)}", "p: for_minors goes with route minors, and only there"]
    assert flow_example_problems(good.replace("say:", "text:")) == [
        "p: unknown field text", f"p: say has no text in {', '.join(line_languages())}"]


def _example(text: str, key: str) -> str:
    """The one YAML example of a text whose document has this top-level key, as written."""
    found = [block for block in fenced_blocks(text, "yaml")
             if isinstance(parsed := yaml.safe_load(block), dict) and key in parsed]
    assert len(found) == 1, f"{len(found)} YAML examples with '{key}'"
    return found[0]


def load_flows_with(tmp_path: Path, name: str, text: str) -> flows_module.Flows:
    """The shipped flows, with one file replaced by an example, loaded as the line loads them."""
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder)
    (folder / name).write_text(text, encoding="utf-8")
    return flows_module.load_flows(folder)


def test_the_keyword_table_example_loads(tmp_path):
    example = _example(FORMAT.read_text(encoding="utf-8"), "language")
    language = yaml.safe_load(example)["language"]
    loaded = load_flows_with(tmp_path, f"keywords/{language}.yaml", example)
    assert "health" in loaded.lexicon.topic_targets
    shipped = set()  # the loader takes any command name; the engine acts on those the shipped tables use
    for path in (ROOT / "flows" / "keywords").glob("*.yaml"):
        shipped |= set(yaml.safe_load(path.read_text(encoding="utf-8"))["commands"])
    assert sorted(set(yaml.safe_load(example)["commands"]) - shipped) == []


def test_the_campaigns_example_loads(tmp_path):
    example = _example(FORMAT.read_text(encoding="utf-8"), "campaigns")
    loaded = load_flows_with(tmp_path, "campaigns.yaml", example)
    assert loaded.campaigns


def test_a_keyword_table_example_without_switch_words_does_not_load(tmp_path):
    example = _example(FORMAT.read_text(encoding="utf-8"), "language")
    language = yaml.safe_load(example)["language"]
    broken = "\n".join(line for line in example.splitlines() if not line.startswith("switch:"))
    with pytest.raises(FlowError, match="switch"):
        load_flows_with(tmp_path, f"keywords/{language}.yaml", broken)


def test_every_field_and_cue_of_the_shipped_keyword_tables_is_documented():
    """Each top-level field of flows/keywords/*.yaml, and each context cue, is named in docs/format.md."""
    documented = set(CODE_SPAN.findall(FORMAT.read_text(encoding="utf-8")))
    used = set()
    for path in sorted((ROOT / "flows" / "keywords").glob("*.yaml")):
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
        used |= set(table) | set(table.get("context") or {})
    assert sorted(used - documented) == []

