"""The line under load, flood and database faults, served by gunicorn on loopback.

Bounded versions of `python -m bench.resilience` (see the README for the full run's figures).
"""

from __future__ import annotations

import pytest

from bench import resilience


def test_16_senders_on_4_workers_on_sqlite_lose_no_answer(tmp_path):
    outcome = resilience.load(f"sqlite:///{tmp_path / 'helpline.db'}", seconds=2)
    assert outcome.held, outcome.numbers
    assert outcome.numbers["answered"] > 100


@pytest.mark.postgres
def test_16_senders_on_4_workers_on_postgresql_lose_no_answer(postgres_url):
    outcome = resilience.load(postgres_url, seconds=2)
    assert outcome.held, outcome.numbers


def test_a_flooding_number_is_cut_off_while_others_are_served(tmp_path):
    outcome = resilience.flood(f"sqlite:///{tmp_path / 'helpline.db'}")
    assert outcome.held, outcome.numbers
    assert outcome.numbers["flooding number: answered / empty"] == "10 / 20"


@pytest.mark.redis
def test_with_redis_four_workers_share_one_flood_count(tmp_path):
    from tests.test_limits import REDIS_URL, redis_client

    redis_client()
    outcome = resilience.flood(f"sqlite:///{tmp_path / 'helpline.db'}", REDIS_URL)
    assert outcome.held, outcome.numbers


def test_with_the_database_down_at_start_the_line_answers_with_911_and_says_503():
    outcome = resilience.database_down_at_start()
    assert outcome.held, outcome.numbers


POSTGRES_FAULTS = {
    "dropped while running": resilience.database_gone_while_running,
    # a relay that accepts and never answers: the server listens within 10 s, every text gets 911
    # within 3 s, and /healthz says 503 within 10 s
    "held at start": resilience.database_held_at_start,
    "held while running": resilience.database_held_while_running,
    # four workers flushing together under load: no deadlock, no count dropped
    "counts of four workers under load": lambda url: resilience.counts_under_load(url, seconds=3),
}


@pytest.mark.postgres
@pytest.mark.parametrize("fault", POSTGRES_FAULTS)
def test_the_line_holds_when_postgresql_fails(postgres_url, fault):
    outcome = POSTGRES_FAULTS[fault](postgres_url)
    assert outcome.held, outcome.numbers
