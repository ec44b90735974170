"""`helpline card WORD --number +18605550100`: a printable card for a card word and a line's number.

The card, US business-card size (3.5 x 2 in), shows the campaign's card text (`card:` in
flows/campaigns.yaml, or "Text {word} to {number}"), the word large, the number as people read
it, a one-line footer, and a QR code that opens a text to the line with the word filled in:
`sms:+18605550100?body=SAFE` (RFC 5724, the form current phones open). Nothing on it
names the topic: the text is checked against the `lockscreen:` words when the flows load, and
the whole card again here.

It is written twice, from one layout: an SVG (vector, for printing) and a PNG at 300 dpi (for a
phone, or a print shop that wants pixels). The layout is measured with Source Sans Pro, which
the PNG uses and the SVG names first (Pillow's own font has no á, ñ or ¿).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import click

from bot import ROOT
from bot.engine.campaigns import Campaign
from bot.engine.flows import Flows, load_flows
from bot.engine.text import E164, US_NUMBER, denied_words, normalize, readable
from bot.errors import FlowError

DPI = 300
WIDTH, HEIGHT = 1050, 600  # 3.5 x 2 in at 300 dpi; the SVG's viewBox is in these pixels
MARGIN = 54  # left of the text
TOP = 34  # the highest the text may start
QR_BOX = 400  # at most this many pixels for the QR code with its quiet zone (4 modules a side)
FOOTER_SIZE, FOOTER_BASELINE = 25, HEIGHT - 40
INK, ACCENT, EDGE = "#111111", "#1d4f5c", "#c8c8c8"  # text; the word; the faint cutting line
FONT_FAMILY = "'Source Sans Pro', 'Source Sans 3', Arial, Helvetica, sans-serif"
DEFAULT_FOLDER = ROOT / "instance" / "cards"  # instance/ is git-ignored: cards carry a real number

# The text of a campaign without `card:`, and the footer, in the languages the line ships.
DEFAULT_TEXT = {"en": "Text {word} to {number}", "es": "Envía {word} al {number}"}
FOOTER = {"en": "Free, private help. In danger? Call 911.",
          "es": "Ayuda gratis y privada. ¿En peligro? Llama al 911."}



class CardError(ValueError):
    """A card that cannot be made, with what to do instead."""


def e164(number: str) -> str:
    """The number in E.164 form (spaces, dots, dashes and brackets dropped), or CardError.

    >>> e164("+1 (860) 555-0100")
    '+18605550100'
    """
    compact = re.sub(r"[\s().-]", "", number)
    if compact.startswith("+1"):
        if not US_NUMBER.fullmatch(compact):
            raise CardError(f"--number {number}: a US number is +1 and 10 digits, the area code and the next "
                            "three not starting with 0 or 1, like +18605550100")
    elif not E164.fullmatch(compact):
        raise CardError(f"--number {number}: write the line's number in E.164 form, + and the country code "
                        "then the number, 8 to 15 digits in all, like +18605550100")
    return compact


def sms_uri(number: str, word: str) -> str:
    """What the QR code holds: a text to the number with the word as its body (RFC 5724).

    >>> sms_uri("+18605550100", "SAFE")
    'sms:+18605550100?body=SAFE'
    """
    return f"sms:{number}?body={quote(word, safe='')}"


def card_text(campaign: Campaign, number: str) -> str:
    """The campaign's card text with the word and the readable number filled in."""
    template = campaign.card.get(campaign.lang) or DEFAULT_TEXT.get(campaign.lang, "")
    return template.replace("{word}", campaign.word).replace("{number}", readable(number))


def find_campaign(flows: Flows, word: str, number: str) -> Campaign:
    """The campaign of a card word as the line with this number answers it, or CardError."""
    key = normalize(word)
    known = flows.for_line(number).campaigns
    if key in known:
        return known[key]
    if key in flows.campaigns:
        answered = ", ".join(sorted(c.word for c in known.values()))
        raise CardError(f"the line {number} does not answer the card word {flows.campaigns[key].word} "
                        f"(flows/campaigns.yaml, lines); its words: {answered}")
    words = ", ".join(sorted(c.word for c in flows.campaigns.values())) or "none"
    raise CardError(f"'{word}' is not a campaign word of the flows; the card words are: {words}")


def topic_words(texts: list[str], denied: frozenset[str]) -> list[str]:
    """The lock-screen topic words anywhere in a card's texts (a card shows all of it at once)."""
    return denied_words(" ".join(texts), denied)


# ---------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Text:
    x: int
    y: int  # the baseline
    size: int  # pixels at 300 dpi
    text: str
    bold: bool = False
    color: str = INK
    width: int = 0  # as measured; the SVG asks for this length so that any fallback font fits too


@dataclass(frozen=True)
class Card:
    texts: tuple[Text, ...]
    qr: tuple[bytes, ...]  # the QR code's rows, a byte per module (1 dark), without its quiet zone
    qr_x: int  # where the quiet zone starts
    qr_y: int
    module: int  # pixels a module
    title: str  # for the SVG's <title>: the card's instruction in one line


@cache
def _font(bold: bool, size: int):
    from PIL import ImageFont

    name = "SourceSansPro-Bold.ttf" if bold else "SourceSansPro-Regular.ttf"
    return ImageFont.truetype(str(files("font_source_sans_pro") / "files" / name), size)


def _length(text: str, size: int, bold: bool = False) -> int:
    return round(_font(bold, size).getlength(text))


def _wrap(text: str, size: int, width: int) -> list[str]:
    """The text's lines at this size, wrapped at spaces to the width (its own line breaks kept)."""
    lines = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            longer = f"{line} {word}" if line else word
            if line and _length(longer, size) > width:
                lines.append(line)
                line = word
            else:
                line = longer
        lines.append(line)
    return lines


def _fit(text: str, largest: int, width: int, bold: bool = True) -> int:
    """The largest size up to `largest` at which one line of text fits the width."""
    return min(largest, int(largest * width / max(_length(text, largest, bold), 1)))


def layout(text: str, word: str, number: str, footer: str, uri: str) -> Card:
    """Where everything goes on the card; CardError when the text does not fit."""
    import segno

    qr = segno.make_qr(uri, error="m")
    modules = len(qr.matrix) + 8
    module = QR_BOX // modules
    qr_side = module * modules
    qr_x, qr_y = WIDTH - 30 - qr_side, (FOOTER_BASELINE - FOOTER_SIZE - qr_side) // 2
    column = qr_x - MARGIN  # the text stays clear of the quiet zone
    word_size, number_size = _fit(word, 124, column), _fit(number, 60, column)
    bottom = FOOTER_BASELINE - FOOTER_SIZE - 24  # the lowest the number's baseline may go
    below = round(word_size * 0.72) + round(number_size * 0.35) + round(number_size * 0.72)  # word and number
    fitting = []  # (size, lines, height of the text and the gap under it), largest size first
    for size in range(36, 25, -1):
        lines = _wrap(text, size, column) if text else []
        height = round(size * 0.95) + round(size * 1.25) * (len(lines) - 1) + round(size * 0.9) if lines else 0
        if all(_length(line, size) <= column for line in lines) and TOP + height + below <= bottom:
            fitting.append((size, lines, height))
    if not fitting:
        start = " ".join(text.split())[:40]
        raise CardError(f"the card text is too long for the card at a readable size; shorten it "
                        f"(card: in flows/campaigns.yaml): '{start}...'")
    paragraphs = len(text.splitlines())  # a size that keeps each line of the text whole is preferred
    size, lines, text_height = next((f for f in fitting if len(f[1]) == paragraphs and f[0] >= 30), fitting[0])
    height = text_height + below
    top = TOP + (bottom - (TOP) - height) // 2  # the block, centred above the footer
    placed = []
    for i, line in enumerate(lines):
        y = top + round(size * 0.95) + round(size * 1.25) * i
        placed.append(Text(MARGIN, y, size, line, width=_length(line, size)))
    y = top + text_height + round(word_size * 0.72)
    placed.append(Text(MARGIN - round(word_size * 0.04), y, word_size, word, bold=True, color=ACCENT,
                       width=_length(word, word_size, True)))
    y += round(number_size * 0.35) + round(number_size * 0.72)
    placed.append(Text(MARGIN, y, number_size, number, bold=True, width=_length(number, number_size, True)))
    if footer:
        placed.append(Text(MARGIN, FOOTER_BASELINE, FOOTER_SIZE, footer, width=_length(footer, FOOTER_SIZE)))
    title = " ".join(text.split()) or f"{word} {number}"
    return Card(tuple(placed), tuple(bytes(row) for row in qr.matrix), qr_x, qr_y, module, title)


# ---------------------------------------------------------------------------- drawing


def svg(card: Card) -> str:
    """The card as an SVG document: text as text, the QR code as one path of whole modules."""
    texts = []
    for t in card.texts:
        weight = ' font-weight="700"' if t.bold else ""
        texts.append(f'  <text x="{t.x}" y="{t.y}" font-size="{t.size}"{weight} fill="{t.color}" '
                     f'textLength="{t.width}" lengthAdjust="spacingAndGlyphs">{escape(t.text)}</text>')
    path = []
    for y, row in enumerate(card.qr):
        x = 0
        while x < len(row):
            if row[x]:
                run = next((end for end in range(x, len(row)) if not row[end]), len(row)) - x
                path.append(f"M{x + 4},{y + 4}h{run}v1h-{run}z")
                x += run
            else:
                x += 1
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH / DPI:g}in" height="{HEIGHT / DPI:g}in" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">',
        f"  <title>{escape(card.title)}</title>",
        f'  <rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'  <rect x="1.5" y="1.5" width="{WIDTH - 3}" height="{HEIGHT - 3}" rx="28" fill="none" stroke="{EDGE}" '
        'stroke-width="3"/>',
        f'  <g font-family="{FONT_FAMILY}">',
        *("  " + text for text in texts),
        "  </g>",
        f'  <path transform="translate({card.qr_x} {card.qr_y}) scale({card.module})" fill="#000000" '
        f'shape-rendering="crispEdges" d="{"".join(path)}"/>',
        "</svg>",
        "",
    ])


def png(card: Card, path: Path) -> None:
    """The card as a PNG at 300 dpi, the QR code on whole pixels."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((1, 1, WIDTH - 2, HEIGHT - 2), radius=28, outline=EDGE, width=3)
    for t in card.texts:
        draw.text((t.x, t.y), t.text, fill=t.color, font=_font(t.bold, t.size), anchor="ls")
    m = card.module
    for y, row in enumerate(card.qr):
        for x, dark in enumerate(row):
            if dark:
                left, top = card.qr_x + (x + 4) * m, card.qr_y + (y + 4) * m
                draw.rectangle((left, top, left + m - 1, top + m - 1), fill="black")
    image.save(path, dpi=(DPI, DPI), optimize=True)


# ---------------------------------------------------------------------------- the command


def output_paths(out: Path | None, word: str) -> tuple[Path, Path]:
    """Where the SVG and the PNG go: --out as a file name (its .svg/.png suffix replaced) or a
    folder (the files named after the word), by default the git-ignored instance/cards/."""
    name = normalize(word).replace(" ", "-")
    if out is None:
        base = DEFAULT_FOLDER / name
    elif out.suffix.lower() in (".svg", ".png"):
        base = out.with_suffix("")
    else:
        base = out / name
    return base.with_name(base.name + ".svg"), base.with_name(base.name + ".png")


def make_card(flows: Flows, word: str, number: str, out: Path | None = None) -> tuple[Path, Path]:
    """Write the card of a campaign word for a number; CardError when it cannot be made."""
    number = e164(number)
    campaign = find_campaign(flows, word, number)
    text = card_text(campaign, number)
    footer = FOOTER.get(campaign.lang, "")
    named = topic_words([text, campaign.word, footer], flows.lexicon.lockscreen)
    if named:
        raise CardError(f"the card for {campaign.word} would name the topic ({', '.join(named)}); "
                        "a card must be discreet: change its word or its card text in flows/campaigns.yaml")
    card = layout(text, campaign.word, readable(number), footer, sms_uri(number, campaign.word))
    svg_path, png_path = output_paths(out, campaign.word)
    try:
        svg_path.parent.mkdir(parents=True, exist_ok=True)
        svg_path.write_text(svg(card), encoding="utf-8")
        png(card, png_path)
    except OSError as err:
        raise CardError(f"cannot write the card to {svg_path.parent}: {err.strerror or err}") from None
    return svg_path, png_path


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.command("card", help="Make a printable card for a card word and the line's number: an SVG and a PNG with the "
               "campaign's card text, the word, the number, and a QR code that opens a text with the word.")
@click.argument("word")
@click.option("--number", required=True, help="The line's number, E.164: +1 and 10 digits in the US (+18605550100).")
@click.option("--out", type=click.Path(path_type=Path),
              help="A folder for WORD.svg and WORD.png, or a file name (NAME.svg, NAME.png). "
              "Default: instance/cards/, which git ignores.")
def card_command(word: str, number: str, out: Path | None) -> None:
    try:
        flows = load_flows(os.environ.get("HELPLINE_FLOWS_DIR") or ROOT / "flows")
        paths = make_card(flows, word, number, out)
    except (FlowError, CardError) as err:
        _fail(str(err))
    except ImportError as err:  # the cards extra is not installed: the line itself never needs it
        _fail(f"helpline card needs the cards extra ({err.name}): pip install -e '.[cards]'")
    for path in paths:
        click.echo(f"wrote {path}")
