"""Text helpers for international data: diacritic folding and case-insensitive matching."""

from __future__ import annotations

import unicodedata

__all__ = ["contains_insensitive", "equals_insensitive", "fold_diacritics", "normalize_for_search"]

# Letters that NFKD does not decompose into base + combining mark.
_SPECIAL_FOLDS = str.maketrans(
    {"ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "Ł": "L",
     "ł": "l", "Đ": "D", "đ": "d", "Þ": "Th", "þ": "th", "\u0131": "i"}
)  # fmt: skip


def fold_diacritics(text: str) -> str:
    """Remove accents and other marks: ``"Ñandú Ærø"`` -> ``"Nandu AEro"``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_FOLDS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_for_search(text: str) -> str:
    """The comparison key: diacritics folded, case folded, whitespace collapsed."""
    return " ".join(fold_diacritics(text).casefold().split())


def equals_insensitive(left: str, right: str) -> bool:
    """``"José"`` equals ``"JOSE"``: case, accents and spacing are ignored."""
    return normalize_for_search(left) == normalize_for_search(right)


def contains_insensitive(haystack: str, needle: str) -> bool:
    """True when ``needle`` occurs in ``haystack`` ignoring case, accents and spacing."""
    return normalize_for_search(needle) in normalize_for_search(haystack)
