"""POST /sms as Twilio calls it: signatures, limits, malformed input, TwiML, /healthz."""

from __future__ import annotations

import logging

import pytest

from bot.app import create_app
from bot.cli.chat import SMS_URL, messages_of
from bot.errors import ConfigError
from bot.web.twilio import sign
from tests.conftest import TOKEN


def form(**fields) -> dict[str, str]:
    base = {"MessageSid": "SM" + "a" * 32, "AccountSid": "AC" + "0" * 32, "From": "+18605550123",
            "To": "+18605550100", "Body": "hi", "NumMedia": "0"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def post(client, data, token=TOKEN, url=SMS_URL, **kwargs):
    headers = {"X-Twilio-Signature": sign(token, url, data)} if token else {}
    return client.post("/sms", data=data, headers=headers, **kwargs)


def test_a_signed_text_gets_twiml_with_the_menu_and_911(client):
    response = post(client, form(Body="hi"))
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    messages = messages_of(response.get_data(as_text=True))
    assert messages and "911" in messages[0]


def test_unsigned_request_is_refused(client):
    assert post(client, form(), token=None).status_code == 403


def test_request_signed_with_another_token_is_refused(client):
    assert post(client, form(), token="not-the-token").status_code == 403


def test_tampered_field_after_signing_is_refused(client):
    data = form(Body="hi")
    signature = sign(TOKEN, SMS_URL, data)
    data["Body"] = "something else"
    response = client.post("/sms", data=data, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_signature_for_another_url_is_refused(client):
    assert post(client, form(), url="http://localhost/other").status_code == 403


def test_a_wrongly_signed_request_leaves_one_log_line_with_the_reason_and_the_checked_url(client, caplog):
    """The usual first mistake (the URL behind a proxy) is found from the log, which holds no form value."""
    data = form(Body="hello from my phone", From="+18605559876", FromCity="HARTFORD")
    with caplog.at_level(logging.INFO):
        response = post(client, data, url="https://line.example.org/sms")
    assert response.status_code == 403
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1
    assert "does not match" in refused[0] and "'http://localhost/sms'" in refused[0]
    assert "HELPLINE_PUBLIC_URL" in response.get_data(as_text=True)
    for value in ("hello from my phone", "8605559876", "5559876", "HARTFORD"):
        assert value not in caplog.text


def test_an_unsigned_request_is_logged_as_unsigned(client, caplog):
    with caplog.at_level(logging.INFO):
        assert post(client, form(), token=None).status_code == 403
    assert "refused a request: no X-Twilio-Signature header" in caplog.text


def test_oversized_body_is_refused_with_413(client):
    data = form(Body="x" * 70_000)
    assert post(client, data).status_code == 413


@pytest.mark.parametrize(
    "fields",
    [
        {"Body": "x" * 5000},
        {"Body": "\x00\x01\x1b[31m hola \x7f"},
        {"Body": "\U0001f198\U0001f198\U0001f198"},
        {"Body": "", "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/x.jpg",
         "MediaContentType0": "image/jpeg"},
        {"Body": None},
        {"Body": "hola", "From": None, "To": None, "MessageSid": None},
        {"Body": "1", "SomethingTwilioAddsLater": "x"},
    ],
)
def test_malformed_or_unusual_input_gets_a_normal_answer(client, fields, caplog):
    with caplog.at_level(logging.DEBUG):
        response = post(client, form(**fields))
    assert response.status_code == 200
    messages = messages_of(response.get_data(as_text=True))
    assert messages, "every text, picture or empty message gets an answer"
    assert all(len(m) <= 1600 for m in messages)
    assert len(messages) <= 10
    assert "Traceback" not in caplog.text


def test_invalid_utf8_is_a_client_error_not_a_crash(client):
    body = b"From=%2B18605550123&Body=%ff%fe%41"
    response = client.post("/sms", data=body, content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": "x"})
    assert 400 <= response.status_code < 500


def test_get_on_sms_is_not_allowed(client):
    assert client.get("/sms").status_code == 405


def test_healthz_answers_200_when_the_line_can_serve(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_every_message_in_an_answer_stays_within_twilio_limits(texter):
    for text in ["hi", "1", "2", "0", "5", "1", "BACK", "HELP", "911"]:
        messages = texter.send(text)
        assert 1 <= len(messages) <= 10
        assert all(0 < len(m) <= 1600 for m in messages)


def test_server_refuses_to_start_without_token_or_secret(config):
    for missing in ("TWILIO_AUTH_TOKEN", "SECRET_KEY"):
        with pytest.raises(ConfigError, match=missing):
            create_app({**config, missing: ""})


def test_local_mode_answers_loopback_without_signature_and_says_so(config, caplog):
    with caplog.at_level(logging.WARNING):
        app = create_app({**config, "LOCAL_MODE": True, "TWILIO_AUTH_TOKEN": ""})
    assert "LOCAL MODE" in caplog.text
    client = app.test_client()
    assert client.post("/sms", data=form(), environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.post("/sms", data=form(), environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403


def test_behind_a_proxy_the_signature_is_checked_against_the_public_url(config):
    app = create_app({**config, "TRUST_PROXY": 1})
    client = app.test_client()
    public = "https://line.example.org/sms"
    data = form()
    headers = {"X-Twilio-Signature": sign(TOKEN, public, data), "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "line.example.org"}
    assert client.post("/sms", data=data, headers=headers).status_code == 200


def test_forwarded_headers_are_ignored_unless_configured(client):
    public = "https://line.example.org/sms"
    data = form()
    headers = {"X-Twilio-Signature": sign(TOKEN, public, data), "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "line.example.org"}
    assert client.post("/sms", data=data, headers=headers).status_code == 403


def test_configured_public_url_is_what_the_signature_covers(config):
    app = create_app({**config, "PUBLIC_URL": "https://line.example.org"})
    data = form()
    headers = {"X-Twilio-Signature": sign(TOKEN, "https://line.example.org/sms", data)}
    assert app.test_client().post("/sms", data=data, headers=headers).status_code == 200


def test_an_unexpected_fault_still_answers_with_the_menu_and_911(app, client, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise KeyError("the texter's words must not reach the log")

    monkeypatch.setattr("bot.engine.conversation.step", broken)
    with caplog.at_level(logging.DEBUG):
        response = post(client, form(Body="private words"))
    assert response.status_code == 200
    assert "911" in messages_of(response.get_data(as_text=True))[0]
    assert "KeyError" in caplog.text
    assert "private words" not in caplog.text and "must not reach" not in caplog.text


def test_signature_check_agrees_with_twilios_published_example():
    from bot.web.twilio import signature_valid

    form = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
            "From": "+14158675309", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature_valid("12345", url, form, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not signature_valid("12345", url.replace("bar=2", "bar=3"), form, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_a_webhook_url_with_a_query_string_and_a_port_is_verified(config):
    app = create_app({**config, "TRUST_PROXY": 1})
    data = form()
    public = "https://line.example.org:8443/sms?line=west-hartford&x=%20y"
    headers = {"X-Twilio-Signature": sign(TOKEN, public, data), "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "line.example.org:8443"}
    response = app.test_client().post("/sms?line=west-hartford&x=%20y", data=data, headers=headers)
    assert response.status_code == 200


def test_a_multipart_part_with_no_name_and_any_signature_is_refused_with_403(client, caplog):
    """Werkzeug files a nameless part under None; twilio's validator then raised TypeError, answered 200."""
    boundary = "XyZ"
    body = (f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nhello\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"Body\"\r\n\r\nhi\r\n--{boundary}--\r\n").encode()
    with caplog.at_level(logging.ERROR):
        response = client.post("/sms", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                               headers={"X-Twilio-Signature": "bogus"})
    assert response.status_code == 403 and "ERROR" not in caplog.text


def test_a_chunked_body_over_64_kib_is_refused_with_413_not_truncated(client):
    import io

    body = ("Body=" + "x" * 70_000).encode()
    response = client.post("/sms", input_stream=io.BytesIO(body), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": "bogus", "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})  # as gunicorn
    assert response.status_code == 413


def test_a_chunked_twilio_text_within_the_limit_is_still_answered(client):
    import io
    from urllib.parse import urlencode

    data = form(Body="hi")
    response = client.post("/sms", input_stream=io.BytesIO(urlencode(data).encode()),
                           content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": sign(TOKEN, SMS_URL, data), "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})  # as gunicorn
    assert response.status_code == 200 and "911" in response.get_data(as_text=True)


def test_thousands_of_empty_fields_are_refused_before_any_signature_work(client, monkeypatch):
    """13,107 empty fields with a bogus signature cost 50 texts' worth of HMAC before."""
    import bot.web.webhook

    called = []
    monkeypatch.setattr(bot.web.webhook, "signature_valid", lambda *args: called.append(1) or False)
    response = client.post("/sms", data="&".join(["a="] * 13_000), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": "bogus"})
    assert response.status_code == 413 and called == []


def test_a_setting_that_is_not_a_number_stops_the_line_with_its_name(config, monkeypatch):
    monkeypatch.setenv("HELPLINE_TRUST_PROXY", "one")
    with pytest.raises(ConfigError, match="HELPLINE_TRUST_PROXY='one' is not a whole number"):
        create_app(config)
