"""The /admin dashboard: password or nothing, anonymous counts (texts and conversations, labelled from the
flows) with small ones hidden, the directory's checks."""

from __future__ import annotations

import base64
import datetime as dt
import html
import random
import re
from collections import Counter, defaultdict
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy import create_engine

from bot.app import create_app
from bot.cli.chat import SMS_URL, Conversation, inbound_form
from bot.clock import FakeClock
from bot.stats import TextAnswered, add_counts
from bot.web import admin
from bot.web.twilio import sign

PASSWORD = "correct horse battery staple"
HARTFORD, NEW_BRITAIN = "+18605550100", "+18605550200"


def flows_with_teams(tmp_path):
    """The flows with two numbers listed, each with its team."""
    import shutil

    from bot import ROOT

    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder)
    campaigns = folder / "campaigns.yaml"
    campaigns.write_text(campaigns.read_text(encoding="utf-8").replace("lines: {}\n", (
        f'lines:\n  "{HARTFORD}": {{team: {{name: "Hartford Outreach"}}}}\n'
        f'  "{NEW_BRITAIN}": {{team: {{name: "New Britain Outreach"}}}}\n')), encoding="utf-8")
    return folder


def dashboard_app(config: dict, **extra) -> Flask:
    """The line, with the dashboard on when extra names an ADMIN_PASSWORD."""
    return create_app({**config, "STATS_FLUSH_SECONDS": 3600, **extra})  # counts wait in memory


@pytest.fixture
def dashboard(config) -> Flask:
    """The dashboard on a fake clock, half a minute into a minute: lockout windows the test chooses."""
    return dashboard_app(config, ADMIN_PASSWORD=PASSWORD, CLOCK=FakeClock(1_800_000_030.0))


def basic(password: str, user: str = "anyone") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def page(app: Flask) -> str:
    response = app.test_client().get("/admin", headers=basic(PASSWORD))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def today(app: Flask) -> dt.date:
    return app.config["CLOCK"].today()


def counted(app: Flask, *events: tuple[TextAnswered, int]) -> None:
    """Counts as the line would have written them on earlier days."""
    add_counts(app.extensions["helpline"].directory.engine, Counter(dict(events)))


class Page(HTMLParser):
    """What a person reads on the page: tables by id (first cell -> the rest), chart texts and bars by chart id."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, dict[str, list[str]]] = {}
        self.row_classes: dict[str, dict[str, str]] = defaultdict(dict)
        self.texts: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.bars: dict[str, list[dict]] = defaultdict(list)
        self._table = self._chart = self._text = None
        self._row: list[str] | None = None
        self._row_class = ""
        self._cell: list[str] | None = None
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id", "")
            self.tables[self._table] = {}
        elif tag == "tr" and self._table is not None:
            self._row, self._row_class = [], a.get("class", "")
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "svg":
            self._chart = a.get("id", "")
        elif tag == "rect" and self._chart and a.get("class"):
            self.bars[self._chart].append(a)
        elif tag == "text" and self._chart:
            self._text = (a.get("class", ""), [])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row:
            self.tables[self._table][self._row[0]] = self._row[1:]
            self.row_classes[self._table][self._row[0]] = self._row_class
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "svg":
            self._chart = None
        elif tag == "text" and self._text is not None:
            self.texts[self._chart].append((self._text[0], "".join(self._text[1])))
            self._text = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._text is not None:
            self._text[1].append(data)

    def values(self, chart: str) -> list[str]:
        """The counts written on a chart's bars."""
        return [text for kind, text in self.texts[chart] if kind == "value"]


def test_without_an_admin_password_the_dashboard_does_not_exist(config):
    for app in (dashboard_app(config), dashboard_app(config, ADMIN_PASSWORD="")):
        client = app.test_client()
        assert client.get("/admin").status_code == 404
        assert client.get("/admin", headers=basic("")).status_code == 404


@pytest.mark.parametrize("headers", [
    {},
    basic("wrong"),
    basic(PASSWORD.upper()),
    basic(""),
    {"Authorization": "Bearer " + PASSWORD},
    {"Authorization": "Basic not-base64!"},
])
def test_a_missing_or_wrong_password_gets_401_and_a_basic_challenge(dashboard, headers):
    response = dashboard.test_client().get("/admin", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="helpline admin", charset="UTF-8"'
    assert "Texts" not in response.get_data(as_text=True)


def test_any_user_name_with_the_password_opens_the_dashboard(dashboard, config):
    for user in ("admin", "", "outreach worker"):
        response = dashboard.test_client().get("/admin", headers=basic(PASSWORD, user))
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        assert "Help line dashboard" in response.get_data(as_text=True)
    accented = dashboard_app(config, ADMIN_PASSWORD="contraseña segura")
    assert accented.test_client().get("/admin", headers=basic("contraseña segura")).status_code == 200
    assert accented.test_client().get("/admin", headers=basic("contrasena segura")).status_code == 401


def test_ten_wrong_passwords_lock_the_address_out_for_a_while(dashboard):
    client = dashboard.test_client()
    for _ in range(10):
        assert client.get("/admin", headers=basic("guess")).status_code == 401
    locked = client.get("/admin", headers=basic(PASSWORD))
    assert locked.status_code == 429, "the right password must not be confirmed while guessing is locked out"
    assert locked.headers["Retry-After"] == "60"
    dashboard.config["CLOCK"].advance(90)  # past the minute of the lockout
    assert client.get("/admin", headers=basic(PASSWORD)).status_code == 200


def test_every_admin_response_carries_the_security_headers(dashboard):
    client = dashboard.test_client()
    for response in (client.get("/admin"), client.get("/admin", headers=basic(PASSWORD))):
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert "camera=()" in response.headers["Permissions-Policy"]
        assert "geolocation=()" in response.headers["Permissions-Policy"]


def test_the_page_loads_nothing_from_anywhere(dashboard):
    markup = page(dashboard)
    for needle in ("<script", "<link rel=\"stylesheet\"", "@import", "@font-face", "http://", "https://", "//cdn"):
        assert needle not in markup.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_the_dashboard_shows_campaigns_topics_languages_and_never_a_small_count(dashboard):
    day = today(dashboard)
    counted(dashboard, (TextAnswered(day, "motel-card-7", "hotlines", "en", "sms"), 40),
            (TextAnswered(day, "safe-card", "health", "en", "sms"), 9),
            (TextAnswered(day, "safe-card", "law", "es", "whatsapp"), 1),
            (TextAnswered(day, "", "welcome", "es", "sms"), 3))
    seen = Page(page(dashboard))
    head = ["texts", "conversations"]  # no conversation counted: none shown, not even a total of 0
    assert seen.tables["table-campaigns"] == {"card word": head, "all together": ["53", "–"]}
    assert seen.tables["table-topics"] == {"topic": head, "all together": ["53", "–"]}
    assert seen.tables["table-languages"] == {"language": head, "all together": ["53", "–"]}
    assert seen.tables["table-channels"] == {"channel": head, "all together": ["53", "–"]}
    assert seen.tables["table-lines"] == {"line": head, "other numbers": ["53", "–"]}  # no number listed
    for chart in ("chart-campaigns", "chart-topics", "chart-languages", "chart-channels", "chart-lines",
                  "chart-weekly"):
        assert not any(v in ("1", "3", "4", "<5") for v in seen.values(chart)), chart


def test_a_breakdown_without_small_counts_shows_every_count_to_scale(dashboard):
    day = today(dashboard)
    counted(dashboard, (TextAnswered(day, "", "hotlines", "en", "sms"), 40),
            (TextAnswered(day, "", "health", "en", "sms"), 5),
            (TextAnswered(day, "", "law", "en", "sms"), 10))
    seen = Page(page(dashboard))
    assert seen.tables["table-topics"] == {"topic": ["texts", "conversations"], "Call someone 24/7": ["40", "–"],
                                           "The law": ["10", "–"], "Health": ["5", "–"]}
    widths = [float(bar["width"]) for bar in seen.bars["chart-topics"]]
    assert widths[0] == 8 * widths[2] and not any("small" in bar["class"] for bar in seen.bars["chart-topics"])


def test_texts_are_counted_per_week_and_old_days_are_left_out(dashboard):
    day = today(dashboard)
    monday = day - dt.timedelta(days=day.weekday())
    counted(dashboard, (TextAnswered(monday - dt.timedelta(days=1), "safe-card", "welcome", "en", "sms"), 3),
            (TextAnswered(monday - dt.timedelta(days=7), "safe-card", "welcome", "en", "sms"), 4),  # same week
            (TextAnswered(monday, "safe-card", "health", "es", "sms"), 9),
            (TextAnswered(monday - dt.timedelta(weeks=2), "safe-card", "law", "es", "sms"), 2),
            (TextAnswered(monday - dt.timedelta(weeks=3), "safe-card", "law", "es", "sms"), 6),
            (TextAnswered(monday - dt.timedelta(weeks=admin.WEEKS), "old-card", "law", "en", "sms"), 50))
    weekly = Page(page(dashboard)).tables["table-weekly"]
    assert weekly["all weeks together"] == ["24", "–"]  # 3 + 4 + 9 + 2 + 6: a week of 2, so no week alone
    assert set(weekly[f"week of {monday:%b} {monday.day}"]) == {"–"}
    assert "old-card" not in str(Page(page(dashboard)).tables["table-campaigns"])
    counted(dashboard, (TextAnswered(monday - dt.timedelta(weeks=2), "safe-card", "law", "es", "sms"), 3))
    weekly = Page(page(dashboard)).tables["table-weekly"]  # now every week with texts has 5 or more
    last = monday - dt.timedelta(weeks=1)
    assert weekly[f"week of {monday:%b} {monday.day}"] == ["9", "–"]
    assert weekly[f"week of {last:%b} {last.day}"] == ["7", "–"]


def conversations(app: Flask, day: dt.date, *counts: tuple[str, str, str, str, int, int]) -> None:
    """Counts with conversations: (campaign, topic, language, channel, texts, conversations started)."""
    events = Counter()
    for campaign, topic, language, channel, texts, started in counts:
        events[TextAnswered(day, campaign, topic, language, channel)] += texts - started
        events[TextAnswered(day, campaign, topic, language, channel, starts=True)] += started
    counted(app, *(+events).items())


def test_the_dashboard_labels_every_value_with_the_flows_words(dashboard):
    conversations(dashboard, today(dashboard), ("motel-card-7", "hotlines", "en", "sms", 20, 8),
                  ("", "fallback", "en", "whatsapp", 10, 5), ("safe-card-es", "out", "es", "sms", 6, 6),
                  ("", "ask", "es", "whatsapp", 5, 0))
    seen = Page(page(dashboard))
    assert list(seen.tables["table-campaigns"])[1:] == ["CARD7", "no card word", "SEGURA"]
    assert list(seen.tables["table-topics"])[1:] == ["Call someone 24/7", "not understood", "Getting out",
                                                    "which one? question"]
    assert list(seen.tables["table-languages"])[1:] == ["English", "Spanish"]
    assert list(seen.tables["table-channels"])[1:] == ["SMS", "WhatsApp"]
    labels = [text for kind, text in seen.texts["chart-topics"] if kind == "label"]
    assert labels == ["Call someone 24/7", "not understood", "Getting out", "which one? question"]
    assert seen.tables["table-campaigns"]["CARD7"] == ["20", "8"]  # every count 5 or more: each shown
    assert seen.tables["table-topics"]["which one? question"] == ["5", "–"]  # none
    assert [bar["class"] for bar in seen.bars["chart-channels"]] == ["bar", "bar conv", "bar", "bar conv"]
    markup = html.unescape(page(dashboard))
    for code in ("motel-card-7", "safe-card-es", "(none)", "ways out", ">out<", ">en<", "whatsapp<"):
        assert code not in markup, code


def test_conversations_are_shown_beside_the_texts_each_protected_on_its_own(dashboard):
    conversations(dashboard, today(dashboard), ("motel-card-7", "hotlines", "en", "sms", 30, 9),
                  ("", "health", "en", "sms", 12, 6), ("", "law", "es", "sms", 8, 2))
    seen = Page(page(dashboard))
    assert seen.tables["table-languages"] == {"language": ["texts", "conversations"], "English": ["42", "–"],
                                              "Spanish": ["8", "–"], "all together": ["–", "17"]}  # es: 2
    assert seen.tables["table-topics"] == {"topic": ["texts", "conversations"], "Call someone 24/7": ["30", "–"],
                                           "Health": ["12", "–"], "The law": ["8", "–"], "all together": ["–", "17"]}
    kinds = [bar["class"] for bar in seen.bars["chart-topics"]]
    assert kinds == ["bar", "bar", "bar", "bar conv small"]  # texts one by one; conversations only all together
    assert re.search(r"<b>50</b>texts.*?<b>17</b>conversations", page(dashboard), re.DOTALL)


def test_the_dashboard_counts_each_number_under_its_teams_name(config, tmp_path):
    app = dashboard_app(config, ADMIN_PASSWORD=PASSWORD, FLOWS_DIR=str(flows_with_teams(tmp_path)))
    app.extensions["helpline"].tally.flush_seconds = float("inf")  # written when the page is read
    for n in range(6):  # texts through the webhook, to each team's number and to one not listed
        for number in (HARTFORD, NEW_BRITAIN, "+18605550999"):
            Conversation.start(app, sender=f"+1860555730{n}", line=number).send("hi")
    conversations(app, today(app) - dt.timedelta(days=1), ("", "welcome", "en", "sms", 20, 5))  # before: line ""
    seen = Page(page(app))
    assert seen.tables["table-lines"] == {"line": ["texts", "conversations"], "other numbers": ["26", "11"],
                                          "Hartford Outreach (+18605550100)": ["6", "6"],
                                          "New Britain Outreach (+18605550200)": ["6", "6"]}
    labels = [text for kind, text in seen.texts["chart-lines"] if kind == "label"]
    assert labels == ["other numbers", "Hartford Outreach", "New Britain Outreach"]  # the bars: the teams' names
    assert "8605550999" not in page(app)  # a number not listed is never kept, so never shown


MONTH_DAY = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}\b")


def numbers_read(markup: str) -> list[int]:
    """Every number a person can read in the counts section (a week's date aside): text, tables, charts."""
    section = re.search(r'<section id="counts">(.*?)</section>', markup, re.DOTALL).group(1)
    text = html.unescape(re.sub(r"<[^>]+>", " ", section))
    return [int(n) for n in re.findall(r"\d+", MONTH_DAY.sub(" ", text))]


@pytest.mark.parametrize("seed", range(25))
def test_no_number_under_5_anywhere_on_the_dashboard(config, seed, tmp_path):
    """Random counts over the twelve weeks, small ones among them: nothing under 5 is written."""
    rng = random.Random(seed)
    app = dashboard_app(config, ADMIN_PASSWORD=PASSWORD, CLOCK=FakeClock(1_800_000_030.0),
                        FLOWS_DIR=str(flows_with_teams(tmp_path)))
    events = Counter()
    for _ in range(rng.randint(1, 40)):
        day = today(app) - dt.timedelta(days=rng.randrange(admin.WEEKS * 7 - 7))
        event = TextAnswered(day, rng.choice(["", "safe-card", "motel-card-7", "clinic-poster-es"]),
                             rng.choice(["welcome", "hotlines", "health", "out", "fallback", "ask", "optout"]),
                             rng.choice(["en", "es"]), rng.choice(["sms", "whatsapp"]), rng.random() < 0.4,
                             rng.choice(["", HARTFORD, NEW_BRITAIN]))
        events[event] += rng.choice([1, 1, 2, 3, 4, 5, 6, 9, 20])
    counted(app, *events.items())
    found = numbers_read(page(app).replace(HARTFORD[1:], " ").replace(NEW_BRITAIN[1:], " "))  # labels, not counts
    assert found and min(found) >= 5, sorted(set(found))


def test_fewer_than_5_texts_in_all_show_nothing_but_that(dashboard):
    counted(dashboard, (TextAnswered(today(dashboard), "", "hotlines", "en", "sms"), 3))
    markup = page(dashboard)
    assert "Fewer than 5 texts in the last 12 weeks: too few to show." in markup
    assert 'id="chart-topics"' not in markup


def test_nothing_personal_appears_on_the_dashboard(dashboard):
    form = {**inbound_form("+18605557319", "MARKBODY"), "ProfileName": "MARKNAME", "FromCity": "MARKCITY"}
    client = dashboard.test_client()
    response = client.post("/sms", data=form, headers={"X-Twilio-Signature": sign(
        dashboard.config["TWILIO_AUTH_TOKEN"], SMS_URL, form)})
    assert response.status_code == 200
    response.close()
    Conversation.start(dashboard, sender="+18605557319").send("CARD7")
    counted(dashboard, (TextAnswered(today(dashboard), "", "hotlines", "en", "sms"), 20))  # enough to show
    markup = html.unescape(page(dashboard))
    assert "Texts and conversations per week" in markup
    for value in ("MARKBODY", "MARKNAME", "MARKCITY", "8605557319", "555-7319", form["MessageSid"]):
        assert value not in markup


@pytest.mark.parametrize("break_it", [
    lambda line: setattr(line.directory, "engine", None),
    lambda line: setattr(line.directory, "engine", create_engine("sqlite:////nonexistent-dir/helpline.db")),
], ids=["no engine", "engine that cannot connect"])
def test_with_the_database_down_the_page_says_so_and_still_shows_the_directory(dashboard, break_it):
    Conversation.start(dashboard).send("CARD7")
    break_it(dashboard.extensions["helpline"])
    markup = html.unescape(page(dashboard))
    assert "Counts unavailable: database unreachable." in markup
    assert 'id="chart-weekly"' not in markup
    assert 'id="chart-ages"' in markup and "Emergency" in markup


def test_no_texts_yet_is_said_plainly(dashboard):
    assert "No texts counted in the last 12 weeks." in page(dashboard)


def test_the_directory_lists_services_by_age_and_highlights_stale_ones(dashboard):
    seen = Page(page(dashboard))
    services = admin.services_of(dashboard.extensions["helpline"].directory.snapshot)
    ages = seen.tables["table-ages"]
    assert len(ages) == 1 + len(services) and "Emergency" in ages

    day = today(dashboard)
    old = SimpleNamespace(id="a", label={"en": "Old clinic", "es": "Clínica"}, name="Old Clinic Inc",
                          assured_date=day - dt.timedelta(days=400))
    fresh = SimpleNamespace(id="b", label={"en": "New line", "es": "Línea"}, name="New Line",
                            assured_date=day - dt.timedelta(days=30))
    edge = SimpleNamespace(id="c", label={"en": "Edge line", "es": "Línea"}, name="Edge",
                           assured_date=day - dt.timedelta(days=admin.STALE_DAYS))
    never = SimpleNamespace(id="d", label={"en": "Unchecked", "es": "Sin"}, name="Unchecked", assured_date=None)
    utc = SimpleNamespace(id="e", label={"en": "Stamped in UTC"}, name="UTC", assured_date=day + dt.timedelta(days=1))
    typo = SimpleNamespace(id="f", label={"en": "Typo"}, name="Typo", assured_date=day + dt.timedelta(days=300))
    dashboard.extensions["helpline"].directory.snapshot = SimpleNamespace(
        services=(fresh, old, never, edge, utc, typo), source="database")
    seen = Page(page(dashboard))
    ages = seen.tables["table-ages"]
    # oldest check first, never confirmed before all
    assert list(ages)[1:] == ["Unchecked", "Old clinic", "Edge line", "New line", "Stamped in UTC", "Typo"]
    assert ages["Old clinic"][2:] == ["400", f"older than {admin.STALE_DAYS} days"]
    assert ages["Edge line"][-1] == ages["New line"][-1] == ages["Stamped in UTC"][-1] == "ok"
    assert ages["Unchecked"][-1] == "never confirmed"
    assert ages["Typo"][-1] == "date in the future"
    highlighted = {name for name, kind in seen.row_classes["table-ages"].items() if kind == "stale"}
    assert highlighted == {"Old clinic", "Unchecked", "Typo"}
    kinds = [bar["class"] for bar in seen.bars["chart-ages"] if bar["class"].startswith("age")]
    assert kinds == ["age never", "age stale", "age", "age", "age", "age stale"]
    assert "<b>3</b>to confirm again" in page(dashboard)


def test_a_browser_asking_without_a_password_never_locks_the_right_one_out(dashboard):
    client = dashboard.test_client()
    for _ in range(22):  # no Authorization header: a browser's first request, or anyone's
        assert client.get("/admin").status_code == 401
    assert client.get("/admin", headers=basic(PASSWORD)).status_code == 200


def test_wrong_passwords_are_counted_across_forked_workers():
    """Ten wrong passwords a minute per address, not ten per worker (two workers once allowed twenty).
    `helpline serve` builds the app before gunicorn forks its workers, as here."""
    import multiprocessing

    from bot.web.lockout import Lockout

    lockout, now, address = Lockout(10, 60), 1_800_000_000.0, "203.0.113.9"

    def guess(times: int) -> None:
        for _ in range(times):
            lockout.failed(address, now)

    worker = multiprocessing.get_context("fork").Process(target=guess, args=(6,))
    worker.start()
    worker.join(10)
    assert not lockout.locked(address, now)
    guess(4)  # another worker: 6 + 4
    assert lockout.locked(address, now) and not lockout.locked("198.51.100.7", now)
    assert not lockout.locked(address, now + 60)  # the next minute
