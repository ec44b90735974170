"""A number that floods the line gets empty answers; every other number is still served."""

from __future__ import annotations

import os
import secrets
import time

import pytest

from bot.app import create_app
from bot.cli.chat import Conversation
from bot.clock import FakeClock
from bot.privacy import keyed_hash

REDIS_URL = os.environ.get("HELPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START = 1_800_000_030.0  # half a minute into a minute: a burst here never crosses into the next


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def config(config, clock) -> dict:
    """The line on a fake clock: every window in these tests is counted at a moment the test chose."""
    return {**config, "CLOCK": clock}


def redis_client():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    return client


def flood(app, sender: str, texts: int) -> list[int]:
    conversation = Conversation.start(app, sender=sender)
    return [len(conversation.send("hi")) for _ in range(texts)]


def test_a_flooding_number_is_cut_off_after_ten_a_minute_while_others_are_served(app, clock):
    answered = flood(app, "+18605550111", 15)
    assert answered[:10] == [1] * 10, "the first texts of any number are always answered"
    assert answered[10:] == [0] * 5, "then empty <Response/>: no message is sent or paid for"
    assert flood(app, "+18605550222", 3) == [1, 1, 1]
    clock.advance(60)  # the next minute
    assert flood(app, "+18605550111", 1) == [1]


def test_a_cut_off_number_gets_200_with_an_empty_response_not_429(app):
    conversation = Conversation.start(app, sender="+18605550333")
    for _ in range(10):
        conversation.send("hi")
    from bot.cli.chat import SMS_URL, inbound_form
    from bot.web.twilio import sign

    form = inbound_form("+18605550333", "hi")
    response = app.test_client().post("/sms", data=form, headers={"X-Twilio-Signature": sign(
        app.config["TWILIO_AUTH_TOKEN"], SMS_URL, form)})
    assert response.status_code == 200
    assert response.get_data(as_text=True).endswith("<Response />")


def test_forged_requests_do_not_use_up_a_real_numbers_allowance(app, client):
    from bot.cli.chat import inbound_form

    for _ in range(20):
        assert client.post("/sms", data=inbound_form("+18605550444", "hi")).status_code == 403
    assert flood(app, "+18605550444", 1) == [1]


@pytest.mark.redis
def test_limits_are_shared_through_redis_and_keyed_without_the_number(config):
    client = redis_client()
    prefix = f"helpline-test-{secrets.token_hex(4)}"
    shared = {**config, "RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix}
    first, second = create_app(shared), create_app(shared)  # two workers, one Redis
    try:
        assert flood(first, "+18605550555", 6) == [1] * 6
        assert flood(second, "+18605550555", 6) == [1] * 4 + [0] * 2
        keys = [k.decode() for k in client.scan_iter(f"*{prefix}*")]
        assert keys, "the counters live in Redis"
        assert not any("8605550555" in k for k in keys)
        # Whoever has SECRET_KEY cannot try numbers against these keys: they are not derived from it.
        from_secret = keyed_hash(config["SECRET_KEY"], "+18605550555", time.strftime("%Y-%m-%d", time.gmtime()))
        assert not any(from_secret in k for k in keys)
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)


def test_a_cut_off_number_in_danger_is_still_answered(app):
    conversation = Conversation.start(app, sender="+18605550666")
    for _ in range(10):
        conversation.send("hi")
    assert conversation.send("hi") == []
    assert "911" in "\n".join(conversation.send("he is going to kill me"))


def test_memory_windows_count_per_window_and_forget_old_ones():
    from limits import parse

    from bot.web import ratelimit

    clock = FakeClock(1_000_000.0)
    windows = ratelimit.Windows(clock.now)
    minute = parse("3 per minute")
    assert [windows.hit(minute, "t", "a") for _ in range(4)] == [True, True, True, False]
    assert windows.hit(minute, "t", "b") and not windows.test(minute, "t", "a")
    clock.advance(60)
    assert windows.test(minute, "t", "a") and windows.hit(minute, "t", "a")
    windows._sweep()
    assert len(windows._counts) == 1, "the old window of 'b' is gone"


def test_danger_texts_past_the_flood_limit_are_answered_within_a_limit_of_their_own(config):
    app = create_app({**config, "DANGER_RATE_LIMIT": "5 per hour"})
    conversation = Conversation.start(app, sender="+18605550667")
    for _ in range(10):
        conversation.send("hi")
    assert conversation.send("hi") == []  # flooded
    answers = [conversation.send("he is going to kill me") for _ in range(7)]
    assert all("911" in "\n".join(a) for a in answers[:5]) and answers[5:] == [[], []]


def test_the_default_danger_limit_answers_thirty_danger_texts_an_hour(app):
    conversation = Conversation.start(app, sender="+18605550668")
    answers = [conversation.send("he is going to kill me") for _ in range(31)]
    assert all(answers[:30]) and answers[30] == []


def test_while_redis_is_down_a_sender_keeps_one_key_and_redis_is_asked_again_later():
    from bot.web.ratelimit import Limits

    limits = Limits("10 per minute", "redis://127.0.0.1:1/0")  # nothing listens there
    first = limits.salt("2026-11-30")
    assert limits.salt("2026-11-30") == first  # counted under one key meanwhile
    assert limits._salts == {}  # not kept for the day: once Redis answers, every worker shares its key
