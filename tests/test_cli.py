"""The helpline command: every command documented, validate's exit codes, chat in both languages."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from bot import ROOT
from bot.cli import main

COMMANDS = sorted(main.commands)


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return CliRunner()


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_and_is_in_the_readme(name, runner):
    result = runner.invoke(main, [name, "--help"])
    assert result.exit_code == 0 and main.commands[name].help
    assert f"helpline {name}" in (ROOT / "README.md").read_text(), f"README does not document {name}"


def test_validate_passes_on_the_shipped_flows(runner):
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("ok")


def test_validate_names_file_and_node_and_exits_1(runner, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    text = (flows / "health.yaml").read_text()
    (flows / "health.yaml").write_text(text.replace("goto: health.testing", "goto: health.nowhere", 1))
    result = runner.invoke(main, ["validate", str(flows)])
    assert result.exit_code == 1
    assert "health.yaml" in result.output and "health.nowhere" in result.output
    assert "Traceback" not in result.output


def test_validate_reports_broken_yaml_by_name(runner, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    (flows / "law.yaml").write_text("spec_version: 1\nnodes: {law: [\n")
    result = runner.invoke(main, ["validate", str(flows)])
    assert result.exit_code == 1 and "law.yaml" in result.output and "not valid YAML" in result.output


def test_chat_holds_a_conversation_in_english(runner):
    result = runner.invoke(main, ["chat"], input="hi\n1\nMENU\n")
    assert result.exit_code == 0, result.output
    assert "911" in result.output and "segment" in result.output
    assert "1-888-373-7888" in result.output


def test_chat_holds_a_conversation_in_spanish(runner):
    result = runner.invoke(main, ["chat", "--lang", "es"], input="1\n")
    assert result.exit_code == 0, result.output
    assert "español" in result.output.lower() and "1-888-373-7888" in result.output


def test_serve_refuses_without_token_and_secret(runner, monkeypatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("HELPLINE_LOCAL", raising=False)
    result = runner.invoke(main, ["serve"])
    assert result.exit_code == 1 and "refusing to serve Twilio" in result.output


def test_serve_local_refuses_a_public_address(runner):
    result = runner.invoke(main, ["serve", "--local", "--bind", "0.0.0.0:8000"])
    assert result.exit_code == 1 and "only listens on this machine" in result.output


def test_load_reloads_the_directory(runner):
    result = runner.invoke(main, ["load"])
    assert result.exit_code == 0 and "datapackage.json" in result.output


def test_chat_replays_a_script_and_records_a_golden_transcript(runner, tmp_path):
    script = tmp_path / "script.txt"
    script.write_text("hola\n2\n1\n")
    record = tmp_path / "health.yaml"
    result = runner.invoke(main, ["chat", "--script", str(script), "--record", str(record)])
    assert result.exit_code == 0, result.output
    assert "you> 2" in result.output and "recorded 3 turns" in result.output
    from bot.cli.chat import script_texts

    assert script_texts(record) == ["hola", "2", "1"]
    assert "860-509-7920" in record.read_text()


def test_graph_writes_dot(runner, tmp_path):
    result = runner.invoke(main, ["graph", "-o", str(tmp_path / "g")])
    assert result.exit_code == 0 and (tmp_path / "g.dot").is_file()


def test_stats_with_an_absurd_number_of_days_is_a_plain_error(runner):
    result = runner.invoke(main, ["stats", "--days", "1000000"])
    assert result.exit_code == 2 and "1000000 is not in the range" in result.output
    assert "Traceback" not in result.output and "Overflow" not in result.output


def test_stats_with_an_unreachable_database_is_a_plain_error(runner, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    result = runner.invoke(main, ["stats"])
    assert result.exit_code == 1 and "error: the database in DATABASE_URL cannot be read" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_names_the_flows_folder_it_was_given(runner, tmp_path):
    flows = tmp_path / "other-flows"
    shutil.copytree(ROOT / "flows", flows)
    (flows / "keywords" / "es.yaml").unlink()
    result = runner.invoke(main, ["validate", str(flows)])
    assert result.exit_code == 1 and f"{flows / 'keywords'}: no keyword table for es" in result.output
