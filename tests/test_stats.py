"""Campaign words, several numbers, WhatsApp, and the anonymous counts they feed: texts and
conversations, labelled from the flows, with no count under 5 shown anywhere."""

from __future__ import annotations

import itertools
import json
import logging
import re
import shutil
import time
from collections import Counter

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
HARTFORD, NEW_BRITAIN, NO_TEAM, UNLISTED = "+18605550100", "+18605550200", "+18605550300", "+18605550999"
TEAMS = f'''lines:
  "{HARTFORD}": {{team: {{name: "Hartford Outreach"}}}}
  "{NEW_BRITAIN}": {{team: {{name: "New Britain Outreach"}}}}
  "{NO_TEAM}": {{}}
'''


@pytest.fixture
def counted(config):
    return create_app({**config, "STATS_FLUSH_SECONDS": 0})


def stats_json(config, monkeypatch) -> dict:
    monkeypatch.setenv("DATABASE_URL", config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["stats", "--json", "--days", "3"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored(app) -> list[dict]:
    """The rows as written: what the line counted, before anything is hidden for people."""
    from bot.stats import rows

    line = app.extensions["helpline"]
    line.tally.flush()
    deadline = time.monotonic() + 5
    while line.upkeep._started_job is not None and time.monotonic() < deadline:  # a flush on the upkeep
        time.sleep(0.01)  # thread may hold counts it took before ours: let it write them
    return rows(line.directory.engine, 3, line.clock.today())


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
    assert {"day", "campaign", "topic", "language", "count", "conversations"} <= set(rows[0])
    by = {(r["campaign"], r["topic"], r["language"], r["channel"]): (r["count"], r["conversations"]) for r in rows}
    assert by[("motel-card-7", "hotlines", "en", "sms")] == (6, 3)  # three texters, two texts each
    assert by[("", "welcome", "es", "whatsapp")] == (1, 1)
    assert sum(n for n, _ in by.values()) == 7
    seen = stats_json(config, monkeypatch)  # 6 and 1: the 1 is added up with the 6, never shown
    assert seen["texts"] == 7 and seen["conversations"] is None  # 4 conversations: too few, even in all
    assert seen["breakdowns"]["language"] == [  # the total alone
        {"key": None, "label": "all together", "texts": 7, "conversations": None}]


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
    clinic.line = clinic_number  # the number texted, where Conversation keeps it
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
    """Counts as the line could have kept them: texts, and how many of those started a conversation."""
    import datetime as dt

    rows = []
    for _ in range(rng.randint(1, 30)):
        count = rng.choice([1, 1, 2, 3, 4, 5, 6, 9, 20, 40])
        rows.append({"day": str(dt.date(2026, 11, 1) + dt.timedelta(days=rng.randrange(days))),
                     "campaign": rng.choice(["", "safe-card", "motel-card-7", "clinic-poster-es"]),
                     "topic": rng.choice(["welcome", "health", "law", "out", "danger", "report", "fallback", "ask"]),
                     "language": rng.choice(["en", "es"]), "channel": rng.choice(["sms", "whatsapp"]),
                     "line": rng.choice(["", "", HARTFORD, NEW_BRITAIN]),
                     "count": count, "conversations": rng.choice([0, 0, rng.randint(0, count), count])})
    return rows


WINDOW = {f"2026-11-0{day}" for day in range(1, 7)}  # the days _random_rows counts on
CLOSED = {"language": {"en", "es"}, "channel": {"sms", "whatsapp"},  # every value there can be
          "line": {"", HARTFORD, NEW_BRITAIN}, "day": WINDOW}  # the numbers listed, and "" for any other
MEASURES = ("count", "conversations")


def _possible(field: str, totals) -> set[str]:
    """The values a reader knows there can be: the days of the window, the card words and topics seen,
    both languages, both channels and every line listed (nothing unseen is counted on)."""
    return set(totals) | CLOSED.get(field, set())


def _display(rows: list[dict]):
    from bot.stats import summarize

    summary = summarize([r for r in rows if r["count"] > 0], lambda row: row["day"])
    return summary.texts, summary.conversations, summary.breakdowns


def _moved(rows: list[dict], row: dict, field: str, to: str, conversation: bool) -> list[dict]:
    """The rows with one text (and the conversation it started, when `conversation`) moved from `row` to `to`."""
    moved = [dict(r) for r in rows]
    source = moved[rows.index(row)]
    source["count"] -= 1
    source["conversations"] -= conversation
    moved.append({**row, field: to, "count": 1, "conversations": int(conversation)})
    return moved


def _alternatives(rows: list[dict], field: str, value: str, others: set[str]):
    """Other tables of counts a reader could not tell apart from these by what is shown (the caller
    checks), each differing from them in what `value` counts: one conversation more or less (when
    none is shown at all); or one text moved between `value` and another value, with or without the
    conversation it started, or one conversation swapped for a text that started none (texts stay)."""
    for row in (r for r in rows if r[field] == value):
        for step in (-1, 1):
            if 0 <= row["conversations"] + step <= row["count"]:
                flipped = [dict(r) for r in rows]
                flipped[rows.index(row)]["conversations"] += step
                yield flipped
    for other in others:
        yield from _moves(rows, field, value, other)
        yield from _moves(rows, field, other, value)


def _moves(rows: list[dict], field: str, giver: str, taker: str):
    for row in (r for r in rows if r[field] == giver):
        if row["count"] > row["conversations"]:
            yield _moved(rows, row, field, taker, False)
        if row["conversations"] > 0:
            once = _moved(rows, row, field, taker, True)
            yield once
            back = next((r for r in once[:len(rows)] if r[field] == taker and r["count"] > r["conversations"]), None)
            if back is not None:
                yield _moved(once, back, field, giver, False)


def _relabelled(rows: list[dict], field: str, value: str, others: set[str]):
    """Where a breakdown shows only its totals (as when one measure would tell the other's hidden
    counts), tables made of the same texts, each keeping its other values and whether it started a
    conversation, with `field` given anew: one or two of them to `value`, all the others to one other value."""
    texts = [{**r, "count": 1, "conversations": int(k < r["conversations"])} for r in rows for k in range(r["count"])]
    started, plain = [t for t in texts if t["conversations"]], [t for t in texts if not t["conversations"]]
    for other in sorted(others):
        for n_started, n_plain in ((1, 0), (0, 1), (1, 1), (0, 2), (2, 0)):
            if n_started <= len(started) and n_plain <= len(plain):
                chosen = {id(t) for t in started[:n_started] + plain[:n_plain]}
                yield [{**t, field: value if id(t) in chosen else other} for t in texts]


@pytest.mark.parametrize("seed", range(200))
def test_no_count_under_5_can_be_worked_out_from_what_is_shown(seed):
    """For every count under 5 (texts or conversations), in any breakdown, another table of counts shows
    exactly the same and differs in that count: a text, a conversation or both moved to or from another
    value the reader knows there is, or (where a breakdown shows only totals) its texts relabelled."""
    import random
    from collections import Counter

    rng = random.Random(seed)
    rows = _random_rows(rng)
    shown = _display(rows)
    dims = {"time": "day", **{name: name for name in ("campaign", "topic", "language", "channel", "line")}}
    for measure in MEASURES:
        for name, field in dims.items():
            totals = Counter()
            for row in rows:
                totals[row[field]] += row[measure]
            for value, n in totals.items():
                if n == 0 or n >= 5:
                    continue
                breakdown = shown[2].get(name)
                if breakdown is None:  # under 5 texts in all: nothing at all is shown
                    assert sum(r["count"] for r in rows) < 5
                    continue
                counts = breakdown.texts if measure == "count" else breakdown.conversations
                assert counts is None or value not in counts.counts, (measure, name, value)

                def differs(other_rows, value=value, field=field, n=n, measure=measure) -> bool:
                    return sum(r[measure] for r in other_rows if r[field] == value) != n

                others = _possible(field, totals) - {value}
                alternatives = itertools.chain(_alternatives(rows, field, value, others),
                                               _relabelled(rows, field, value, others))
                assert any(differs(alt) and _display(alt) == shown for alt in alternatives), (measure, name, value)


def test_where_what_one_measure_shows_would_tell_the_others_hidden_count_both_are_shown_all_together():
    from bot.stats import summarize

    def channel(*rows: tuple[str, int, int]):
        shown = summarize([{"day": "2026-11-30", "campaign": "", "topic": "t", "language": "en", "channel": c,
                            "count": n, "conversations": k} for c, n, k in rows], lambda row: row["day"])
        b = shown.breakdowns["channel"]
        return b.texts.counts, b.texts.others, b.conversations.counts, b.conversations.others

    # 23 WhatsApp conversations shown, 24 texts in all, some channel under 5 texts: SMS, 1
    assert channel(("whatsapp", 23, 23), ("sms", 1, 0)) == ({}, 24, {}, 23)
    # 40 and 22 texts shown, 44 conversations: WhatsApp at least 4 and, one being under 5, exactly 4
    assert channel(("sms", 40, 40), ("whatsapp", 22, 4)) == ({}, 62, {}, 44)
    # 34 conversations: WhatsApp's 4 could be 3 (SMS 31) or 2: the texts are shown
    assert channel(("sms", 40, 30), ("whatsapp", 22, 4)) == ({"sms": 40, "whatsapp": 22}, 0, {}, 34)


# ---------------------------------------------------------------------------- conversations


@pytest.fixture
def clocked(config):
    """The line on a clock the test moves."""
    from bot.clock import FakeClock

    app = create_app({**config, "CLOCK": FakeClock(1_800_000_000.0)})
    app.extensions["helpline"].tally.flush_seconds = float("inf")  # written only when the test says
    return app


def totals(app) -> tuple[int, int]:
    """Texts and conversations counted in all, as written."""
    kept = stored(app)
    return sum(r["count"] for r in kept), sum(r["conversations"] for r in kept)


def test_a_conversation_is_counted_once_however_many_texts_it_has(clocked):
    texter = Conversation.start(clocked, sender="+18605550140")
    for text in ("hi", "1", "2", "back", "0"):
        texter.send(text)
    assert totals(clocked) == (5, 1)


def test_a_new_conversation_after_30_minutes_of_silence_is_counted_again(clocked):
    texter = Conversation.start(clocked, sender="+18605550141")
    texter.send("hi")
    clocked.config["CLOCK"].advance(29 * 60)
    texter.send("1")  # 29 minutes on: the same conversation
    assert totals(clocked) == (2, 1)
    clocked.config["CLOCK"].advance(31 * 60)
    texter.send("hi")  # the cookie is still sent, but its state has expired: a new conversation
    assert totals(clocked) == (3, 2)


def test_a_stop_starts_no_conversation_and_nothing_after_it_is_the_same_one(clocked):
    Conversation.start(clocked, sender="+18605550142").send("STOP")  # a first text that is STOP
    assert totals(clocked) == (1, 0)
    texter = Conversation.start(clocked, sender="+18605550143")
    texter.send("hi")
    texter.send("STOP")  # ends the conversation (nothing kept): not a new one
    assert totals(clocked) == (3, 1)
    texter.send("hi")  # after STOP, a text that starts again is a new conversation
    assert totals(clocked) == (4, 2)


def test_a_card_word_starts_one_conversation_under_its_campaign(clocked):
    texter = Conversation.start(clocked, sender="+18605550144")
    texter.send("CARD7")
    texter.send("1")
    by = {r["campaign"]: (r["count"], r["conversations"]) for r in stored(clocked)}
    assert by == {"motel-card-7": (2, 1)}


def test_a_state_from_another_conversation_that_names_a_page_now_gone_starts_a_new_one():
    """`fresh` decides: the state the engine would not take is no conversation to continue."""
    import datetime as dt

    from bot.engine.conversation import Reply, State
    from bot.web.webhook import _event

    reply = Reply("welcome", "en", "Hi", (), "")
    after = State("welcome", "en", 30_000_000)
    day = dt.date(2026, 11, 30)
    assert _event(after, (reply,), day, "sms", None).starts
    assert not _event(after, (reply,), day, "sms", State("welcome", "en", 29_999_999)).starts
    assert not _event(None, (), day, "sms", None).starts  # STOP: nothing kept after it


# ---------------------------------------------------------------------------- labels


def test_labels_are_the_flows_own_words():
    from types import SimpleNamespace

    from bot import ROOT
    from bot.engine.campaigns import Campaign
    from bot.stats import Labels

    labels = Labels.of(load_flows(ROOT / "flows"))
    assert [labels.label("campaign", c) for c in ("motel-card-7", "safe-card", "safe-card-es", "", "gone-card")] == [
        "CARD7", "SAFE", "SEGURA", "no card word", "gone-card"]
    assert [labels.label("topic", t) for t in ("out", "hotlines", "ask", "fallback", "optout", "welcome")] == [
        "Getting out", "Call someone 24/7", "which one? question", "not understood", "opted out (STOP)", "main menu"]
    assert [labels.label("language", c) for c in ("en", "es", "pt", "")] == ["English", "Spanish", "pt", "not known"]
    assert [labels.label("channel", c) for c in ("sms", "whatsapp")] == ["SMS", "WhatsApp"]
    assert labels.label("topic", None) == "all together" and labels.label("time", "2026-11-30") == "2026-11-30"
    one_tag = SimpleNamespace(campaigns={"safe": Campaign("SAFE", "welcome", "en", "safe"),
                                         "segura": Campaign("SEGURA", "welcome", "es", "safe")},
                              nodes={}, titles={}, languages=("en", "es"), lines={})
    assert Labels.of(one_tag).label("campaign", "safe") == "SAFE / SEGURA"
    assert Labels.of(None).label("campaign", "motel-card-7") == "motel-card-7"  # no flows: the codes


# ---------------------------------------------------------------------------- lines


def test_each_listed_number_is_counted_under_its_own_line_and_any_other_number_as_other(config, tmp_path,
                                                                                        monkeypatch):
    flows = lines_flows(tmp_path, TEAMS)
    app = create_app({**config, "FLOWS_DIR": str(flows), "STATS_FLUSH_SECONDS": 0})
    texts = {HARTFORD: ("hi",), NEW_BRITAIN: ("hi", "1"), NO_TEAM: ("hi",), UNLISTED: ("hi",), "": ("hi",)}
    for n, (number, said) in enumerate(texts.items()):
        for k in range(5):
            texter = Conversation.start(app, sender=f"+186055502{n}{k}", line=number)
            for text in said:
                texter.send(text)
    by = Counter()
    for row in stored(app):
        by[row["line"]] += row["count"]
    assert by == {HARTFORD: 5, NEW_BRITAIN: 10, NO_TEAM: 5, "": 10}  # unlisted and no To: one row, ""
    monkeypatch.setenv("HELPLINE_FLOWS_DIR", str(flows))
    lines = {line["label"]: (line["key"], line["texts"], line["conversations"])
             for line in stats_json(config, monkeypatch)["breakdowns"]["line"]}
    assert lines == {"Hartford Outreach (+18605550100)": (HARTFORD, 5, 5), "other numbers": ("", 10, 10),
                     "New Britain Outreach (+18605550200)": (NEW_BRITAIN, 10, 5), NO_TEAM: (NO_TEAM, 5, 5)}
    assert UNLISTED[1:] not in json.dumps(stats_json(config, monkeypatch))  # a number not listed is never kept


def test_only_a_listed_number_is_kept_and_a_whatsapp_number_as_its_number():
    from bot.stats import counted_line

    listed = {HARTFORD: None, f"whatsapp:{NEW_BRITAIN}": None, "+1860555010012345678901": None}
    assert [counted_line(to, listed) for to in (HARTFORD, f"whatsapp:{NEW_BRITAIN}", NEW_BRITAIN, UNLISTED, "",
                                                "+1860555010012345678901", f"whatsapp:{HARTFORD}")] == [
        HARTFORD, NEW_BRITAIN, "", "", "", "", ""]  # too long for the column: never kept


def test_lines_are_labelled_by_their_teams_name_else_their_number(tmp_path):
    from bot.stats import Labels

    whatsapp = TEAMS.replace(f'"{NEW_BRITAIN}"', f'"whatsapp:{NEW_BRITAIN}"')  # counted as its number
    labels = Labels.of(load_flows(lines_flows(tmp_path, whatsapp)))
    assert [labels.label("line", key) for key in (HARTFORD, NEW_BRITAIN, NO_TEAM, UNLISTED, "", None)] == [
        "Hartford Outreach (+18605550100)", "New Britain Outreach (+18605550200)", NO_TEAM, UNLISTED,
        "other numbers", "all together"]
    assert Labels.of(load_flows(ROOT / "flows")).label("line", HARTFORD) == HARTFORD  # no lines listed


def test_stats_by_line_in_the_table_and_csv_with_the_teams_names(some_counts, monkeypatch, tmp_path):
    import csv
    import io

    monkeypatch.setenv("HELPLINE_FLOWS_DIR", str(lines_flows(tmp_path, TEAMS)))
    table = run_stats(some_counts, monkeypatch)
    assert re.search(r"^by line +texts +conversations$", table, re.MULTILINE)
    below = table.split("by line")[1].splitlines()[1:]
    rows = {line.strip().rsplit(None, 2)[0]: line.split()[-2:] for line in below if line.startswith("  ")}
    assert rows == {"Hartford Outreach (+18605550100)": ["43", "–"], "other numbers": ["43", "–"],
                    "New Britain Outreach (+18605550200)": ["11", "–"], "all together": ["–", "32"]}  # NB: 2
    lines = [row for row in csv.reader(io.StringIO(run_stats(some_counts, monkeypatch, "--csv"))) if row[0] == "line"]
    assert lines == [["line", "other numbers", "43", ""], ["line", "Hartford Outreach (+18605550100)", "43", ""],
                     ["line", "New Britain Outreach (+18605550200)", "11", ""], ["line", "all together", "", "32"]]


# ---------------------------------------------------------------------------- what people see

DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def numbers(text: str) -> list[int]:
    """Every number written in an output (a date is not a number; "24/7" is two)."""
    return [int(n) for n in re.findall(r"\d+", DATE.sub(" ", text))]


def invented(app_or_engine, day, *counts: tuple[str, str, str, str, int, int, str]) -> None:
    """Counts written as the line writes them: (campaign, topic, language, channel, texts, conversations, line)."""
    from collections import Counter

    from bot.stats import TextAnswered, add_counts

    events = Counter()
    for campaign, topic, language, channel, texts, conversations, line in counts:
        events[TextAnswered(day, campaign, topic, language, channel, line=line)] += texts - conversations
        events[TextAnswered(day, campaign, topic, language, channel, starts=True, line=line)] += conversations
    add_counts(app_or_engine, +events)


SOME = (("motel-card-7", "hotlines", "en", "sms", 40, 12, HARTFORD), ("", "welcome", "en", "sms", 25, 10, ""),
        ("safe-card", "out", "en", "whatsapp", 3, 2, HARTFORD), ("safe-card", "out", "en", "sms", 6, 1, NEW_BRITAIN),
        ("safe-card-es", "out", "es", "sms", 12, 0, ""), ("", "fallback", "es", "sms", 5, 1, NEW_BRITAIN),
        ("clinic-poster-es", "health", "es", "sms", 6, 6, ""))  # 97 texts, 32 conversations
# by line: Hartford 43 texts (14 conversations), New Britain 11 (2), other numbers 43 (16)


def run_stats(config, monkeypatch, *args: str):
    monkeypatch.setenv("DATABASE_URL", config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["stats", "--days", "30", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def some_counts(config):
    import datetime as dt

    from bot.clock import Clock
    from bot.directory.database import make_engine, migrate

    engine = make_engine(config["DATABASE_URL"])
    migrate(engine)
    invented(engine, Clock.from_env().today() - dt.timedelta(days=1), *SOME)
    engine.dispose()
    return config


def test_the_stats_table_is_labelled_and_counts_conversations(some_counts, monkeypatch):
    table = run_stats(some_counts, monkeypatch)
    assert table.startswith("97 texts and 32 conversations in the last 30 days")
    for label in ("CARD7", "SAFE", "SEGURA", "SALUD", "no card word", "Call someone 24/7", "Getting out",
                  "main menu", "not understood", "English", "Spanish", "all together"):
        assert label in table, label
    for code in ("motel-card-7", "safe-card", "(none)", "hotlines", "fallback", "ways out", " en ", " es "):
        assert code not in table, code
    lines = {line.strip().rsplit(None, 2)[0]: line.split()[-2:] for line in table.splitlines() if line.startswith("  ")}
    assert lines["CARD7"] == ["40", "–"]  # SAFE had 3 conversations: card words' conversations all together only
    assert lines["English"] == ["74", "25"] and lines["Spanish"] == ["23", "7"]
    assert "HELPLINE_STATS_FLUSH_SECONDS" in table  # why the newest texts are not there yet


def test_stats_json_has_the_same_labels_and_lines(some_counts, monkeypatch):
    seen = json.loads(run_stats(some_counts, monkeypatch, "--json"))
    assert (seen["texts"], seen["conversations"]) == (97, 32)
    campaigns = {line["label"]: (line["texts"], line["conversations"]) for line in seen["breakdowns"]["campaign"]}
    assert campaigns == {"CARD7": (40, None), "no card word": (30, None), "SEGURA": (12, None), "SAFE": (9, None),
                         "SALUD": (6, None), "all together": (None, 32)}  # SAFE: 3 conversations
    assert seen["breakdowns"]["channel"] == [  # WhatsApp: 3 texts, 2 conversations
        {"key": None, "label": "all together", "texts": 97, "conversations": 32}]
    assert seen["breakdowns"]["language"] == [
        {"key": "en", "label": "English", "texts": 74, "conversations": 25},
        {"key": "es", "label": "Spanish", "texts": 23, "conversations": 7}]
    assert [line["label"] for line in seen["breakdowns"]["topic"]] == [
        "Call someone 24/7", "main menu", "Getting out", "Health", "not understood", "all together"]


def test_stats_csv_is_a_spreadsheet_of_the_same_lines(some_counts, monkeypatch):
    import csv
    import io

    text = run_stats(some_counts, monkeypatch, "--csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["breakdown", "label", "texts", "conversations"]
    assert rows[1] == ["total", "all together", "97", "32"]
    assert all(len(row) == 4 for row in rows)
    assert ["card word", "CARD7", "40", ""] in rows and ["card word", "all together", "", "32"] in rows
    assert ["topic", "Call someone 24/7", "40", ""] in rows and ["language", "Spanish", "23", "7"] in rows
    assert [row for row in rows if row[0] == "channel"] == [["channel", "all together", "97", "32"]]
    for what in ("day", "card word", "topic", "language", "channel", "line"):  # each adds up to its total
        lines = [row for row in rows if row[0] == what]
        assert lines, what
        assert sum(int(row[2] or 0) for row in lines) == 97 and sum(int(row[3] or 0) for row in lines) == 32, what


def test_a_label_a_spreadsheet_would_run_is_escaped():
    import csv
    import io

    from bot.stats import Labels, as_csv, summarize

    rows = [{"day": "2026-11-30", "campaign": "x", "topic": "t", "language": "en", "channel": "sms",
             "count": 9, "conversations": 5}]
    text = as_csv(summarize(rows, lambda row: row["day"]), Labels({"x": "=HYPERLINK(1)"}, {"t": "+cmd"}))
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'=HYPERLINK(1)" in cells and "'+cmd" in cells and "=HYPERLINK(1)" not in cells


def test_no_number_under_5_in_any_stats_output(some_counts, monkeypatch):
    """Every number the table, --json and --csv write (dates aside) is 5 or more: SOME has a channel
    of 3 texts, and conversations of 0, 1, 2 and 3 (a line of 2)."""
    for args in ((), ("--json",), ("--csv",)):
        out = run_stats(some_counts, monkeypatch, *args)
        assert numbers(out) and min(numbers(out)) >= 5, (args, sorted(set(numbers(out))))


@pytest.mark.parametrize("seed", range(60))
def test_no_number_under_5_in_any_output_of_any_counts(seed):
    """The same over random counts, with the flows' labels: table, JSON and CSV."""
    import dataclasses
    import random

    from bot.stats import Labels, as_csv, as_json, as_table, summarize

    rows = _random_rows(random.Random(seed))
    labels = dataclasses.replace(Labels.of(load_flows(ROOT / "flows")), teams={HARTFORD: "Hartford Outreach"})
    summary = summarize(rows, lambda row: row["day"])
    for out in (as_table(summary, labels, 30), json.dumps(as_json(summary, labels, 30)), as_csv(summary, labels)):
        assert all(n >= 5 for n in numbers(out)), (out, sorted(set(numbers(out))))


def test_stats_without_readable_flows_still_shows_the_counts_by_their_codes(some_counts, monkeypatch, tmp_path):
    monkeypatch.setenv("HELPLINE_FLOWS_DIR", str(tmp_path / "no-flows"))
    monkeypatch.setenv("DATABASE_URL", some_counts["DATABASE_URL"])
    result = CliRunner().invoke(main, ["stats", "--days", "30"])
    assert result.exit_code == 0 and "warning: the flows cannot be read" in result.stderr
    assert "motel-card-7" in result.stdout and "English" in result.stdout


def test_stats_is_json_or_csv_not_both(some_counts, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", some_counts["DATABASE_URL"])
    result = CliRunner().invoke(main, ["stats", "--json", "--csv"])
    assert result.exit_code == 1 and "--json or --csv, not both" in result.output
