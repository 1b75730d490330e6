from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common_core.lists import flatten, iter_flat
from common_core.markdown import markdown_to_text, slack_mrkdwn_to_text
from common_core.strings import (
    contains_insensitive,
    equals_insensitive,
    fold_diacritics,
    normalize_for_search,
)


def test_fold_diacritics_handles_marks_and_special_letters() -> None:
    assert fold_diacritics("Ñandú Ærø Straße Łódź") == "Nandu AEro Strasse Lodz"
    assert fold_diacritics("") == ""


def test_case_and_accent_insensitive_compare_and_search() -> None:
    assert equals_insensitive("José  Pérez", "jose perez")
    assert not equals_insensitive("José", "Josefa")
    assert contains_insensitive("Reunión de PLANIFICACIÓN", "planificacion")
    assert normalize_for_search("  ÉCOLE\tnormale ") == "ecole normale"


def test_strings_reject_wrong_type() -> None:
    with pytest.raises(TypeError, match="text must be str"):
        fold_diacritics(b"bytes")  # type: ignore[arg-type]


@given(st.text())
def test_folding_is_idempotent(text: str) -> None:
    once = fold_diacritics(text)
    assert fold_diacritics(once) == once


def test_flatten_nested_keeps_strings_and_dicts_whole() -> None:
    assert flatten([1, [2, [3, (4,)]], "ab", {"k": 1}]) == [1, 2, 3, 4, "ab", {"k": 1}]
    assert flatten([1, [2, [3]]], max_depth=1) == [1, 2, [3]]
    assert flatten([]) == []


def test_flatten_deep_nesting_without_recursion_limit() -> None:
    nested: list[object] = [0]
    for i in range(1, 5000):
        nested = [nested, i]
    assert list(iter_flat(nested)) == list(range(5000))


def test_flatten_rejects_negative_depth() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        flatten([1], max_depth=-1)


def test_markdown_keeps_structure() -> None:
    source = """# Weekly *notes*

Intro with **bold**, `co*de*` and a [link](https://example.com "t").

- first
  - nested [docs](https://d.io)
    1. deep
- second

![diagram](https://img.example.com/d.png)

> quoted _text_

```
raw **stays**
```
"""
    assert markdown_to_text(source) == "\n".join(
        [
            "Weekly notes",
            "",
            "Intro with bold, co*de* and a link (https://example.com).",
            "",
            "- first",
            "  - nested docs (https://d.io)",
            "    1. deep",
            "- second",
            "",
            "[image: diagram] (https://img.example.com/d.png)",
            "",
            "> quoted text",
            "",
            "raw **stays**",
        ]
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # reference links, full, collapsed and shortcut, with their definitions read
        (
            'See [the docs][1], [RFC][] and [rfc].\n\n[1]: https://d.io "t"\n[rfc]: https://rfc.io',
            "See the docs (https://d.io), RFC (https://rfc.io) and rfc (https://rfc.io).",
        ),
        # brackets in link text, parentheses in the URL
        ("[see [RFC] 123](https://x.io)", "see [RFC] 123 (https://x.io)"),
        (
            "[w](https://en.wikipedia.org/wiki/Foo_(bar))",
            "w (https://en.wikipedia.org/wiki/Foo_(bar))",
        ),
        ("![a [b]](https://i.io/x.png)", "[image: a [b]] (https://i.io/x.png)"),
        ("[a](<url with space>)", "a (url with space)"),
        ("| a | b |\n|---|---|\n| 1 | *2* |", "a | b\n1 | 2"),
    ],
)
def test_markdown_links_read_as_commonmark_says(source: str, expected: str) -> None:
    assert markdown_to_text(source) == expected


def test_markdown_empty_and_wrong_type() -> None:
    assert markdown_to_text("") == ""
    with pytest.raises(TypeError):
        markdown_to_text(None)  # type: ignore[arg-type]


def test_slack_mrkdwn_entities_and_formatting() -> None:
    text = (
        "Hi <@U024BE7LH> and <@U999>, see <https://slack.com|the docs> in <#C024BE7LR|general>. "
        "<!here> *bold* _it_ ~gone~ `x *y*` &lt;not a link&gt; <mailto:a@b.co|mail>"
    )
    assert slack_mrkdwn_to_text(text, {"U024BE7LH": "spengler"}) == (
        "Hi @spengler and @U999, see the docs (https://slack.com) in #general. "
        "@here bold it gone x *y* <not a link> mail (a@b.co)"
    )


def test_slack_mrkdwn_name_lookup_function_and_subteam() -> None:
    assert slack_mrkdwn_to_text("<@U1> <!subteam^S1|@oncall>", lambda uid: uid.lower()) == (
        "@u1 @oncall"
    )
