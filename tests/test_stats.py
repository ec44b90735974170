"""Campaign words, several numbers, WhatsApp, and the anonymous counts they feed."""

from __future__ import annotations

import json
import logging
import shutil
import time

import pytest
from click.testing import CliRunner

from bot import ROOT
from bot.app import create_app
from bot.cli import main
from bot.cli.chat import Conversation
from bot.errors import FlowError
from bot.stats import shown
from bot.tables import load_flows

PERSONAL = ["8605550123", "MARKNAME", "MARKWAID"]


@pytest.fixture
def counted(config):
    return create_app({**config, "STATS_FLUSH_SECONDS": 0})


def stats_json(config, monkeypatch) -> dict:
    monkeypatch.setenv("DATABASE_URL", config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["stats", "--json", "--days", "3"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def stored(app) -> list[dict]:
    """The rows as written: what the line counted, before anything is hidden for people."""
    import datetime as dt

    from bot.stats import rows

    return rows(app.extensions["helpline"].directory.engine, 3, dt.date.today())


def test_a_card_word_as_first_text_starts_its_flow_in_its_language(counted):
    first = Conversation.start(counted).send("salud")
    assert first[0].startswith("Mereces cuidar tu salud")
    assert Conversation.start(counted).send("SALUD") == first


def test_a_card_word_with_more_words_or_a_typo_is_counted_under_its_campaign(counted, config, monkeypatch):
    for n, text in enumerate(("segura por favor", "SEGRUA", "segura necesito un lugar para dormir")):
        Conversation.start(counted, sender=f"+1860555013{n}").send(text)
    counted.extensions["helpline"].tally.flush()
    by = {(r["campaign"], r["topic"]): r["count"] for r in stored(counted)}
    assert by == {("safe-card-es", "welcome"): 2, ("safe-card-es", "out"): 1}


def test_a_card_word_later_in_a_conversation_is_not_a_campaign(counted):
    texter = Conversation.start(counted)
    texter.send("hi")
    assert texter.send("CARD7")[0].startswith("Sorry, I didn't get that.")


def test_stats_count_conversations_by_campaign_topic_language_and_channel(counted, config, monkeypatch):
    for n in range(3):
        texter = Conversation.start(counted, sender=f"+1860555012{n}")
        texter.send("CARD7")
        texter.send("1")  # still counted under the card's campaign
    Conversation.start(counted, sender="whatsapp:+18605550123").send("hola")
    counted.extensions["helpline"].tally.flush()
    rows = stored(counted)
    assert {"day", "campaign", "topic", "language", "count"} <= set(rows[0])
    by = {(r["campaign"], r["topic"], r["language"], r["channel"]): r["count"] for r in rows}
    assert by[("motel-card-7", "hotlines", "en", "sms")] == 6
    assert by[("", "welcome", "es", "whatsapp")] == 1
    assert sum(by.values()) == 7
    seen = stats_json(config, monkeypatch)  # 6 and 1: the 1 is added up with the 6, never shown
    assert seen["texts"] == 7
    assert seen["breakdowns"]["language"] == {"shown": {}, "others": 7}  # the total alone


def test_counts_hold_nothing_personal_and_people_see_small_counts_as_under_5(counted, config, monkeypatch):
    texter = Conversation.start(counted, sender="whatsapp:+18605550123")
    form_extra = {"ProfileName": "MARKNAME", "WaId": "MARKWAID"}
    from bot.cli.chat import SMS_URL, inbound_form
    from bot.web.twilio import sign

    form = {**inbound_form(texter.sender, "SAFE"), **form_extra}
    counted.test_client().post("/sms", data=form, headers={"X-Twilio-Signature": sign(
        counted.config["TWILIO_AUTH_TOKEN"], SMS_URL, form)})
    counted.extensions["helpline"].tally.flush()
    assert "MARK" not in json.dumps(stats_json(config, monkeypatch))
    assert stats_json(config, monkeypatch)["texts"] is None  # one text: too few to show even the total
    monkeypatch.setenv("DATABASE_URL", config["DATABASE_URL"])
    table = CliRunner().invoke(main, ["stats"]).output
    assert "too few to show" in table and not any(p in table for p in PERSONAL)
    assert [shown(n) for n in (0, 4, 5, 12)] == ["<5", "<5", "5", "12"]


def test_counts_that_cannot_be_written_are_dropped_without_delaying_answers(counted, caplog):
    line = counted.extensions["helpline"]
    line.tally._engine = lambda: None  # the database is gone
    texter = Conversation.start(counted)
    with caplog.at_level(logging.WARNING):
        assert texter.send("hi") and texter.send("1")  # answered at once; the write fails on the upkeep thread
        deadline = time.monotonic() + 10
        while "stats: dropped" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "stats: dropped" in caplog.text


def lines_flows(tmp_path, lines_yaml: str):
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    text = (flows / "campaigns.yaml").read_text().replace("lines: {}", lines_yaml)
    (flows / "campaigns.yaml").write_text(text)
    return flows


def test_each_number_has_its_own_campaign_words(config, tmp_path):
    flows = lines_flows(tmp_path, 'lines:\n  "+18605550199": {campaigns: [SALUD]}')
    app = create_app({**config, "FLOWS_DIR": str(flows)})
    other = Conversation.start(app)
    clinic = Conversation.start(app)
    clinic_number = "+18605550199"
    from bot.cli import chat

    original = chat.LINE_NUMBER
    try:
        chat.LINE_NUMBER = clinic_number
        assert clinic.send("CARD7")[0].startswith("Hi. Free, private help")  # not this number's card
    finally:
        chat.LINE_NUMBER = original
    assert other.send("CARD7")[0].startswith("People you can reach any time")


def test_a_number_may_name_an_unknown_campaign_or_welcome_only_as_an_error(tmp_path):
    flows = lines_flows(tmp_path, 'lines:\n  "+18605550199": {welcome: welcome.nowhere}')
    with pytest.raises(FlowError, match=r"campaigns.yaml:\d+: line \+18605550199 welcomes with 'welcome.nowhere'"):
        load_flows(flows)
    flows = lines_flows(tmp_path / "b", 'lines:\n  "+18605550199": {campaigns: [NOPE]}')
    with pytest.raises(FlowError, match="unknown campaign"):
        load_flows(flows)


@pytest.mark.parametrize("word", ["HELP", "SOS", "STOP", "MENU"])
def test_a_campaign_word_cannot_take_over_a_command_or_a_danger_word(tmp_path, word):
    flows = lines_flows(tmp_path, "lines: {}")
    text = (flows / "campaigns.yaml").read_text().replace("CARD7:", f"{word}:")
    (flows / "campaigns.yaml").write_text(text)
    with pytest.raises(FlowError, match=f"campaign word '{word}' is already a command or a danger word"):
        load_flows(flows)


@pytest.mark.postgres
def test_workers_flushing_the_same_counts_at_once_on_postgresql_never_deadlock(postgres_url):
    """Two workers write the same rows in opposite orders at the same moment, many times over."""
    import datetime as dt
    import threading
    from collections import Counter

    from bot.directory.database import make_engine
    from bot.stats import DailyCount, TextAnswered, add_counts

    engine = make_engine(postgres_url)
    DailyCount.__table__.create(engine)
    events = [TextAnswered(dt.date(2026, 11, 30), f"card-{n}", "health", "en", "sms") for n in range(40)]
    failures: list[str] = []

    def flush(order: list[TextAnswered], start: threading.Barrier) -> None:
        for _ in range(15):
            start.wait()
            try:
                add_counts(engine, Counter({event: 1 for event in order}))
            except Exception as err:  # noqa: BLE001 - a deadlock is what this test looks for
                failures.append(type(err).__name__)

    start = threading.Barrier(2)
    threads = [threading.Thread(target=flush, args=(order, start)) for order in (events, events[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with engine.connect() as connection:
        total = sum(row.count for row in connection.execute(DailyCount.__table__.select()))
    engine.dispose()
    assert failures == [] and total == 2 * 15 * len(events)


def _random_rows(rng, days: int = 6) -> list[dict]:
    import datetime as dt

    rows = []
    for _ in range(rng.randint(1, 30)):
        rows.append({"day": str(dt.date(2026, 11, 1) + dt.timedelta(days=rng.randrange(days))),
                     "campaign": rng.choice(["", "safe-card", "card7", "luna"]),
                     "topic": rng.choice(["welcome", "health", "law", "out", "danger", "report"]),
                     "language": rng.choice(["en", "es"]), "channel": rng.choice(["sms", "whatsapp"]),
                     "count": rng.choice([1, 1, 2, 3, 4, 5, 6, 9, 20, 40])})
    return rows


CLOSED = {"language": {"en", "es"}, "channel": {"sms", "whatsapp"}}  # every value there can be


def _possible(field: str, totals) -> set[str]:
    """The values a reader knows there can be: the days of the window, the card words and topics seen,
    both languages and both channels (nothing unseen is counted on)."""
    return set(totals) | CLOSED.get(field, set())


def _same_display(rows: list[dict], field: str, value: str, other: str, step: int, shown) -> bool:
    """Whether moving `step` texts from `value` to `other` (or back, when negative) shows the same."""
    from bot.stats import breakdowns

    giver, taker = (value, other) if step > 0 else (other, value)
    source = next((r for r in rows if r[field] == giver), None)
    if source is None:
        return False
    moved = [dict(r) for r in rows]
    moved[rows.index(source)]["count"] -= 1
    moved.append({**source, field: taker, "count": 1})
    return breakdowns([r for r in moved if r["count"] > 0], lambda row: row["day"]) == shown


@pytest.mark.parametrize("seed", range(300))
def test_no_count_under_5_can_be_worked_out_from_what_is_shown(seed):
    """For every count under 5, in any breakdown, another table of counts shows exactly the same and
    differs in that count: one text moved to or from another value the reader knows there is."""
    import random
    from collections import Counter

    from bot.stats import BREAKDOWNS, breakdowns

    rng = random.Random(seed)
    rows = _random_rows(rng)
    shown = breakdowns(rows, lambda row: row["day"])
    dims = {"time": "day", **{name: name for name in BREAKDOWNS}}
    for name, field in dims.items():
        totals = Counter()
        for row in rows:
            totals[row[field]] += row["count"]
        for value, n in totals.items():
            if n >= 5:
                continue
            if not shown:  # under 5 texts in all: nothing at all is shown
                assert sum(totals.values()) < 5
                continue
            assert value not in shown[name].counts, (name, value)
            assert any(_same_display(rows, field, value, other, step, shown)
                       for other in _possible(field, totals) - {value} for step in (1, -1)), (name, value)
