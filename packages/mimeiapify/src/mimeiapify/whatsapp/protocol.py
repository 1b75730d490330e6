"""The WhatsApp Cloud API protocol, free of I/O: request plans, retries, errors.

:class:`WhatsAppProtocol` holds one business phone number's id and token and
turns each operation into a plan (:mod:`mimeiapify._plan`) that
:class:`~mimeiapify.whatsapp.WhatsAppAsync` and :class:`~mimeiapify.whatsapp.WhatsApp` run.

Retries: a throughput error (``130429``, Meta's per-number limit) holds every
client of that number for a moment (the shared schedule of
:data:`WHATSAPP_LIMITS`) and tries again; the per-recipient pair limit
(``131056``) waits before trying that recipient again. Both answers mean the
message was *not* sent, so re-sending cannot duplicate it. A 5xx or a dropped
connection after a send is never re-sent (:class:`WhatsAppOutcomeUnknownError`).
Business errors (``131047``, ``132001``, ``131026``, ...) are raised at once,
with a hint.
"""

from __future__ import annotations

import os
import pathlib
import re
from dataclasses import dataclass
from typing import Any

from mimeiapify._plan import (
    ApiErrors,
    FilePart,
    HttpRequest,
    HttpResponse,
    Plan,
    RetryPolicy,
    Sleep,
    call_json,
    exchange,
)
from mimeiapify.errors import (
    WhatsAppAuthError,
    WhatsAppBusinessError,
    WhatsAppConnectionError,
    WhatsAppError,
    WhatsAppNotFoundError,
    WhatsAppOutcomeUnknownError,
    WhatsAppRateLimitError,
    WhatsAppRecipientError,
    WhatsAppReengagementError,
    WhatsAppServerError,
    WhatsAppTemplateError,
    WhatsAppValidationError,
)
from mimeiapify.ratelimit import RateLimiterRegistry, SlidingWindowSchedule
from mimeiapify.whatsapp import messages as m
from mimeiapify.whatsapp.models import MediaInfo, SentMessage

DEFAULT_API_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v23.0"
#: Meta's default throughput: 80 messages per second per business phone number.
DEFAULT_THROUGHPUT = 80
THROUGHPUT_CODE = 130429
PAIR_LIMIT_CODE = 131056
THROTTLE_CODES = frozenset({4, 80007, THROUGHPUT_CODE, PAIR_LIMIT_CODE})
AUTH_CODES = frozenset({0, 3, 10, 190, 200, 299})
# Meta's size limits per media kind (bytes); the Cloud API refuses bigger uploads
MEDIA_MAX_BYTES = {
    "audio": 16 * 1024 * 1024,
    "video": 16 * 1024 * 1024,
    "image": 5 * 1024 * 1024,
    "sticker": 500 * 1024,
    "document": 100 * 1024 * 1024,
}

_NUMERIC_ID = re.compile(r"[0-9]{1,40}")

#: One schedule per phone number id, shared by every client of the process.
WHATSAPP_LIMITS = RateLimiterRegistry()

_HINTS: dict[int, tuple[type[WhatsAppError], str]] = {
    131047: (
        WhatsAppReengagementError,
        "More than 24 hours have passed since the user last wrote to this number: "
        "send an approved template instead of a free-form message",
    ),
    132001: (
        WhatsAppTemplateError,
        "The template does not exist in that language: check its name and language "
        "code in WhatsApp Manager (and that it is approved)",
    ),
    132000: (
        WhatsAppTemplateError,
        "The number of template parameters does not match the template's placeholders",
    ),
    132012: (WhatsAppTemplateError, "A template parameter has the wrong format"),
    132015: (WhatsAppTemplateError, "The template is paused for low quality; use another"),
    132016: (WhatsAppTemplateError, "The template is disabled; create a new one"),
    131026: (
        WhatsAppRecipientError,
        "The recipient cannot receive this message (not on WhatsApp, old app version, "
        "or terms not accepted): check the number or reach them another way",
    ),
    131021: (WhatsAppRecipientError, "The recipient is the sender's own number"),
    131051: (WhatsAppBusinessError, "This message type is not supported"),
    131052: (WhatsAppBusinessError, "The user's media could not be downloaded"),
    131053: (WhatsAppBusinessError, "The media could not be uploaded: check type and size"),
    131031: (WhatsAppBusinessError, "The business account is restricted or disabled"),
    131049: (
        WhatsAppBusinessError,
        "Meta chose not to deliver this marketing message to keep engagement healthy; "
        "do not retry right away",
    ),
    368: (WhatsAppBusinessError, "The account is restricted for policy violations"),
}


@dataclass(frozen=True)
class WhatsAppRetryPolicy(RetryPolicy):
    """:class:`RetryPolicy` (the platform's one) plus the waits of WhatsApp's throughput errors.

    ``throughput_penalty``: how long every client of a number pauses after a
    ``130429``, doubling on each repeat; ``pair_penalty``: the wait after a
    ``131056`` (Meta allows about one message every 6 seconds to one user once
    a burst is spent); at most ``max_throttle_retries`` such waits per call.
    """

    # the connectors' defaults (see mimeiapify.CONNECTOR_RETRY), but a plain 429 waits 1 s
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    rate_limit_penalty: float | None = 1.0
    max_rate_limit_retries: int | None = 3
    throughput_penalty: float = 1.0
    pair_penalty: float = 6.0
    max_throttle_retries: int = 5


def error_from_response(response: HttpResponse) -> WhatsAppError:
    """A Graph API error body (``{"error": {message, type, code, error_subcode,
    error_data: {details}, fbtrace_id}}``) as the matching typed exception."""
    body = response.json_or_none()
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        message = f"the Graph API answered {response.status}"
        cls: type[WhatsAppError] = WhatsAppServerError if response.status >= 500 else WhatsAppError
        if response.status == 404:
            cls = WhatsAppNotFoundError
        return cls(message, status=response.status, body=body)
    code = err.get("code")
    code = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    subcode = err.get("error_subcode")
    data = err["error_data"] if isinstance(err.get("error_data"), dict) else {}
    hint: str | None = None
    if code in _HINTS:
        cls, hint = _HINTS[code]
    elif code in THROTTLE_CODES or response.status == 429:
        cls = WhatsAppRateLimitError
    elif code in AUTH_CODES or response.status in (401, 403):
        cls = WhatsAppAuthError
        hint = "Check the access token (expired or missing whatsapp_business_messaging)"
    elif code == 100 or response.status == 400:
        cls = WhatsAppValidationError
    elif response.status == 404:
        cls = WhatsAppNotFoundError
    elif response.status >= 500:
        cls = WhatsAppServerError
    else:
        cls = WhatsAppError
    return cls(
        str(err.get("message") or f"the Graph API answered {response.status}"),
        status=response.status,
        error_type=err.get("type"),
        body=body,
        code=code,
        error_subcode=subcode if isinstance(subcode, int) else None,
        details=data.get("details"),
        fbtrace_id=err.get("fbtrace_id"),
        hint=hint,
    )


_ERRORS = ApiErrors(
    "the WhatsApp Cloud API",
    error_from_response,
    WhatsAppOutcomeUnknownError,
    WhatsAppConnectionError,
    WhatsAppServerError,
)


def _positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise m.bad(field, "must be a positive integer")
    return value


class WhatsAppProtocol:
    """One business phone number: its id, token, API location, retry policy and pacing.

    ``api_url`` defaults to ``$WHATSAPP_API_URL``, then ``https://graph.facebook.com``;
    ``api_version`` to ``$WHATSAPP_API_VERSION``, then ``v23.0``. ``throughput``
    is the number's messages-per-second limit (Meta's default is 80); every
    client of the same number in this process shares one schedule for it
    (``throughput=None`` turns pacing off).
    """

    def __init__(
        self,
        phone_number_id: str,
        access_token: str,
        *,
        api_url: str | None = None,
        api_version: str | None = None,
        retry: RetryPolicy | None = None,
        throughput: int | None = DEFAULT_THROUGHPUT,
    ) -> None:
        if not isinstance(phone_number_id, str) or not _NUMERIC_ID.fullmatch(phone_number_id):
            raise m.bad("phone_number_id", "must be the numeric id of the business phone number")
        if not isinstance(access_token, str) or not access_token.strip():
            raise m.bad("access_token", "must be a non-empty string")
        self.phone_number_id = phone_number_id
        self._token = access_token.strip()
        url = api_url or os.environ.get("WHATSAPP_API_URL") or DEFAULT_API_URL
        self.api_url = url.rstrip("/")
        version = api_version or os.environ.get("WHATSAPP_API_VERSION") or DEFAULT_API_VERSION
        if not version.startswith("v"):
            raise m.bad("api_version", "must look like v23.0")
        self.api_version = version
        self.retry = retry if retry is not None else WhatsAppRetryPolicy()
        self.schedule: SlidingWindowSchedule | None = None
        if throughput is not None:
            self.schedule = WHATSAPP_LIMITS.schedule(
                f"whatsapp:{self.api_url}:{phone_number_id}",
                _positive_int(throughput, "throughput"),
                1.0,
            )

    def __repr__(self) -> str:  # never the token
        return f"WhatsAppProtocol(phone_number_id={self.phone_number_id!r})"

    # -- plumbing

    def _url(self, *parts: str) -> str:
        return "/".join((self.api_url, self.api_version, *parts))

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _penalty(self, code: int | None, attempt: int) -> float:
        policy = self.retry
        throughput = getattr(policy, "throughput_penalty", 1.0)
        pair = getattr(policy, "pair_penalty", 6.0)
        base = pair if code == PAIR_LIMIT_CODE else throughput
        return float(min(base * (2**attempt), max(policy.max_delay, base)))

    def _call(self, request: HttpRequest) -> Plan[Any]:
        """:func:`call_json` plus WhatsApp's throughput retries."""
        limit = getattr(self.retry, "max_throttle_retries", 5)
        attempt = 0
        while True:
            try:
                return (yield from call_json(request, self.retry, _ERRORS, pacing=self.schedule))
            except WhatsAppRateLimitError as exc:
                if attempt >= limit:
                    raise
                wait = self._penalty(exc.code, attempt)
                attempt += 1
                if exc.code == PAIR_LIMIT_CODE or self.schedule is None:
                    yield Sleep(wait)  # one recipient's limit: do not hold the whole number
                else:
                    self.schedule.penalize(wait)

    def _send(self, body: dict[str, Any]) -> Plan[SentMessage]:
        request = HttpRequest(
            "POST",
            self._url(self.phone_number_id, "messages"),
            json=body,
            headers=self._auth,
            idempotent=False,  # a repeated send is a second message on the user's phone
        )
        return SentMessage.from_api((yield from self._call(request)))

    # -- messages

    def send_text(
        self, to: str, body: str, preview_url: bool = False, reply_to: str | None = None
    ) -> Plan[SentMessage]:
        return self._send(m.text_message(to, body, preview_url, reply_to))

    def send_template(self, to: str, name: str, language: str, components: Any = None,
                      reply_to: str | None = None) -> Plan[SentMessage]:  # fmt: skip
        return self._send(m.template_message(to, name, language, components, reply_to))

    def send_media(self, to: str, kind: str, media_id: str | None = None, link: str | None = None,
                   caption: str | None = None, filename: str | None = None,
                   reply_to: str | None = None) -> Plan[SentMessage]:  # fmt: skip
        return self._send(m.media_message(to, kind, media_id, link, caption, filename, reply_to))

    def send_interactive(self, to: str, kind: str, body: str, **options: Any) -> Plan[SentMessage]:
        return self._send(m.interactive_message(to, kind, body, **options))

    def send_location(self, to: str, latitude: float, longitude: float, name: str | None = None,
                      address: str | None = None,
                      reply_to: str | None = None) -> Plan[SentMessage]:  # fmt: skip
        return self._send(m.location_message(to, latitude, longitude, name, address, reply_to))

    def send_contacts(self, to: str, contacts: Any, reply_to: str | None = None
                      ) -> Plan[SentMessage]:  # fmt: skip
        return self._send(m.contacts_message(to, contacts, reply_to))

    def send_reaction(self, to: str, message_id: str, emoji: str) -> Plan[SentMessage]:
        return self._send(m.reaction_message(to, message_id, emoji))

    def mark_as_read(self, message_id: str, typing: bool = False) -> Plan[bool]:
        request = HttpRequest(
            "POST",
            self._url(self.phone_number_id, "messages"),
            json=m.read_receipt(message_id, typing),
            headers=self._auth,
            idempotent=True,  # reading twice is reading once
        )
        answer = yield from self._call(request)
        return bool(answer.get("success"))

    # -- media

    def upload_media(self, file: Any, mime_type: str, filename: str | None = None
                     ) -> Plan[str]:  # fmt: skip
        """Upload ``file`` (a path, or bytes) and return its media id."""
        if not isinstance(mime_type, str) or "/" not in mime_type:
            raise m.bad("mime_type", "must be a MIME type such as image/jpeg")
        if isinstance(file, bytes | bytearray):
            if not file:
                raise m.bad("file", "is empty")
            part = FilePart("file", filename or "upload", mime_type, data=bytes(file))
        elif isinstance(file, str | os.PathLike):
            path = pathlib.Path(file)
            if not path.is_file():
                raise m.bad("file", f"no such file: {path}")
            part = FilePart("file", filename or path.name, mime_type, path=str(path))
        else:
            raise m.bad("file", "must be a path or bytes")
        request = HttpRequest(
            "POST",
            self._url(self.phone_number_id, "media"),
            headers=self._auth,
            form=(("messaging_product", "whatsapp"), ("type", mime_type)),
            files=(part,),
            # a repeated upload only makes an unused copy that expires on its own
            idempotent=True,
        )
        answer = yield from self._call(request)
        return str(answer["id"])

    def get_media(self, media_id: str) -> Plan[MediaInfo]:
        media_id = m.text(media_id, "media_id", 256)
        request = HttpRequest(
            "GET",
            self._url(media_id),
            params=(("phone_number_id", self.phone_number_id),),
            headers=self._auth,
        )
        return MediaInfo.from_api((yield from self._call(request)))

    def download_media(self, media_id: str, path: str | None = None,
                       max_bytes: int = MEDIA_MAX_BYTES["document"]) -> Plan[Any]:  # fmt: skip
        """The media's bytes, or (with ``path``) stream them into that file and return
        the :class:`MediaInfo`; the download URL needs the same bearer token."""
        info = yield from self.get_media(media_id)
        if info.file_size > max_bytes:
            raise m.bad("media_id", f"the media is {info.file_size} bytes, over {max_bytes}")
        request = HttpRequest(
            "GET", info.url, headers=self._auth, save_to=path, max_bytes=max_bytes
        )
        reply = yield from exchange(request, self.retry)
        if not isinstance(reply, HttpResponse):
            raise WhatsAppConnectionError(f"could not download media {media_id}: {reply.error!r}")
        if reply.status >= 300:
            raise error_from_response(reply)
        if path is not None:
            return info
        if len(reply.body) > max_bytes:
            raise m.bad("media_id", f"the media is over {max_bytes} bytes")
        return reply.body

    def delete_media(self, media_id: str) -> Plan[bool]:
        request = HttpRequest(
            "DELETE",
            self._url(m.text(media_id, "media_id", 256)),
            params=(("phone_number_id", self.phone_number_id),),
            headers=self._auth,
        )
        return bool((yield from self._call(request)).get("success"))
