"""A picture of the flows: Graphviz DOT (and SVG when Graphviz is installed) or Mermaid."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bot.engine.flows import Flows

KEYWORD_ENTRY = "(words from any point)"
DANGER_ENTRY = "(danger words, before all else)"


def _first_line(flows: Flows, node_id: str, lang: str) -> str:
    return flows.nodes[node_id].say[lang].splitlines()[0]


def _edges(flows: Flows, lang: str) -> list[tuple[str, str, str, bool]]:
    """(from, to, label, dashed) for every option, and for keyword and danger entry points."""
    edges = []
    for node in flows.nodes.values():
        for number, option in enumerate(node.options, start=1):
            edges.append((node.id, option.goto, f"{number} {option.label[lang]}", False))
    entries = [(DANGER_ENTRY, t) for t in flows.lexicon.danger_targets]
    entries += [(KEYWORD_ENTRY, t) for t in flows.lexicon.topic_targets]
    edges += [(source, target, "", True) for source, target in entries]
    return edges


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _quote(text: str) -> str:
    return f'"{_escape(text)}"'


def to_dot(flows: Flows, lang: str = "en") -> str:
    """The flow graph in Graphviz DOT: a box per node with its first line, an arrow per option."""
    lines = ["digraph flows {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", '
             'fillcolor="#f5f5f5", fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    for node in flows.nodes.values():
        color = ', fillcolor="#fde2e2"' if node.always_answered else ""
        label = f'"{_escape(node.id)}\\n{_escape(_first_line(flows, node.id, lang))}"'
        lines.append(f"  {_quote(node.id)} [label={label}{color}];")
    for entry in (DANGER_ENTRY, KEYWORD_ENTRY):
        lines.append(f"  {_quote(entry)} [shape=plaintext, style=\"\"];")
    for source, target, label, dashed in _edges(flows, lang):
        style = ", style=dashed" if dashed else ""
        lines.append(f"  {_quote(source)} -> {_quote(target)} [label={_quote(label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(flows: Flows, lang: str = "en") -> str:
    """The flow graph as a Mermaid flowchart (renders on GitHub and in many editors)."""
    ids = {name: f"n{i}" for i, name in enumerate([*flows.nodes, DANGER_ENTRY, KEYWORD_ENTRY])}

    def text(value: str) -> str:
        return value.replace('"', "'")

    lines = ["flowchart LR"]
    for node in flows.nodes.values():
        lines.append(f'  {ids[node.id]}["{node.id}<br/>{text(_first_line(flows, node.id, lang))}"]')
    lines += [f'  {ids[DANGER_ENTRY]}(["{DANGER_ENTRY}"])', f'  {ids[KEYWORD_ENTRY]}(["{KEYWORD_ENTRY}"])']
    for source, target, label, dashed in _edges(flows, lang):
        arrow = "-.->" if dashed else "-->"
        tag = f'|"{text(label)}"|' if label else ""
        lines.append(f"  {ids[source]} {arrow}{tag} {ids[target]}")
    return "\n".join(lines) + "\n"


def write_graph(flows: Flows, output: Path, fmt: str = "dot", lang: str = "en") -> list[Path]:
    """Write the graph; with DOT, also an SVG when Graphviz's `dot` is on the PATH."""
    if fmt == "mermaid":
        path = output.with_suffix(".mmd")
        path.write_text(to_mermaid(flows, lang), encoding="utf-8")
        return [path]
    path = output.with_suffix(".dot")
    path.write_text(to_dot(flows, lang), encoding="utf-8")
    written = [path]
    dot = shutil.which("dot")
    if dot:
        svg = output.with_suffix(".svg")
        subprocess.run([dot, "-Tsvg", str(path), "-o", str(svg)], check=True, timeout=60)  # noqa: S603
        written.append(svg)
    return written
