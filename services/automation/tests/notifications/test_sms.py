from __future__ import annotations

import io

import httpx
import pytest

from automation.notifications import (
    AllProvidersFailed,
    ConsoleSmsProvider,
    SmsError,
    SmsSender,
    TwilioSmsProvider,
)
from automation.sinks.sms import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from mimeia.testing import free_port


def twilio(base_url: str, token: str = DEFAULT_AUTH_TOKEN, **kw: str) -> TwilioSmsProvider:
    sender = kw.get("from_number", "+15005550006")
    return TwilioSmsProvider(
        DEFAULT_ACCOUNT_SID, token, base_url=base_url, from_number=sender, timeout=3
    )


async def test_sms_arrives_at_the_sink(sms_sink_url: str) -> None:
    sender = SmsSender([twilio(sms_sink_url)])
    receipt = await sender.send("+1234567890", "Your verification code is 123456")
    assert receipt.provider == "twilio" and receipt.message_id.startswith("SM")
    assert receipt.status == "queued"
    listed = httpx.get(f"{sms_sink_url}/api/messages", timeout=5).json()["messages"]
    got = next(m for m in listed if m["sid"] == receipt.message_id)
    assert got["to"] == "+1234567890" and got["body"] == "Your verification code is 123456"
    fetched = httpx.get(
        f"{sms_sink_url}{got['uri']}", auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN), timeout=5
    )
    assert fetched.json()["sid"] == receipt.message_id
    assert "123456" in httpx.get(sms_sink_url + "/", timeout=5).text


async def test_sink_answers_like_twilio_for_bad_requests(sms_sink_url: str) -> None:
    url = f"{sms_sink_url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    auth = (DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)
    stranger = ("AC" + "1" * 32, "t")
    cases = [
        ({"To": "+1234567890", "From": "+15005550006", "Body": "x"}, stranger, 401, 20003),
        ({"From": "+15005550006", "Body": "x"}, auth, 400, 21604),
        ({"To": "12345", "From": "+15005550006", "Body": "x"}, auth, 400, 21211),
        ({"To": "+1234567890", "Body": "x"}, auth, 400, 21603),
        ({"To": "+1234567890", "From": "+15005550006"}, auth, 400, 21602),
        ({"To": "+1234567890", "From": "+15005550006", "Body": "x" * 1601}, auth, 400, 21617),
    ]
    for form, credentials, status, code in cases:
        response = httpx.post(url, data=form, auth=credentials, timeout=5)
        assert response.status_code == status, form
        assert response.json()["code"] == code
        assert response.json()["more_info"].endswith(str(code))


async def test_provider_failure_falls_back_to_the_next(sms_sink_url: str) -> None:
    console_out = io.StringIO()
    down = twilio(f"http://127.0.0.1:{free_port()}")
    bad_token = twilio(sms_sink_url, token="wrong-token")
    sender = SmsSender([down, bad_token, ConsoleSmsProvider(console_out)])
    receipt = await sender.send("+573001234567", "hola")
    assert receipt.provider == "console"
    assert "to +573001234567: hola" in console_out.getvalue()


async def test_all_providers_failing_reports_each(sms_sink_url: str) -> None:
    sender = SmsSender([twilio(f"http://127.0.0.1:{free_port()}"),
                        twilio(sms_sink_url, token="wrong-token")])  # fmt: skip
    with pytest.raises(AllProvidersFailed) as info:
        await sender.send("+573001234567", "hola")
    assert len(info.value.errors) == 2
    assert info.value.errors[1].code == 20003
    assert "wrong-token" not in str(info.value)


async def test_message_problems_do_not_fall_back(sms_sink_url: str) -> None:
    out = io.StringIO()
    sender = SmsSender([twilio(sms_sink_url), ConsoleSmsProvider(out)])
    # Twilio's magic test number for "unsubscribed recipient"
    with pytest.raises(SmsError) as info:
        await sender.send("+15005550004", "hola")
    assert info.value.code == 21610
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    "to, body, field",
    [("", "x", "to:"), ("3001234567", "x", "to:"), ("+1234567890", "", "message:"),
     ("+1234567890", "   ", "message:"), ("+1234567890", "x" * 1601, "message:"),
     (1234567890, "x", "to:")],
)  # fmt: skip
async def test_bad_messages_name_the_field(to: str, body: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        await SmsSender([ConsoleSmsProvider(io.StringIO())]).send(to, body)


def test_provider_needs_a_sender_and_chain_needs_a_provider() -> None:
    with pytest.raises(ValueError, match="from_number"):
        TwilioSmsProvider("AC1", "t")
    with pytest.raises(ValueError, match="providers"):
        SmsSender([])
