"""The webhook post, against a real HTTP server on 127.0.0.1: the body incoming webhooks
accept, and a failure that is returned (never raised) without the URL's secret path."""

import json

from rca.notify import message, post, where

RESULT = {"context": "prod-<east>", "incidents": [
    {"start": "2021-08-23T11:03:21+08:00", "unexplained": "",
     "scope": {"services": ["neishi", "dijiao"]},
     "causes": [{"id": "dns.resolver_timeout", "status": "ok", "score": 0.93}]},
    {"start": "2021-08-23T13:29:54+08:00", "unexplained": "no cause is convincing",
     "scope": {}, "causes": [{"id": "app.slow_response", "status": "ok", "score": 0.1}]},
]}


def test_message_is_one_text_field_with_the_day_the_causes_and_the_link():
    body = message("2021-08-23", RESULT, "https://reports.example/2021-08-23.html")
    assert list(body) == ["text"]
    text = body["text"]
    assert text.splitlines()[0] == "rca daily 2021-08-23 (prod-&lt;east&gt;): 2 incident(s)"
    assert "11:03:21 dns.resolver_timeout (0.93) on neishi, dijiao" in text
    assert "13:29:54 unexplained" in text  # a weak cause is not named as the answer
    assert text.endswith("Report: https://reports.example/2021-08-23.html")


def test_a_quiet_day_says_zero():
    assert "0 incident(s)" in message("2021-08-22", {"incidents": []}, "r.html")["text"]


def test_post_sends_json_to_the_hook(hook):
    assert post(hook.url, {"text": "hello"}) is None
    [(path, ctype, body)] = hook.posts
    assert path == "/services/T0/B0/s3cr3tp4th" and ctype == "application/json"
    assert json.loads(body) == {"text": "hello"}


def test_a_refusing_server_is_a_returned_reason_without_the_secret(hook):
    hook.status = 500
    why = post(hook.url, {"text": "x"})
    assert why is not None and "HTTP 500" in why and "s3cr3t" not in why


def test_an_unreachable_server_is_a_returned_reason(hook):
    url = hook.url
    closed = url.replace(url.split(":")[2].split("/")[0], "9")  # port 9 (discard): closed
    why = post(closed, {"text": "x"}, timeout=2)
    assert why is not None and "127.0.0.1:9" in why and "s3cr3t" not in why


def test_where_shows_only_scheme_and_host():
    assert where("https://hooks.example:8443/services/T/B/secret") == "https://hooks.example:8443"
