"""Markdown (CommonMark-ish) and Slack mrkdwn to plain text, keeping the structure.

Headings, paragraphs, nested lists and quotes keep their lines and indentation;
emphasis marks go; links become ``text (url)`` and images ``[image: alt] (url)``;
code keeps its text verbatim. Slack's mrkdwn (``<url|label>``, ``<@U123>``,
``<#C123|general>``, ``<!here>``, ``*bold*``, HTML entities) is handled by
:func:`slack_mrkdwn_to_text`, with an optional user-name lookup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping

__all__ = ["markdown_to_text", "slack_mrkdwn_to_text"]

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^(\s*)(\d{1,9})[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!~>|])")
_CODE_SLOT = "\x00{}\x00"


def _indent_width(spaces: str) -> int:
    return len(spaces.replace("\t", "    "))


def _inline(text: str) -> str:
    codes: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        codes.append(match.group(2).strip())
        return _CODE_SLOT.format(len(codes) - 1)

    text = _INLINE_CODE.sub(keep_code, text)
    text = _IMAGE.sub(lambda m: f"[image: {m.group(1)}] ({m.group(2)})", text)
    text = _LINK.sub(
        lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", text
    )
    text = _AUTOLINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    for _ in range(3):  # nested emphasis such as ***x***
        text = _STRONG.sub(r"\2", text)
        text = _EMPHASIS.sub(r"\2", text)
    text = _STRIKE.sub(r"\1", text)
    text = _ESCAPE.sub(r"\1", text)
    text = html.unescape(text)
    for index, code in enumerate(codes):
        text = text.replace(_CODE_SLOT.format(index), code)
    return text


def markdown_to_text(markdown: str) -> str:
    """Plain text of ``markdown``; list nesting shows as two spaces per level."""
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be str, got {type(markdown).__name__}")
    out: list[str] = []
    in_fence: str | None = None
    # Indentation (in source columns) of the open list levels.
    list_indents: list[int] = []
    for raw in markdown.splitlines():
        fence = _FENCE.match(raw)
        if in_fence is not None:
            if fence and fence.group(1) == in_fence:
                in_fence = None
            else:
                out.append(raw)
            continue
        if fence:
            in_fence = fence.group(1)
            continue
        if not raw.strip():
            out.append("")
            list_indents.clear()
            continue
        quote_depth = 0
        while match := _QUOTE.match(raw):
            quote_depth += 1
            raw = match.group(1)
        prefix = "> " * quote_depth
        if _RULE.match(raw):
            out.append(prefix.rstrip())
            continue
        if _SETEXT.match(raw) and out and out[-1].strip():
            continue  # the underline of a heading already written
        if heading := _HEADING.match(raw):
            out.append(prefix + _inline(heading.group(2)))
            continue
        bullet = _BULLET.match(raw)
        ordered = _ORDERED.match(raw)
        if bullet or ordered:
            indent = _indent_width((bullet or ordered).group(1))  # type: ignore[union-attr]
            while list_indents and indent < list_indents[-1]:
                list_indents.pop()
            if not list_indents or indent > list_indents[-1]:
                list_indents.append(indent)
            pad = "  " * (len(list_indents) - 1)
            if bullet:
                out.append(f"{prefix}{pad}- {_inline(bullet.group(2))}")
            else:
                assert ordered is not None
                out.append(f"{prefix}{pad}{ordered.group(2)}. {_inline(ordered.group(3))}")
            continue
        if list_indents and raw.startswith(" "):
            # a continuation line of the current list item
            pad = "  " * len(list_indents)
            out.append(f"{prefix}{pad}{_inline(raw.strip())}")
            continue
        list_indents.clear()
        out.append(prefix + _inline(raw.strip()))
    return _squeeze_blank_lines(out)


def _squeeze_blank_lines(lines: list[str]) -> str:
    kept: list[str] = []
    for line in lines:
        if not line.strip() and (not kept or not kept[-1].strip()):
            continue
        kept.append(line.rstrip())
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


_SLACK_ENTITY = re.compile(r"<([^<>]+)>")
_SLACK_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_SLACK_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_SLACK_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_SLACK_CODE_BLOCK = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)
_SLACK_CODE = re.compile(r"`([^`\n]+)`")


def _slack_entity(body: str, user_names: Callable[[str], str | None]) -> str:
    target, _, label = body.partition("|")
    if target.startswith("@"):
        name = label or user_names(target[1:]) or target[1:]
        return f"@{name}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        command = target[1:]
        if label:
            return label
        if command.startswith("subteam^"):
            return f"@{command.removeprefix('subteam^')}"
        return f"@{command}" if command in {"here", "channel", "everyone"} else command
    if label and label != target:
        return f"{label} ({target.removeprefix('mailto:')})"
    return target.removeprefix("mailto:")


def slack_mrkdwn_to_text(
    mrkdwn: str,
    user_names: Mapping[str, str] | Callable[[str], str | None] | None = None,
) -> str:
    """Plain text of a Slack message ``text``.

    ``user_names`` maps user ids to display names for ``<@U123>`` mentions
    (a dict or a function); unknown ids are shown as the id.
    """
    if not isinstance(mrkdwn, str):
        raise TypeError(f"mrkdwn must be str, got {type(mrkdwn).__name__}")
    if user_names is None:
        lookup: Callable[[str], str | None] = lambda _uid: None  # noqa: E731
    elif isinstance(user_names, Mapping):
        lookup = user_names.get
    else:
        lookup = user_names
    blocks: list[str] = []

    def keep_block(match: re.Match[str]) -> str:
        blocks.append(html.unescape(match.group(1)))
        return _CODE_SLOT.format(len(blocks) - 1)

    text = _SLACK_CODE_BLOCK.sub(keep_block, mrkdwn)
    text = _SLACK_CODE.sub(keep_block, text)
    text = _SLACK_ENTITY.sub(lambda m: _slack_entity(m.group(1), lookup), text)
    text = _SLACK_BOLD.sub(r"\1", text)
    text = _SLACK_ITALIC.sub(r"\1", text)
    text = _SLACK_STRIKE.sub(r"\1", text)
    # Entities last, so an escaped "&lt;" never turns into a link.
    text = html.unescape(text)
    for index, block in enumerate(blocks):
        text = text.replace(_CODE_SLOT.format(index), block)
    return text
