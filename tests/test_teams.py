"""Two teams on one deployment: each number answers with its own name, its own on-call worker
in its own hours, and its own region's local services, on a fake clock."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from zoneinfo import ZoneInfo

import pytest

from bot import ROOT
from bot.app import create_app
from bot.cli.chat import Conversation
from bot.clock import FakeClock
from bot.errors import FlowError
from bot.tables import load_flows

HARTFORD, NEW_BRITAIN, OTHER = "+18605550100", "+18605550200", "+18605550300"
TEAMS = f'''lines:
  "{HARTFORD}":
    team: {{name: "Hartford Outreach", on_call: "+18605550111", hours: "Mo-Fr 09:00-17:00",
            region: [Hartford], after_hours: [hotline.crisis]}}
  "{NEW_BRITAIN}":
    team: {{name: "New Britain Outreach", on_call: "+18605550222", hours: "Sa-Su 18:00-23:00",
            region: [New Britain], after_hours: [hotline.crisis]}}
'''
ZONE = ZoneInfo("America/New_York")
WEDNESDAY_10AM = dt.datetime(2026, 11, 25, 10, tzinfo=ZONE).timestamp()
SATURDAY_7PM = dt.datetime(2026, 11, 28, 19, tzinfo=ZONE).timestamp()


def flows_with_teams(tmp_path, teams: str = TEAMS):
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder)
    campaigns = folder / "campaigns.yaml"
    campaigns.write_text(campaigns.read_text(encoding="utf-8").replace("lines: {}\n", teams), encoding="utf-8")
    return folder


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(WEDNESDAY_10AM)


@pytest.fixture
def app(config, tmp_path, clock):
    return create_app({**config, "FLOWS_DIR": str(flows_with_teams(tmp_path)), "CLOCK": clock})


def help_reply(app, line: str) -> str:
    return "\n".join(Conversation.start(app, line=line).send("help"))


def test_each_number_answers_help_with_its_own_teams_name(app):
    assert help_reply(app, HARTFORD).startswith("Hartford Outreach: free info by text.")
    assert help_reply(app, NEW_BRITAIN).startswith("New Britain Outreach: free info by text.")
    assert help_reply(app, OTHER).startswith("Greater Hartford Help Line: free info by text.")
    assert "Reply STOP to opt out." in help_reply(app, NEW_BRITAIN)


def test_in_its_hours_a_team_offers_its_on_call_worker_and_outside_them_says_when_they_are_back(app, clock):
    hartford, new_britain = help_reply(app, HARTFORD), help_reply(app, NEW_BRITAIN)
    assert "call or text 860-555-0111" in hartford and "back" not in hartford
    assert "860-555-0222" not in new_britain
    assert "Outreach workers are back Sat 6pm." in new_britain and "988" in new_britain  # the 24/7 lines
    clock.at = SATURDAY_7PM
    hartford, new_britain = help_reply(app, HARTFORD), help_reply(app, NEW_BRITAIN)
    assert "call or text 860-555-0222" in new_britain
    assert "Outreach workers are back Mon 9am." in hartford and "860-555-0111" not in hartford


def test_the_offer_is_on_the_welcome_and_didnt_get_that_and_in_spanish(app):
    texter = Conversation.start(app, line=HARTFORD)
    assert "860-555-0111" in "\n".join(texter.send("hi"))
    assert "860-555-0111" in "\n".join(texter.send("asdfgh qwerty zxcvb"))
    assert "Habla con alguien del equipo ahora: llama o escribe al 860-555-0111." in "\n".join(texter.send("ESPAÑOL"))
    assert "860-555-0111" not in "\n".join(texter.send("1"))  # a topic page: not repeated everywhere
    assert "860-555-0111" not in help_reply(app, OTHER)


def test_a_teams_region_decides_which_local_services_a_texter_gets_without_naming_a_town(app):
    def testing(line):
        return "\n".join(Conversation.start(app, line=line).send("where can i get tested"))

    hartford_clinic = re.compile(r"Testing clinic \(Hartford\)")
    assert hartford_clinic.search(testing(HARTFORD))
    assert not hartford_clinic.search(testing(NEW_BRITAIN)) and not hartford_clinic.search(testing(OTHER))


@pytest.mark.parametrize(("team", "problem"), [
    ('{name: "X", on_call: "860-555-0111", hours: "Mo 09:00-17:00"}', "on_call '860-555-0111' must be a number"),
    ('{name: "X", on_call: "+18605550111"}', "needs both on_call and hours"),
    ('{name: "X", on_call: "+18605550111", hours: "weekdays 9 to 5"}', "is not like 'Mo-Fr 09:00-17:00'"),
    ('{on_call: "+18605550111", hours: "Mo 09:00-17:00"}', "needs a name"),
])
def test_a_team_that_cannot_work_stops_the_flows_loading_with_the_file_and_problem(tmp_path, team, problem):
    folder = flows_with_teams(tmp_path, f'lines:\n  "{HARTFORD}":\n    team: {team}\n')
    with pytest.raises(FlowError, match=re.escape(problem)) as caught:
        load_flows(folder)
    assert "campaigns.yaml" in str(caught.value)


def test_a_region_town_the_postal_data_does_not_know_stops_the_line_at_start(config, tmp_path):
    folder = flows_with_teams(tmp_path, f'lines:\n  "{HARTFORD}":\n    team: {{name: "X", region: [Narnia]}}\n')
    with pytest.raises(FlowError, match="region town 'Narnia' is not a Connecticut town"):
        create_app({**config, "FLOWS_DIR": str(folder)})
