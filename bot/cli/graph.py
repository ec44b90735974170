"""A picture of the flows: Graphviz DOT (and SVG when Graphviz is installed) or Mermaid.

Besides every page and option, it shows the card words (flows/campaigns.yaml: a small box per
word, pointing to the page a first text with it starts at) and the pages where a place can be
given (a page with `resources` lists services, and a town or ZIP code sent there narrows them).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bot import ROOT
from bot.engine.flows import Flows

DEFAULT_OUTPUT = ROOT / "instance" / "graph" / "flows-graph"  # instance/ is git-ignored
KEYWORD_ENTRY = "(words from any point)"
DANGER_ENTRY = "(danger words, before all else)"
PLACE_NOTE = "(asks for a town)"
CARD_PREFIX = "card "  # a card word's box: "card SAFE" (a node id never has a space)


def _first_line(flows: Flows, node_id: str, lang: str) -> str:
    return flows.nodes[node_id].say[lang].splitlines()[0]


def asks_for_place(flows: Flows, node_id: str) -> bool:
    """Whether a page lists services for which a town can be given (it has `resources`)."""
    return bool(flows.nodes[node_id].resources)


def cards(flows: Flows) -> list[tuple[str, str, str, str]]:
    """(box id, card word, start page, language) for every card word in campaigns.yaml."""
    return [(CARD_PREFIX + c.word, c.word, c.start, c.lang) for c in flows.campaigns.values()]


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
    """The flow graph in Graphviz DOT: a box per node with its first line, an arrow per option;
    a small yellow box per card word; a folder shape and a note on pages that ask for a town."""
    lines = ["digraph flows {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", '
             'fillcolor="#f5f5f5", fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    for node in flows.nodes.values():
        color = ', fillcolor="#fde2e2"' if node.always_answered else ""
        label = f"{_escape(node.id)}\\n{_escape(_first_line(flows, node.id, lang))}"
        place = ""
        if asks_for_place(flows, node.id):
            label += f"\\n{_escape(PLACE_NOTE)}"
            place = ', shape=folder, style="filled"'
        lines.append(f'  {_quote(node.id)} [label="{label}"{place}{color}];')
    for entry in (DANGER_ENTRY, KEYWORD_ENTRY):
        lines.append(f"  {_quote(entry)} [shape=plaintext, style=\"\"];")
    for box, word, _, _ in cards(flows):
        lines.append(f'  {_quote(box)} [label={_quote(word)}, shape=box, style="filled", fillcolor="#fff3bf", '
                     'fontsize=9, width=0, height=0, margin="0.06,0.03"];')
    for source, target, label, dashed in _edges(flows, lang):
        style = ", style=dashed" if dashed else ""
        lines.append(f"  {_quote(source)} -> {_quote(target)} [label={_quote(label)}{style}];")
    for box, _, start, card_lang in cards(flows):
        lines.append(f"  {_quote(box)} -> {_quote(start)} [label={_quote(f'card word, {card_lang}')}, style=bold];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(flows: Flows, lang: str = "en") -> str:
    """The flow graph as a Mermaid flowchart (renders on GitHub and in many editors): option
    arrows -->, entry points -.->, card words ==> from a small box; pages that ask for a town
    are drawn [[like this]] with the note."""
    boxes = cards(flows)
    ids = {name: f"n{i}" for i, name in enumerate([*flows.nodes, DANGER_ENTRY, KEYWORD_ENTRY])}
    ids.update({box[0]: f"c{i}" for i, box in enumerate(boxes)})

    def text(value: str) -> str:
        return value.replace('"', "'")

    lines = ["flowchart LR"]
    for node in flows.nodes.values():
        label = f"{node.id}<br/>{text(_first_line(flows, node.id, lang))}"
        if asks_for_place(flows, node.id):
            lines.append(f'  {ids[node.id]}[["{label}<br/>{PLACE_NOTE}"]]')
        else:
            lines.append(f'  {ids[node.id]}["{label}"]')
    lines += [f'  {ids[DANGER_ENTRY]}(["{DANGER_ENTRY}"])', f'  {ids[KEYWORD_ENTRY]}(["{KEYWORD_ENTRY}"])']
    lines += [f'  {ids[box]}["{text(word)}"]:::card' for box, word, _, _ in boxes]
    for source, target, label, dashed in _edges(flows, lang):
        arrow = "-.->" if dashed else "-->"
        tag = f'|"{text(label)}"|' if label else ""
        lines.append(f"  {ids[source]} {arrow}{tag} {ids[target]}")
    lines += [f'  {ids[box]} ==>|"card word, {card_lang}"| {ids[start]}' for box, _, start, card_lang in boxes]
    if boxes:
        lines.append("  classDef card fill:#fff3bf,font-size:10px")
    return "\n".join(lines) + "\n"


def write_graph(flows: Flows, output: Path = DEFAULT_OUTPUT, fmt: str = "dot", lang: str = "en") -> list[Path]:
    """Write the graph (creating the folder); with DOT, also an SVG when Graphviz's `dot` is on the PATH."""
    output.parent.mkdir(parents=True, exist_ok=True)
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
