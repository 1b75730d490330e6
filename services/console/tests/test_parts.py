"""The console's own parts without a platform: settings, sign-in, sessions, the
sanitizer, the drawings and payload rendering."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mimeia_console import auth
from mimeia_console.clients.flowmesh_reads import render_payload
from mimeia_console.pages.sinks import sanitize
from mimeia_console.settings import ConfigurationError, ConsoleSettings
from mimeia_console.svg import nodes_from_steps, sparkline, timeline, workflow_graph
from mimeia_console.web import safe_next


def _jwt(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{body}.signature"


def test_bad_resource_settings_name_the_variable() -> None:
    with pytest.raises(ValueError, match="CONSOLE_FLOWMESH_STREAMS: 'orders' is not"):
        ConsoleSettings(flowmesh_streams="orders")
    assert ConsoleSettings(flowmesh_streams="a/b, c/d").streams() == [("a", "b"), ("c", "d")]


def test_production_refuses_loopback_sign_in_and_needs_a_session_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CONSOLE_LOOPBACK_KEY_FILE"):
        ConsoleSettings(env="production", loopback_key_file=tmp_path / "k",
                        session_secret="s" * 32)  # fmt: skip
    with pytest.raises(ConfigurationError, match="CONSOLE_SESSION_SECRET"):
        ConsoleSettings(env="production")


def test_login_form_errors_name_the_field() -> None:
    with pytest.raises(auth.LoginError, match=r"^token: give a token"):
        auth.from_login_form("", "", "")
    with pytest.raises(auth.LoginError, match=r"^tenant: required"):
        auth.from_login_form("", "key", "")
    with pytest.raises(auth.LoginError, match=r"^tenant: 1-64"):
        auth.from_login_form("", "key", "../other")
    with pytest.raises(auth.LoginError, match=r"^token: not a JWT"):
        auth.from_login_form("abc", "", "")
    with pytest.raises(auth.LoginError, match=r"^token: has no 'tenant'"):
        auth.from_login_form(_jwt({"sub": "ada"}), "", "")
    creds = auth.from_login_form(_jwt({"sub": "ada", "tenant": "acme"}), "", "ignored")
    assert (creds.kind, creds.tenant, creds.subject) == ("jwt", "acme", "ada")
    assert creds.automation_headers()["Authorization"].startswith("Bearer ")
    with pytest.raises(auth.LoginError, match=r"^tenant: a token is for one tenant"):
        creds.with_tenant("other")


def test_session_cookie_is_encrypted_and_tamper_proof() -> None:
    codec = auth.SessionCodec("secret-1", 3600)
    creds = auth.Credentials("key", "the-internal-key", "acme", "internal key")
    cookie = codec.dump(creds)
    assert "the-internal-key" not in cookie
    assert codec.load(cookie) == creds
    assert codec.load(cookie[:-4] + "AAAA") is None
    assert auth.SessionCodec("secret-2", 3600).load(cookie) is None
    token = codec.csrf_token(creds)
    assert codec.csrf_ok(creds, token)
    assert not codec.csrf_ok(creds.with_tenant("other"), token)
    assert not codec.csrf_ok(creds, "0" * 32)


def test_loopback_sign_in_reads_the_key_file(tmp_path: Path) -> None:
    settings = ConsoleSettings(loopback_key_file=tmp_path / "internal_api_key")
    assert auth.loopback_credentials(settings, None) is None  # no file yet
    (tmp_path / "internal_api_key").write_text("k3y\n")
    creds = auth.loopback_credentials(settings, "acme")
    assert creds is not None and (creds.secret, creds.tenant, creds.loopback) == ("k3y", "acme",
                                                                                  True)  # fmt: skip
    assert auth.loopback_credentials(settings, "bad tenant!").tenant == "default"  # type: ignore[union-attr]
    assert auth.is_loopback("127.0.0.1") and auth.is_loopback("::1")
    assert not auth.is_loopback("10.0.0.1") and not auth.is_loopback(None)


def test_redirects_stay_on_this_site() -> None:
    assert safe_next("/workflows?x=1") == "/workflows?x=1"
    for bad in ("https://evil.example/", "//evil.example", "javascript:alert(1)", "evil"):
        assert safe_next(bad) == "/"


def test_email_html_is_sanitized() -> None:
    html = ('<p onclick="x()">hi<script>alert(1)</script></p><a href="javascript:alert(2)">a</a>'
            '<iframe src="https://x"></iframe><img src="https://tracker/x.gif" onerror="y()">'
            "<style>body{}</style><b>bold</b>")  # fmt: skip
    clean = sanitize(html)
    for gone in ("<script", "onclick", "javascript:", "<iframe", "onerror", "<style"):
        assert gone not in clean
    assert "<b>bold</b>" in clean and "<p>hi</p>" in clean


def test_drawings_escape_every_label() -> None:
    evil = "<script>x</script>"
    steps = [{"id": evil, "type": "data_transform", "name": evil},
             {"id": "b", "type": "condition", "depends_on": [evil],
              "config": {"then": ["c"], "else": []}},
             {"id": "c", "type": evil, "depends_on": ["b"]}]  # fmt: skip
    graph = str(workflow_graph(nodes_from_steps(steps, {evil: "failed"})))
    assert "<script>" not in graph and "&lt;script&gt;" in graph
    assert graph.count("marker-end=") == 3  # two dependencies and the "then" branch
    line = str(timeline([{"step_id": evil, "status": "failed", "attempts": 2,
                          "started_at": "2026-01-01T00:00:00Z",
                          "finished_at": "2026-01-01T00:00:01Z"}]))  # fmt: skip
    assert "<script>" not in line and "1000 ms" in line
    assert "<script>" not in str(sparkline([(0, 1), (1, 2)], evil, evil))


def test_timeline_runs_open_steps_to_now_and_draws_waits_and_retries() -> None:
    """Step runs shaped as GET /api/v1/workflows/executions/{id} answers them."""
    now = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    evil = "<b>x</b>"
    steps = [
        {"step_id": "fetch", "type": "http_request", "status": "succeeded", "attempts": 1,
         "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:02Z",
         "next_attempt_at": None, "error": None, "duration_ms": 2000.0},
        {"step_id": "slow", "type": "data_transform", "status": "running", "attempts": 1,
         "started_at": "2026-01-01T00:00:02Z", "finished_at": None, "next_attempt_at": None},
        {"step_id": "pause", "type": "delay", "status": "waiting", "attempts": 1,
         "started_at": "2026-01-01T00:00:05Z", "finished_at": None,
         "next_attempt_at": "2026-01-01T00:00:20Z", "error": None},
        {"step_id": evil, "type": "http_request", "status": "waiting", "attempts": 2,
         "started_at": "2026-01-01T00:00:01Z", "finished_at": None,
         "next_attempt_at": "2026-01-01T00:00:15Z", "error": "HTTP 503 <i>busy</i>"},
        {"step_id": "later", "type": "send_email", "status": "pending", "attempts": 0,
         "started_at": None, "finished_at": None},
    ]  # fmt: skip
    drawn = str(timeline(steps, now=now))
    bars = re.findall(r'<g class="bar".*?</g>', drawn, re.S)
    assert len(bars) == 4  # the pending step has no bar, just its status
    widths = [float(re.search(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)"', b).group(1))
              for b in bars]  # fmt: skip
    # the axis runs to 00:00:20 (the latest wait's end) over 460 px: 23 px per second
    assert widths[0] == pytest.approx(2 * 23, abs=0.2)
    assert widths[1] == pytest.approx(8 * 23, abs=0.2)  # running: 00:02 to now (00:10)
    assert "8000 ms so far" in bars[1]
    # the delay waits from its start to its next attempt, hatched
    wait = re.search(r'<rect class="wait" x="([\d.]+)" y="\d+" width="([\d.]+)"', bars[2])
    assert wait and float(wait.group(2)) == pytest.approx(15 * 23, abs=0.2)
    assert "waits until 00:00:20 UTC" in bars[2]
    # a retried step: its attempts counted, the retry's time shown, the hatch from now on
    retry = re.search(r'<rect class="wait" x="([\d.]+)" y="\d+" width="([\d.]+)"', bars[3])
    assert retry and float(retry.group(1)) == pytest.approx(190 + 10 * 23, abs=0.2)
    assert float(retry.group(2)) == pytest.approx(5 * 23, abs=0.2)
    assert "retry (attempt 3) at 00:00:15 UTC" in bars[3] and "2 attempt(s)" in bars[3]
    assert bars[3].count('class="attempt"') == 1
    assert "<b>" not in drawn and "<i>" not in drawn and "&lt;b&gt;x&lt;/b&gt;" in drawn
    assert all(b.count("<title>") >= 1 for b in bars) and 'class="now"' in drawn
    # the execution's resume_at stands in for a waiting step without next_attempt_at
    parked = [{**steps[2], "next_attempt_at": None}]
    assert "waits until 00:00:30 UTC" in str(
        timeline(parked, now=now, resume_at="2026-01-01T00:00:30Z")
    )
    # finished runs draw no "now" line and end where they ended
    done = str(timeline(steps[:1], now=now))
    assert 'class="now"' not in done and "2000 ms" in done


def test_steps_without_depends_on_follow_the_one_before() -> None:
    nodes = nodes_from_steps([{"id": "a", "type": "t"}, {"id": "b", "type": "t"},
                              {"id": "c", "type": "t", "depends_on": []}], {})  # fmt: skip
    assert [n.depends_on for n in nodes] == [[], ["a"], []]


def test_payloads_render_as_pretty_json_or_text() -> None:
    assert render_payload(b'{"a":1}') == ('{\n  "a": 1\n}', True)
    assert render_payload(b"\xffplain") == ("\ufffdplain", False)
    text, _ = render_payload(b"x" * 30_000)
    assert text.endswith("(30000 bytes in all)")


def test_mimeia_up_points_the_console_at_every_service_it_started() -> None:
    from mimeia import Address
    from mimeia_console.mimeia_service import SERVICE, settings_for

    addresses = {
        "automation": Address("0.0.0.0", 9001),
        "flowmesh": Address("127.0.0.1", 9002),
        "sms-sink": Address("127.0.0.1", 9003),
        "console": Address("127.0.0.1", 9004),
    }
    found = settings_for(addresses)
    assert found["CONSOLE_AUTOMATION_URL"] == "http://127.0.0.1:9001"
    assert found["CONSOLE_FLOWMESH_URL"] == "127.0.0.1:9002"
    assert found["CONSOLE_SMS_SINK_URL"] == "http://127.0.0.1:9003"
    assert "CONSOLE_SLACK_CONNECT_URL" not in found  # not started: the default stays
    with_emulator = settings_for({**addresses, "wompi-emulator": Address("127.0.0.1", 9005)})
    assert with_emulator["CONSOLE_OTHER_SERVICES"] == "wompi-emulator=http://127.0.0.1:9005"
    assert ConsoleSettings(other_services=with_emulator["CONSOLE_OTHER_SERVICES"]).others() == [
        ("wompi-emulator", "http://127.0.0.1:9005")
    ]
    with pytest.raises(ValueError, match="CONSOLE_OTHER_SERVICES: 'x' is not"):
        ConsoleSettings(other_services="x")
    argv = SERVICE["argv"](addresses, "/tmp/state")
    assert argv[argv.index("--port") + 1] == "9004" and "--dev-state" in argv
    assert (SERVICE["default_port"], SERVICE["name"]) == (8000, "console")


def test_sampled_metrics_become_rates_ratios_and_per_tenant_series() -> None:
    import httpx

    from mimeia_console.metrics import Sample, Sampler, flatten
    from mimeia_console.pages.charts import has

    text = (
        '# TYPE req_total counter\nreq_total{status="200"} 10\nreq_total{status="500"} 2\n'
        '# TYPE q gauge\nq{state="dlq",tenant="acme"} 3\nq{state="dlq",tenant="acme2"} 7\n'
    )
    first = flatten(text)
    assert first["req_total{status=200}"] == 10.0
    second = dict(first, **{"req_total{status=200}": 28.0, "req_total{status=500}": 4.0})
    sampler = Sampler(httpx.AsyncClient(), {"svc": "http://unused/metrics"}, interval=10)
    sampler.samples["svc"].extend([Sample(100.0, first), Sample(110.0, second)])
    assert sampler.rate("svc", "req_total") == [(110.0, 2.0)]  # 20 more in 10 s
    errors = sampler.ratio("svc", "req_total", "req_total", 100,
                           num_where=lambda labels: "status=5" in labels)  # fmt: skip
    assert errors == [(110.0, 10.0)]  # 2 of the 20 were 5xx
    acme = sampler.gauge("svc", "q", lambda labels: has(labels, "tenant=acme", "state=dlq"))
    assert acme == [(100.0, 3.0), (110.0, 3.0)]  # acme2's 7 is not acme's


async def test_loopback_sign_in_never_applies_to_proxied_requests(tmp_path: Path) -> None:
    import httpx

    from mimeia_console.app import create_app

    (tmp_path / "internal_api_key").write_text("k3y")
    app = create_app(ConsoleSettings(loopback_key_file=tmp_path / "internal_api_key"))

    def client(host: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(host, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://console")

    async with client("127.0.0.1") as local, client("192.0.2.7") as remote:
        assert (await local.get("/charts")).status_code == 200
        proxied = await local.get("/charts", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 303
        assert proxied.headers["location"] == "/login?next=/charts"
        assert (await remote.get("/charts")).status_code == 303
        # a cross-site form post is refused before anything else
        refused = await local.post(
            "/tenant", data={"tenant": "x"}, headers={"Origin": "http://evil.example"}
        )
        assert refused.status_code == 403
        # a same-site post without this session's form token is refused too
        stale = await local.post("/tenant", data={"tenant": "x", "csrf": "0" * 32})
        assert stale.status_code == 403
