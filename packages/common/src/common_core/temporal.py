"""Parse dates in the many shapes APIs send them, always into aware UTC datetimes.

Naive values are taken to be UTC (say otherwise with ``assume_tz``). Slack's
message timestamps (``"1700000000.123456"``) are exact: :func:`parse_slack_ts`
keeps the microseconds and :func:`to_slack_ts` gives the same string back.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

__all__ = [
    "DateParseError",
    "ensure_utc",
    "parse_datetime",
    "parse_slack_ts",
    "to_slack_ts",
    "utc_now",
]


class DateParseError(ValueError):
    """The value is not a date in any format we understand."""


_SLACK_TS = re.compile(r"\d{1,12}(\.\d{1,6})?")  # always used with fullmatch
# A digit string is epoch time only when it is as long as one: 9-11 digits are
# seconds (1973-5138), 12-13 milliseconds; a fraction (Slack's ts) is allowed.
_EPOCH_TEXT = re.compile(r"(\d{9,13})(\.\d{1,6})?")
_DIGITS = re.compile(r"\d+(\.\d+)?")
# Formats tried after ISO 8601, in order; day-first is the common non-US form.
_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y%m%dT%H%M%SZ",
    "%Y%m%d",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y %H:%M:%S",
)
# Seconds (or milliseconds) since the epoch: 10 digits seconds, 13 milliseconds.
_EPOCH_MS_THRESHOLD = 10**11


def utc_now() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime, assume_tz: tzinfo = UTC) -> datetime:
    """An aware UTC datetime; a naive one is read in ``assume_tz``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=assume_tz)
    return value.astimezone(UTC)


def parse_slack_ts(ts: str | float | Decimal) -> datetime:
    """``"1700000000.000200"`` -> ``2023-11-14 22:13:20.000200+00:00`` (exact)."""
    text = str(ts).strip() if not isinstance(ts, float) else f"{ts:.6f}"
    if not _SLACK_TS.fullmatch(text):
        raise DateParseError(f"not a Slack ts: {ts!r}")
    seconds, _, fraction = text.partition(".")
    micros = int((fraction + "000000")[:6])
    return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=micros)


def to_slack_ts(value: datetime) -> str:
    """The Slack ``ts`` string of an aware datetime (six decimals)."""
    value = ensure_utc(value)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    seconds = delta.days * 86400 + delta.seconds
    return f"{seconds}.{delta.microseconds:06d}"


def _from_number(value: float | int | Decimal) -> datetime:
    number = Decimal(str(value))
    if abs(number) >= _EPOCH_MS_THRESHOLD:
        number = number / 1000
    try:
        whole = int(number)
        micros = int((number - whole) * 1_000_000)
        return datetime.fromtimestamp(whole, UTC) + timedelta(microseconds=micros)
    except (OverflowError, OSError, ValueError, InvalidOperation) as exc:
        raise DateParseError(f"epoch value out of range: {value!r}") from exc


def _from_digits(text: str, assume_tz: tzinfo) -> datetime:
    """A bare number as text: a year, a compact date, or epoch time by its length."""
    if len(text) == 4:  # ISO 8601 reduced precision: the year alone
        return ensure_utc(datetime(int(text), 1, 1), assume_tz)
    if len(text) == 8:  # compact date, 20240115
        try:
            return ensure_utc(datetime.strptime(text, "%Y%m%d"), assume_tz)
        except ValueError:
            raise DateParseError(f"not a compact date (YYYYMMDD): {text!r}") from None
    if _EPOCH_TEXT.fullmatch(text):
        number = Decimal(text)
        return parse_slack_ts(text) if number < _EPOCH_MS_THRESHOLD else _from_number(number)
    raise DateParseError(
        f"ambiguous digit string {text!r}: not a year (YYYY), a compact date (YYYYMMDD), "
        "epoch seconds (9-11 digits) or epoch milliseconds (12-13 digits)"
    )


def parse_datetime(value: object, assume_tz: tzinfo = UTC) -> datetime:
    """Parse ``value`` into an aware UTC datetime.

    Accepts datetimes, dates (midnight), epoch seconds or milliseconds (numbers,
    or digit strings of 9-11 digits for seconds, Slack ``ts`` included, and 12-13
    for milliseconds), ISO 8601 (with ``Z`` too; ``"2024"`` is that year's first
    instant, ``"20240115"`` a compact date), RFC 2822 (e-mail and HTTP dates) and
    the common day-first and named-month forms. Any other digit string, and
    anything else, raises :class:`DateParseError`.
    """
    if isinstance(value, datetime):
        return ensure_utc(value, assume_tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=assume_tz).astimezone(UTC)
    if isinstance(value, bool):
        raise DateParseError(f"not a date: {value!r}")
    if isinstance(value, int | float | Decimal):
        return _from_number(value)
    if not isinstance(value, str):
        raise DateParseError(f"cannot parse a date from {type(value).__name__}")
    text = value.strip()
    if not text:
        raise DateParseError("empty date string")
    if _DIGITS.fullmatch(text):
        return _from_digits(text, assume_tz)
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return ensure_utc(datetime.fromisoformat(iso), assume_tz)
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return ensure_utc(datetime.strptime(text, fmt), assume_tz)
        except ValueError:
            continue
    try:
        return ensure_utc(parsedate_to_datetime(text), assume_tz)
    except (TypeError, ValueError, IndexError):
        raise DateParseError(f"unrecognised date format: {value!r}") from None
