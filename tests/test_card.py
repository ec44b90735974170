"""`helpline card`: the QR code opens a text with the word, the card is discreet, bad input is a
plain error, and a card text that names the topic or types a number never loads."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from bot import ROOT
from bot.cli import main
from bot.cli.card import (
    DEFAULT_FOLDER,
    DEFAULT_TEXT,
    FOOTER,
    HEIGHT,
    WIDTH,
    CardError,
    card_text,
    e164,
    make_card,
    output_paths,
    readable,
    topic_words,
)
from bot.cli.validate import lock_screen_words
from bot.engine.campaigns import CAMPAIGNS_FILE
from bot.engine.flows import load_flows
from bot.errors import FlowError

NUMBER = "+18605550100"
FLOWS = load_flows(ROOT / "flows")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    monkeypatch.delenv("HELPLINE_FLOWS_DIR", raising=False)
    return CliRunner()


def decoded(png: Path) -> list[str]:
    """What the QR codes in a PNG hold, read as a phone's camera would."""
    with Image.open(png) as image:
        return [code.text for code in zxingcpp.read_barcodes(image.convert("L"))]


def svg_texts(svg: Path) -> list[str]:
    root = ET.parse(svg).getroot()  # noqa: S314 - our own output; parsing it is the test
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def test_the_qr_code_opens_a_text_to_the_line_with_the_word(runner, tmp_path):
    result = runner.invoke(main, ["card", "SAFE", "--number", NUMBER, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert decoded(tmp_path / "safe.png") == ["sms:+18605550100?body=SAFE"]
    assert f"wrote {tmp_path / 'safe.svg'}" in result.output and f"wrote {tmp_path / 'safe.png'}" in result.output


def test_the_png_is_a_business_card_at_300_dpi(tmp_path):
    _, png = make_card(FLOWS, "segura", NUMBER, tmp_path)
    with Image.open(png) as image:
        assert image.size == (WIDTH, HEIGHT) == (1050, 600)  # 3.5 x 2 in
        assert [round(d) for d in image.info["dpi"]] == [300, 300]
    assert decoded(png) == ["sms:+18605550100?body=SEGURA"]


def test_the_svg_is_well_formed_and_shows_the_word_the_number_and_the_text(tmp_path):
    svg, _ = make_card(FLOWS, "SEGURA", NUMBER, tmp_path)
    root = ET.parse(svg).getroot()  # noqa: S314 - raises on XML that is not well-formed
    assert root.tag == f"{SVG}svg" and root.get("width") == "3.5in" and root.get("height") == "2in"
    texts = svg_texts(svg)
    assert "SEGURA" in texts and "860-555-0100" in texts
    assert "¿Necesitas hablar con alguien?" in texts and FOOTER["es"] in texts
    assert root.find(f"{SVG}path") is not None  # the QR code, as vector modules


def test_every_card_text_is_discreet():
    denied = FLOWS.lexicon.lockscreen
    assert {"sex", "escort*", "trata", "traffick*"} <= denied
    assert FLOWS.campaigns and all(c.card for c in FLOWS.campaigns.values()), "every shipped campaign has a card text"
    for campaign in FLOWS.campaigns.values():
        text = card_text(campaign, NUMBER)
        shown = [text, campaign.word, FOOTER[campaign.lang]]
        assert topic_words(shown, denied) == [], f"{campaign.word}: {text!r}"
        assert not lock_screen_words(text, denied), f"{campaign.word}: {text!r}"
        assert campaign.word in text and "860-555-0100" in text, f"{campaign.word}: say how to text the line"
    for words in (DEFAULT_TEXT, FOOTER):
        assert topic_words(list(words.values()), denied) == []


def test_the_topic_check_reads_the_whole_card():
    denied = FLOWS.lexicon.lockscreen
    assert topic_words(["Need to talk?", "x " * 40 + "Escorts welcome"], denied) == ["escort*"]
    assert topic_words(["Sussex county"], denied) == []


def test_a_campaign_without_a_card_text_gets_the_plain_default(tmp_path):
    flows = flows_with_campaigns(tmp_path, """
  SAFE: {start: welcome, lang: en, tag: safe-card}
  SEGURA: {start: welcome, lang: es, tag: safe-card-es}
""")
    assert card_text(flows.campaigns["safe"], NUMBER) == "Text SAFE to 860-555-0100"
    assert card_text(flows.campaigns["segura"], NUMBER) == "Envía SEGURA al 860-555-0100"
    svg, png = make_card(flows, "safe", NUMBER, tmp_path / "out")
    assert "Text SAFE to 860-555-0100" in svg_texts(svg)
    assert decoded(png) == ["sms:+18605550100?body=SAFE"]


@pytest.mark.parametrize("number, problem", [
    ("8605550100", "E.164"),
    ("18605550100", "E.164"),
    ("+1860555010", "a US number is +1 and 10 digits"),
    ("+186055501000", "a US number is +1 and 10 digits"),
    ("+10605550100", "a US number is +1 and 10 digits"),
    ("+3312345", "E.164"),
    ("+4477009001230000", "E.164"),
    ("tel:+18605550100", "E.164"),
    ("+1860555O100", "a US number is +1 and 10 digits"),
])
def test_a_bad_number_is_a_plain_error(runner, tmp_path, number, problem):
    result = runner.invoke(main, ["card", "SAFE", "--number", number, "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("error: --number") and problem in result.output, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not list(tmp_path.iterdir()), "nothing is written"


def test_numbers_in_e164_are_taken_with_or_without_separators():
    assert e164("+1 (860) 555-0100") == e164("+1.860.555.0100") == NUMBER
    assert e164("+44 7700 900123") == "+447700900123"
    assert readable(NUMBER) == "860-555-0100" and readable("+447700900123") == "+447700900123"


def test_an_unknown_word_is_a_plain_error_listing_the_words(runner, tmp_path):
    result = runner.invoke(main, ["card", "HELLO", "--number", NUMBER, "--out", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert result.output == ("error: 'HELLO' is not a campaign word of the flows; "
                             "the card words are: CARD7, HEALTH, SAFE, SALUD, SEGURA\n")
    assert not list(tmp_path.iterdir())


def test_a_word_is_taken_in_any_case_and_printed_as_written(tmp_path):
    svg, png = make_card(FLOWS, "card7", NUMBER, tmp_path)
    assert svg.name == "card7.svg" and "CARD7" in svg_texts(svg)
    assert decoded(png) == ["sms:+18605550100?body=CARD7"]


def test_a_word_the_line_does_not_answer_is_refused(tmp_path):
    flows = flows_with_campaigns(tmp_path, """
  SAFE: {start: welcome, lang: en, tag: safe-card}
  SEGURA: {start: welcome, lang: es, tag: safe-card-es}
lines:
  "+18605550100": {campaigns: [SEGURA]}
""")
    with pytest.raises(CardError, match=r"the line \+18605550100 does not answer the card word SAFE.*: SEGURA$"):
        make_card(flows, "SAFE", NUMBER, tmp_path / "out")
    make_card(flows, "SAFE", "+18605550199", tmp_path / "out")  # another number answers every word


def test_broken_flows_are_a_plain_error(runner, tmp_path, monkeypatch):
    folder = copy_flows(tmp_path)
    (folder / CAMPAIGNS_FILE).write_text("spec_version: 1\ncampaigns:\n  SAFE: {start: nowhere, lang: en, tag: x}\n")
    monkeypatch.setenv("HELPLINE_FLOWS_DIR", str(folder))
    result = runner.invoke(main, ["card", "SAFE", "--number", NUMBER, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.match(r"error: .*campaigns.yaml:3: campaign 'SAFE' starts at 'nowhere'", result.output), result.output


def test_a_number_outside_the_us_is_printed_as_given(tmp_path):
    svg, png = make_card(FLOWS, "HEALTH", "+44 7700 900123", tmp_path)
    assert "+447700900123" in svg_texts(svg)
    assert decoded(png) == ["sms:+447700900123?body=HEALTH"]


def test_a_card_text_too_long_for_the_card_is_a_plain_error(runner, tmp_path, monkeypatch):
    folder = copy_flows(tmp_path)
    long = "Text {word} to {number}. " + "Someone will listen to you. " * 30
    (folder / CAMPAIGNS_FILE).write_text(f'spec_version: 1\ncampaigns:\n  SAFE: {{start: welcome, lang: en, '
                                         f'tag: x, card: {{en: "{long}"}}}}\n', encoding="utf-8")
    monkeypatch.setenv("HELPLINE_FLOWS_DIR", str(folder))
    result = runner.invoke(main, ["card", "SAFE", "--number", NUMBER, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("error: the card text is too long for the card"), result.output
    assert not (tmp_path / "out").exists()


def test_out_names_a_folder_or_the_files():
    assert output_paths(Path("cards"), "SAFE") == (Path("cards/safe.svg"), Path("cards/safe.png"))
    assert output_paths(Path("print/motel.svg"), "CARD7") == (Path("print/motel.svg"), Path("print/motel.png"))
    assert output_paths(Path("print/motel.png"), "CARD7") == (Path("print/motel.svg"), Path("print/motel.png"))


def test_the_default_output_is_git_ignored():
    svg, png = output_paths(None, "SAFE")
    assert svg == DEFAULT_FOLDER / "safe.svg" and png.parent == DEFAULT_FOLDER
    assert DEFAULT_FOLDER.is_relative_to(ROOT)
    if not (ROOT / ".git").exists():
        pytest.skip("not a git work tree")
    for path in (svg, png):
        ignored = subprocess.run(["git", "check-ignore", "-q", str(path.relative_to(ROOT))],  # noqa: S603, S607
                                 cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"{path} is not git-ignored: a card carries the line's real number"


# ---------------------------------------------------------------------------- card texts that do not load


def copy_flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder)
    return folder


def flows_with_campaigns(tmp_path: Path, campaigns: str):
    folder = copy_flows(tmp_path)
    (folder / CAMPAIGNS_FILE).write_text(f"spec_version: 1\ncampaigns:{campaigns}", encoding="utf-8")
    return load_flows(folder)


@pytest.mark.parametrize("card, problem", [
    ('{en: "Escort? Text {word} to {number}."}', r"card \(en\) names the topic \(escort\*\)"),
    ('{en: "Free help for sex workers. Text {word}."}', r"card \(en\) names the topic \(sex\)"),
    ('{en: "Text {word} to {number}.\\nOut of trafficking? We help."}', r"names the topic \(traffick\*, trafficking\)"),
    ('{en: "Text {word} to (860) 555-0199."}', r"card \(en\) has a phone number typed in; write \{number\}"),
    ('{en: "Text {word} to +1 860 555 0199."}', r"has a phone number typed in"),
    ('{en: "Text {word} to {number}, {name}."}', r"card \(en\) may use \{word\} and \{number\} only"),
    ('{en: "Text {word} to {number} {"}', r"may use \{word\} and \{number\} only"),
    ('{es: "Envía {word} al {number}."}', r"campaign 'SAFE' has a card without its 'en' text"),
    ('{en: "Text {word}.", es: "Envía {word}."}', r"card \(es\): a card has one text, in the campaign's language"),
    ('{en: "  "}', r"card \(en\): a card has one text"),
    ('"Text {word} to {number}"', r"has a card without its 'en' text"),
])
def test_a_card_text_that_names_the_topic_or_types_a_number_does_not_load(tmp_path, card, problem):
    with pytest.raises(FlowError) as caught:
        flows_with_campaigns(tmp_path, f"\n  SAFE: {{start: welcome, lang: en, tag: safe-card, card: {card}}}\n")
    message = str(caught.value)
    assert re.search(problem, message), message
    assert re.match(r".*campaigns\.yaml:3: ", message), f"the error names the file and the line: {message}"


def test_a_spanish_card_is_checked_against_the_spanish_words(tmp_path):
    with pytest.raises(FlowError, match=r"card \(es\) names the topic \(trata\)"):
        flows_with_campaigns(tmp_path, '\n  SEGURA: {start: welcome, lang: es, tag: x,\n'
                                       '          card: {es: "¿Trata? Envía {word}."}}\n')
