"""Request bodies of the Cloud API's ``POST /{phone_number_id}/messages``, checked before sending.

Every builder returns exactly Meta's body (``messaging_product: "whatsapp"``,
``recipient_type: "individual"``, ``to``, ``type`` and the type's object) or
raises :class:`~mimeiapify.errors.WhatsAppValidationError` naming the field.
Limits are Meta's documented ones: text bodies up to 4,096 characters, captions
up to 1,024, up to 3 reply buttons (titles up to 20), lists of up to 10 rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mimeiapify.errors import WhatsAppValidationError

MediaKind = Literal["image", "audio", "video", "document", "sticker"]
MEDIA_KINDS: tuple[str, ...] = ("image", "audio", "video", "document", "sticker")
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_INTERACTIVE_BODY = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
_E164_DIGITS = re.compile(r"\+?([1-9][0-9]{6,14})")
_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_PLACEHOLDER = re.compile(r"\{\{\s*([0-9]+|[a-z_][a-z0-9_]*)\s*\}\}")


def bad(field: str, message: str) -> WhatsAppValidationError:
    return WhatsAppValidationError(f"{field}: {message}", field=field)


def phone(value: Any, field: str = "to") -> str:
    """E.164 digits (an optional leading ``+`` is dropped): country code and number, 7-15 digits."""
    if not isinstance(value, str):
        raise bad(field, f"must be a phone number string, got {type(value).__name__}")
    match = _E164_DIGITS.fullmatch(value.strip())
    if match is None:
        raise bad(field, "must be an E.164 phone number: country code and number, digits only")
    return match.group(1)


def text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad(field, "must be a non-empty string")
    if len(value) > limit:
        raise bad(field, f"must be at most {limit} characters, got {len(value)}")
    return value


def _optional_text(value: Any, field: str, limit: int) -> str | None:
    return None if value is None else text(value, field, limit)


def message_id(value: Any, field: str = "message_id") -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad(field, "must be a WhatsApp message id (wamid....)")
    return value


def envelope(to: str, kind: str, content: Any, reply_to: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": phone(to),
        "type": kind,
        kind: content,
    }
    if reply_to is not None:
        body["context"] = {"message_id": message_id(reply_to, "reply_to")}
    return body


def text_message(
    to: str, body: str, preview_url: bool = False, reply_to: str | None = None
) -> dict[str, Any]:
    if not isinstance(preview_url, bool):
        raise bad("preview_url", "must be a boolean")
    content = {"preview_url": preview_url, "body": text(body, "body", MAX_TEXT)}
    return envelope(to, "text", content, reply_to)


def template_message(
    to: str,
    name: str,
    language: str,
    components: Sequence[Mapping[str, Any]] | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    if not isinstance(name, str) or not _TEMPLATE_NAME.fullmatch(name):
        raise bad("name", "must be a template name: lower-case letters, digits and underscores")
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        raise bad("language", "must be a language code such as en_US or es")
    content: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components is not None:
        content["components"] = template_components(components)
    return envelope(to, "template", content, reply_to)


def template_components(components: Any) -> list[dict[str, Any]]:
    """Check Meta's component objects: ``type`` header/body/footer/button, parameters present."""
    if not isinstance(components, Sequence) or isinstance(components, str | bytes):
        raise bad("components", "must be a list of component objects")
    checked: list[dict[str, Any]] = []
    for i, component in enumerate(components):
        where = f"components[{i}]"
        if not isinstance(component, Mapping):
            raise bad(where, "must be an object")
        kind = component.get("type")
        if kind not in ("header", "body", "footer", "button"):
            raise bad(f"{where}.type", "must be header, body, footer or button")
        parameters = component.get("parameters", [])
        if not isinstance(parameters, Sequence) or isinstance(parameters, str | bytes):
            raise bad(f"{where}.parameters", "must be a list")
        for j, parameter in enumerate(parameters):
            _template_parameter(parameter, f"{where}.parameters[{j}]")
        if kind == "button":
            if component.get("sub_type") not in ("quick_reply", "url", "copy_code", "flow"):
                raise bad(f"{where}.sub_type", "must be quick_reply, url, copy_code or flow")
            if not isinstance(component.get("index"), int | str):
                raise bad(f"{where}.index", "is required for a button component")
        checked.append(dict(component))
    return checked


def _template_parameter(parameter: Any, where: str) -> None:
    if not isinstance(parameter, Mapping):
        raise bad(where, "must be an object")
    kind = parameter.get("type")
    if not isinstance(kind, str) or not kind:
        raise bad(f"{where}.type", "is required")
    if kind == "text":
        value = parameter.get("text")
        if not isinstance(value, str) or not value.strip():
            raise bad(f"{where}.text", "a text parameter needs a non-empty text")
    elif kind in ("image", "video", "document"):
        media = parameter.get(kind)
        if not isinstance(media, Mapping) or not (media.get("id") or media.get("link")):
            raise bad(f"{where}.{kind}", "needs an id or a link")
    elif kind not in ("currency", "date_time", "payload", "coupon_code", "action", "location"):
        raise bad(f"{where}.type", f"unknown parameter type {kind!r}")


def body_parameters(*values: str) -> list[dict[str, Any]]:
    """The common case: one ``body`` component whose parameters are these texts, in order."""
    params = [{"type": "text", "text": value} for value in values]
    return [{"type": "body", "parameters": params}]


def count_placeholders(template_text: str) -> int:
    """How many distinct ``{{n}}`` / ``{{name}}`` placeholders a template text has."""
    return len(set(_PLACEHOLDER.findall(template_text)))


def media_message(
    to: str,
    kind: str,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    if kind not in MEDIA_KINDS:
        raise bad("kind", f"must be one of {', '.join(MEDIA_KINDS)}, got {kind!r}")
    if (media_id is None) == (link is None):
        raise bad("media_id", "give exactly one of media_id (an uploaded media) or link")
    content: dict[str, Any] = {}
    if media_id is not None:
        content["id"] = text(media_id, "media_id", 256)
    else:
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise bad("link", "must be an http(s) URL")
        content["link"] = link
    if caption is not None:
        if kind in ("audio", "sticker"):
            raise bad("caption", f"a {kind} message has no caption")
        content["caption"] = text(caption, "caption", MAX_CAPTION)
    if filename is not None:
        if kind != "document":
            raise bad("filename", "only a document has a filename")
        content["filename"] = text(filename, "filename", 240)
    return envelope(to, kind, content, reply_to)


def location_message(
    to: str,
    latitude: float,
    longitude: float,
    name: str | None = None,
    address: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    for field, value, bound in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(field, "must be a number of degrees")
        if not -bound <= value <= bound:
            raise bad(field, f"must be between -{bound} and {bound}")
    content: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name is not None:
        content["name"] = text(name, "name", 1000)
    if address is not None:
        content["address"] = text(address, "address", 1000)
    return envelope(to, "location", content, reply_to)


def contacts_message(
    to: str, contacts: Sequence[Mapping[str, Any]], reply_to: str | None = None
) -> dict[str, Any]:
    if not isinstance(contacts, Sequence) or isinstance(contacts, str) or not contacts:
        raise bad("contacts", "must be a non-empty list of contact objects")
    checked = []
    for i, contact in enumerate(contacts):
        if not isinstance(contact, Mapping):
            raise bad(f"contacts[{i}]", "must be an object")
        name = contact.get("name")
        if not isinstance(name, Mapping) or not name.get("formatted_name"):
            raise bad(f"contacts[{i}].name.formatted_name", "is required")
        checked.append(dict(contact))
    return envelope(to, "contacts", checked, reply_to)


def reaction_message(to: str, message_id_: str, emoji: str) -> dict[str, Any]:
    if not isinstance(emoji, str):
        raise bad("emoji", "must be a string (empty removes the reaction)")
    return envelope(to, "reaction", {"message_id": message_id(message_id_), "emoji": emoji})


def _header(header: Any) -> dict[str, Any] | None:
    if header is None:
        return None
    if isinstance(header, str):
        return {"type": "text", "text": text(header, "header", 60)}
    if isinstance(header, Mapping) and header.get("type") in ("text", *MEDIA_KINDS):
        return dict(header)
    raise bad("header", "must be a text or a header object (type text/image/video/document)")


def interactive_message(
    to: str,
    kind: str,
    body: str,
    *,
    buttons: Sequence[Mapping[str, str]] | None = None,
    button: str | None = None,
    sections: Sequence[Mapping[str, Any]] | None = None,
    display_text: str | None = None,
    url: str | None = None,
    header: Any = None,
    footer: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """``kind`` is ``button`` (reply buttons: ``buttons=[{"id", "title"}]``), ``list``
    (``button`` label and ``sections=[{"title", "rows": [{"id", "title", "description"}]}]``)
    or ``cta_url`` (``display_text`` and ``url``)."""
    content: dict[str, Any] = {"type": kind}
    if (head := _header(header)) is not None:
        content["header"] = head
    content["body"] = {"text": text(body, "body", MAX_INTERACTIVE_BODY)}
    if footer is not None:
        content["footer"] = {"text": text(footer, "footer", 60)}
    if kind == "button":
        content["action"] = {"buttons": _reply_buttons(buttons)}
    elif kind == "list":
        content["action"] = {
            "button": text(button, "button", MAX_BUTTON_TITLE),
            "sections": _sections(sections),
        }
    elif kind == "cta_url":
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise bad("url", "must be an http(s) URL")
        content["action"] = {
            "name": "cta_url",
            "parameters": {
                "display_text": text(display_text, "display_text", MAX_BUTTON_TITLE),
                "url": url,
            },
        }
    else:
        raise bad("kind", f"must be button, list or cta_url, got {kind!r}")
    return envelope(to, "interactive", content, reply_to)


def _reply_buttons(buttons: Any) -> list[dict[str, Any]]:
    if not isinstance(buttons, Sequence) or not 1 <= len(buttons) <= MAX_BUTTONS:
        raise bad("buttons", f"must be a list of 1 to {MAX_BUTTONS} buttons")
    out = []
    for i, item in enumerate(buttons):
        if not isinstance(item, Mapping):
            raise bad(f"buttons[{i}]", "must be an object with id and title")
        reply = {
            "id": text(item.get("id"), f"buttons[{i}].id", 256),
            "title": text(item.get("title"), f"buttons[{i}].title", MAX_BUTTON_TITLE),
        }
        out.append({"type": "reply", "reply": reply})
    return out


def _sections(sections: Any) -> list[dict[str, Any]]:
    if not isinstance(sections, Sequence) or not 1 <= len(sections) <= 10:
        raise bad("sections", "must be a list of 1 to 10 sections")
    out, rows_total = [], 0
    for i, section in enumerate(sections):
        if not isinstance(section, Mapping):
            raise bad(f"sections[{i}]", "must be an object")
        rows = section.get("rows")
        if not isinstance(rows, Sequence) or not rows:
            raise bad(f"sections[{i}].rows", "must be a non-empty list")
        checked_rows = []
        for j, row in enumerate(rows):
            where = f"sections[{i}].rows[{j}]"
            if not isinstance(row, Mapping):
                raise bad(where, "must be an object")
            item = {
                "id": text(row.get("id"), f"{where}.id", 200),
                "title": text(row.get("title"), f"{where}.title", MAX_ROW_TITLE),
            }
            description = _optional_text(
                row.get("description"), f"{where}.description", MAX_ROW_DESCRIPTION
            )
            if description is not None:
                item["description"] = description
            checked_rows.append(item)
        rows_total += len(checked_rows)
        entry: dict[str, Any] = {"rows": checked_rows}
        if section.get("title") is not None:
            entry["title"] = text(section["title"], f"sections[{i}].title", MAX_ROW_TITLE)
        out.append(entry)
    if rows_total > MAX_LIST_ROWS:
        raise bad("sections", f"a list holds at most {MAX_LIST_ROWS} rows, got {rows_total}")
    if len(out) > 1 and any("title" not in s for s in out):
        raise bad("sections", "every section needs a title when there are several")
    return out


def read_receipt(message_id_: str, typing: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message_id(message_id_),
    }
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body
