"""Small date and text helpers (1.4's ``mimeiapify.utils.helper_functions``).

Time zones come from the standard library (:mod:`zoneinfo`); a naive datetime
or an ISO text without an offset is taken as UTC. Parsing failures give
``None`` (or the input text back, for :func:`format_date_friendly`) instead of
raising, as in 1.4, and are logged.
"""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from mimeiapify.utils.logger import logger

SPANISH_MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip
_HEADING = re.compile(r"^#{1,6}\s+")
_SPACES = re.compile(r"\s+")


def parse_datetime_to_target_tz(
    dt_input: str | datetime | None, target_tz_str: str
) -> datetime | None:
    """``dt_input`` (ISO text, ``Z`` allowed, or a datetime) in the zone ``target_tz_str``."""
    if dt_input is None:
        return None
    target = ZoneInfo(target_tz_str)
    if isinstance(dt_input, str):
        try:
            moment = datetime.fromisoformat(dt_input.replace("Z", "+00:00"))
        except ValueError:
            logger.error("could not parse the datetime text %r", dt_input)
            return None
    elif isinstance(dt_input, datetime):
        moment = dt_input
    else:
        logger.error("cannot parse a %s as a datetime", type(dt_input).__name__)
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(target)


def datetime_to_iso_string(dt_aware: datetime | None) -> str | None:
    """ISO 8601 text (with its offset when the datetime has a zone)."""
    if dt_aware is None:
        return None
    if dt_aware.tzinfo is None:
        logger.warning("datetime %s has no time zone; its ISO text has no offset", dt_aware)
    return dt_aware.isoformat()


def format_date_friendly(iso_date_str: str, target_tz_str: str = "UTC") -> str:
    """``'2025-01-16T15:04:09.000Z'`` -> ``'16 de enero del 2025'`` (the day as seen in
    ``target_tz_str``); the input comes back unchanged when it cannot be read."""
    try:
        moment = parse_datetime_to_target_tz(iso_date_str, target_tz_str)
    except (ValueError, KeyError) as exc:  # an unknown zone name
        logger.error("cannot format %r for zone %r: %s", iso_date_str, target_tz_str, exc)
        return iso_date_str
    if moment is None:
        return iso_date_str
    return f"{moment.day} de {SPANISH_MONTHS[moment.month - 1]} del {moment.year}"


def robust_clean_text(
    text: str, collapse_spaces: bool = True, collapse_newlines: bool = True
) -> str:
    """Tidy text for chat: dedent, drop Markdown heading marks, turn ``**`` into ``*``,
    strip each line, optionally squeeze runs of spaces and of blank lines, trim."""
    lines = []
    for line in textwrap.dedent(text).splitlines():
        line = _HEADING.sub("", line).replace("**", "*").strip()
        lines.append(_SPACES.sub(" ", line) if collapse_spaces else line)
    if collapse_newlines:
        squeezed: list[str] = []
        for line in lines:
            if line or (squeezed and squeezed[-1]):
                squeezed.append(line)
        lines = squeezed
    return "\n".join(lines).strip()
