"""The ``whatsapp`` step type and rule action, sending with the run's tenant's number.

Config (strings may be templates, rendered before the step runs)::

    {"kind": "text", "to": "{{ input.from }}", "body": "Hola", "reply_to": "wamid..."}
    {"kind": "template", "to": "...", "template": "order_ready", "language": "es",
     "parameters": ["{{ input.profile_name }}"]}        # or "components": [...]
    {"kind": "media", "to": "...", "media_kind": "image", "link": "https://...",
     "caption": "..."}                                   # or "media_id"; "filename"

The output is ``{"message_id", "wa_id", "message_status"}``. Bad input (a phone
number not in E.164, an empty or too long body, an unknown media kind, a missing
template parameter) fails the step naming the field, before anything is sent.
"""

from __future__ import annotations

from typing import Any

from automation.integrations import credentials_for
from automation.registry import ActionContext, ActionError, ActionType
from automation.whatsapp import provider as _provider  # noqa: F401 (registers "whatsapp")
from mimeiapify.errors import MimeiapifyError
from mimeiapify.whatsapp import messages as m
from mimeiapify.whatsapp_async import WhatsAppAsync

KINDS = ("text", "template", "media")
NOT_CONFIGURED = (
    "whatsapp: not configured for this tenant (PUT /api/v1/integrations/whatsapp/settings "
    "with phone_number_id, access_token, app_secret and verify_token)"
)


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _check(config: dict[str, Any]) -> list[str]:
    """Every problem a config has before rendering (templated values are checked when sent)."""
    problems: list[str] = []
    kind = config.get("kind", "text")
    if kind not in KINDS:
        return [f"config.kind: one of {', '.join(KINDS)}"]
    to = config.get("to")
    if not isinstance(to, str) or not to:
        problems.append("config.to: required (an E.164 phone number, templates allowed)")
    elif not _templated(to):
        try:
            m.phone(to)
        except MimeiapifyError as exc:
            problems.append(f"config.{exc}")
    try:
        if kind == "text":
            body = config.get("body")
            if not _templated(body):
                m.text(body, "body", m.MAX_TEXT)
        elif kind == "template":
            for key in ("template", "language"):
                if not isinstance(config.get(key), str) or not config[key]:
                    problems.append(f"config.{key}: required for a template")
            parameters = config.get("parameters", [])
            if not isinstance(parameters, list):
                problems.append("config.parameters: a list of texts")
            elif any(not isinstance(p, str) or not p.strip() for p in parameters):
                problems.append("config.parameters: every parameter must be a non-empty text")
            if "components" in config:
                m.template_components(config["components"])
        else:
            media_kind = config.get("media_kind")
            if media_kind not in m.MEDIA_KINDS:
                problems.append(f"config.media_kind: one of {', '.join(m.MEDIA_KINDS)}")
            if (config.get("media_id") is None) == (config.get("link") is None):
                problems.append("config.media_id: give exactly one of media_id or link")
    except MimeiapifyError as exc:
        problems.append(f"config.{exc}")
    return problems


def _components(config: dict[str, Any]) -> Any:
    if "components" in config:
        return config["components"]
    parameters = config.get("parameters") or []
    return m.body_parameters(*[str(p) for p in parameters]) if parameters else None


async def send_whatsapp(ctx: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    credentials = await credentials_for(ctx.database, ctx.tenant_id, "whatsapp")
    if credentials is None:
        raise ActionError(NOT_CONFIGURED)
    client = WhatsAppAsync(
        credentials.settings["phone_number_id"],
        credentials.secrets["access_token"],
        api_url=ctx.settings.whatsapp_api_url,
        timeout=float(config.get("timeout_seconds", 30)),
    )
    kind = config.get("kind", "text")
    to = str(config.get("to", ""))
    required = {"text": ("body",), "template": ("template", "language"), "media": ("media_kind",)}
    for key in required.get(kind, ()):
        if config.get(key) is None:
            raise ActionError(f"config.{key}: required for kind {kind}")
    reply_to = config.get("reply_to") or None
    try:
        if kind == "text":
            sent = await client.send_text(
                to, config["body"], bool(config.get("preview_url", False)), reply_to
            )
        elif kind == "template":
            sent = await client.send_template(
                to, config["template"], config["language"], _components(config), reply_to
            )
        elif kind == "media":
            sent = await client.send_media(
                to,
                config["media_kind"],
                media_id=config.get("media_id"),
                link=config.get("link"),
                caption=config.get("caption"),
                filename=config.get("filename"),
                reply_to=reply_to,
            )
        else:
            raise ActionError(f"config.kind: one of {', '.join(KINDS)}")
    except MimeiapifyError as exc:
        raise ActionError(f"whatsapp: {exc}") from None
    return {"message_id": sent.id, "wa_id": sent.wa_id, "message_status": sent.message_status}


# Registered through the entry point group ``automation.action_types``.
WHATSAPP_ACTION = ActionType(
    "whatsapp",
    send_whatsapp,
    _check,
    "Send a WhatsApp text, template or media message from the tenant's number",
)
