"""Markdown (CommonMark) and Slack mrkdwn to plain text, keeping the structure.

Headings, paragraphs, nested lists and quotes keep their lines and indentation;
emphasis marks go; links (inline, reference and autolinks) become
``text (url)`` and images ``[image: alt] (url)``; code keeps its text verbatim;
table rows become cells joined by `` | ``. The Markdown half is parsed by
markdown-it-py, so brackets in link text, parentheses in URLs and reference
definitions read as CommonMark says. Slack's mrkdwn (``<url|label>``,
``<@U123>``, ``<#C123|general>``, ``<!here>``, ``*bold*``, HTML entities) is
handled by :func:`slack_mrkdwn_to_text`, with an optional user-name lookup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

__all__ = ["markdown_to_text", "slack_mrkdwn_to_text"]

_CODE_SLOT = "\x00{}\x00"
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_LIST_PAD = "  "  # list nesting shows as two spaces per level


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def markdown_to_text(markdown: str) -> str:
    """Plain text of ``markdown``; list nesting shows as two spaces per level."""
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be str, got {type(markdown).__name__}")
    tree = SyntaxTreeNode(_parser().parse(markdown))
    return _squeeze_blank_lines(_blocks(tree.children, loose=True))


def _blocks(nodes: list[SyntaxTreeNode], *, loose: bool) -> list[str]:
    """Lines of consecutive blocks; ``loose`` puts a blank line between them."""
    out: list[str] = []
    for node in nodes:
        lines = _block(node)
        if not lines:
            continue
        if loose and out:
            out.append("")
        out.extend(lines)
    return out


def _block(node: SyntaxTreeNode) -> list[str]:
    kind = node.type
    if kind in ("paragraph", "heading"):
        return _inline_of(node).split("\n")
    if kind in ("bullet_list", "ordered_list"):
        lines: list[str] = []
        for item in node.children:
            marker = f"{item.info}. " if kind == "ordered_list" else "- "
            body = _blocks(item.children, loose=False) or [""]
            lines.append(marker + body[0])
            lines.extend(_LIST_PAD + line if line else "" for line in body[1:])
        return lines
    if kind == "blockquote":
        return [f"> {line}" if line else ">" for line in _blocks(node.children, loose=True)]
    if kind in ("fence", "code_block"):
        return node.content.rstrip("\n").split("\n")
    if kind == "html_block":
        text = _HTML_TAG.sub("", node.content).strip()
        return [html.unescape(text)] if text else []
    if kind == "table":
        rows = [row for section in node.children for row in section.children]
        return [" | ".join(_inline_of(cell) for cell in row.children) for row in rows]
    return []  # hr, reference definitions: nothing to read


def _inline_of(node: SyntaxTreeNode) -> str:
    """The text of a block holding one ``inline`` child (paragraph, heading, cell)."""
    return "".join(_inline(child) for inline in node.children for child in inline.children)


def _readable(url: object) -> str:
    """A URL as a person reads it (the parser percent-encodes what it stores)."""
    return _parser().normalizeLinkText(str(url or ""))


def _inline(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind in ("text", "code_inline"):
        return node.content
    if kind in ("softbreak", "hardbreak"):
        return "\n"
    if kind == "image":
        alt = "".join(_inline(child) for child in node.children)
        return f"[image: {alt}] ({_readable(node.attrs.get('src'))})"
    text = "".join(_inline(child) for child in node.children)
    if kind == "link":
        href = _readable(node.attrs.get("href"))
        if node.markup == "autolink" or not href or text == href:
            return text
        return f"{text} ({href})"
    return text  # em, strong, s; html_inline has no children and reads as nothing


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
