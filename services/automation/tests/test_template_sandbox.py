"""The bounded template sandbox (issue 14, items 1 and 2): each attack an outside
probe used is stopped quickly and small, in workflow templates and notification
templates alike, and ordinary templates still render."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from automation import sandbox, templating
from automation.notifications import TemplateError, TemplateRenderer

renderer = TemplateRenderer()

NESTED_RANGE = "{% for i in range(n) %}{% for j in range(n) %}{% endfor %}{% endfor %}"
ATTACKS = {
    "power": "{{ 9**(9**8) }}",
    "power_from_data": "{{ n ** (9**8) }}",
    "nested_range": NESTED_RANGE,
    "join_of_repeated": "{{ ([('x'*1000000)]*400)|join|length }}",
    "ljust": "{{ 'x'.ljust(10**7) }}",
    "repeat": "{{ 'x'*10**7 }}",
    "center_filter": "{{ 'x'|center(10**9) }}",
    "percent_width": "{{ '%999999999s' % 'x' }}",
    "format_width": "{{ '{:>999999999}'.format('x') }}",
    "format_reuse": "{{ ('{0}' * 1000).format('x' * 100000) }}",
    "mapping_reuse": "{{ '%(a)s' * 1000 % {'a': 'x' * 100000} }}",
    "batch_fill": "{{ [1]|batch(10**9, 'x')|list }}",
    "to_bytes": "{{ (5).to_bytes(10**9, 'big') }}",
    "replace_growth": "{{ ('x'*100000).replace('x', 'x'*100) }}",
    "doubling_concat": "{% set ns = namespace(s='x'*1000000) %}"
    "{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "doubling_plus": "{% set ns = namespace(s=[0]*50000) %}"
    "{% for i in range(30) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "squaring": "{% set ns = namespace(v=n**50) %}"
    "{% for i in range(30) %}{% set ns.v = ns.v * ns.v %}{% endfor %}",
    "many_big_values": "{{ range(10000)|map('center', 1000000)|list|length }}",
    "buffer_growth": "{% set x %}{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}"
    "{% endset %}",
    "sum_of_lists": "{{ ([[0]*100000]*100)|sum(start=[])|length }}",
}


def _measure(render: Callable[[], Any]) -> tuple[BaseException | None, float, int]:
    """(the error raised, seconds, peak bytes allocated) of one render."""
    tracemalloc.start()
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        render()
    except Exception as exc:
        error = exc
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, elapsed, peak


@pytest.mark.parametrize("name", list(ATTACKS))
def test_workflow_templates_stop_attacks_fast_and_small(name: str) -> None:
    scope = {"n": 15000}
    error, elapsed, peak = _measure(lambda: templating.render(ATTACKS[name], scope, "config.x"))
    assert isinstance(error, templating.TemplateError), (name, error)
    assert str(error).startswith("config.x: template stopped:"), error
    assert elapsed < 2.5, (name, elapsed)
    assert peak < 64 * 2**20, (name, peak)


@pytest.mark.parametrize("name", ["nested_range", "join_of_repeated", "ljust", "format_width"])
def test_notification_templates_stop_attacks_fast_and_small(name: str) -> None:
    error, elapsed, peak = _measure(
        lambda: renderer.render(ATTACKS[name], {"n": 15000}, field="body")
    )
    assert isinstance(error, TemplateError) and error.field == "body", error
    assert "template stopped" in error.message
    assert elapsed < 2.5 and peak < 64 * 2**20, (elapsed, peak)


def test_ljust_is_refused_like_repetition() -> None:
    for source in ("{{ 'x' * 10**7 }}", "{{ 'x'.ljust(10**7) }}", "{{ 'x'.zfill(10**7) }}"):
        with pytest.raises(templating.TemplateError, match="longer than 1000000"):
            templating.render(source, {})
    # Markup (what |safe and |e give in HTML bodies) has Python-level ljust/center
    for source in ("{{ ('x'|safe).ljust(10**7) }}", "{{ ('x'|e).center(10**7) }}"):
        error, _, peak = _measure(lambda s=source: renderer.render(s, {}, html=True))
        assert isinstance(error, TemplateError) and "longer than 1000000" in str(error)
        assert peak < 16 * 2**20, peak


@pytest.mark.parametrize(
    "source",
    [ATTACKS["power"], ATTACKS["repeat"], "{{ range(10**9)|list }}",
     "{% for i in range(15000) %}{% for j in range(15000) %}{% endfor %}{% endfor %}"],
)  # fmt: skip
def test_checking_a_template_refuses_constant_attacks_without_running_them(source: str) -> None:
    started = time.perf_counter()
    problems = templating.syntax_problems(source, "steps[0].config.output")
    assert time.perf_counter() - started < 0.5
    assert problems and problems[0].startswith("steps[0].config.output: template would exceed")
    with pytest.raises(TemplateError, match="would exceed"):
        renderer.check(source, field="body")


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "1" * 5000 + " }}",
        "{{ range(10**100) }}",
        "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    ],
)
def test_checking_odd_templates_names_the_problem(source: str) -> None:
    problems = templating.syntax_problems(source, "steps[0].config.output")
    assert problems and problems[0].startswith("steps[0].config.output: "), problems
    with pytest.raises(TemplateError) as info:
        renderer.check(source, field="body")
    assert info.value.field == "body"


def test_checking_never_runs_a_template() -> None:
    # a template whose cost depends on data is parsed, not run, when it is saved
    assert templating.syntax_problems(NESTED_RANGE, "x") == []
    assert renderer.check(NESTED_RANGE).variables == {"n"}


def test_a_render_stops_at_its_deadline_and_a_time_limit_cuts_it() -> None:
    slow = (
        "{% set s = 'x' * 1000000 %}"
        "{% for i in range(100000) %}{% if 'yx' in s %}{% endif %}{% endfor %}"
    )
    started = time.perf_counter()
    with pytest.raises(templating.TemplateError, match="longer than 2s"):
        templating.render(slow, {})
    assert 1.9 < time.perf_counter() - started < 4.0
    started = time.perf_counter()
    with sandbox.time_limit(0.3), pytest.raises(templating.TemplateError, match=r"0\.3s"):
        templating.render(slow, {})
    assert time.perf_counter() - started < 1.5


def test_output_is_bounded_while_rendering() -> None:
    source = "{% for i in range(90000) %}{{ big ~ i }}{% endfor %}"
    error, elapsed, peak = _measure(lambda: renderer.render(source, {"big": "y" * 1000}))
    assert isinstance(error, TemplateError) and "more than 1000000 characters" in str(error)
    # stopped after ~1000 pieces (1 MB), not after making all 90000 (90 MB)
    assert elapsed < 1.0 and peak < 16 * 2**20, (elapsed, peak)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("{{ 'hello %s'|format('w') }}", "hello w"),
        ("{{ [1, 2, 3]|join(', ') }}", "1, 2, 3"),
        ("{{ users|join(', ', attribute='name') }}", "a, b"),
        ("sum {{ users|sum(attribute='n') }}", "sum 3"),
        ("{{ 'ab'|center(6) }}|", "  ab  |"),
        ("{{ '%05d' % 42 }} {{ '{:>5}'.format('a') }}", "00042     a"),
        ("{{ '{a}-{b}'.format_map({'a': 1, 'b': 2}) }}", "1-2"),
        ("{{ 2 ** 64 }} {{ 'ab' * 3 }} {{ [1] + [2] }}", "18446744073709551616 ababab [1, 2]"),
        ("{% for u in users recursive %}{{ u.name }}{{ loop(u.kids) }}{% endfor %}", "ab"),
        ("{% for i in range(3) if i != 1 %}{{ loop.index }}{{ i }}{% endfor %}", "1022"),
        ("{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(1) ~ m(2) }}", "<1><2>"),
        ("{% set t %}{{ 'a'.ljust(3, '.') }}{% endset %}{{ t|upper }}", "A.."),
        ("{{ 'a,b'.split(',')|reverse|join }} {{ 'x y'|replace(' ', '_') }}", "ba x_y"),
    ],
)
def test_ordinary_templates_still_render(source: str, expected: str) -> None:
    users = [{"name": "a", "n": 1, "kids": []}, {"name": "b", "n": 2, "kids": []}]
    assert templating.render(source, {"users": users}) == expected
    assert renderer.render(source, {"users": users}) == expected


def test_single_expression_keeps_its_type() -> None:
    assert templating.render("{{ items|map(attribute='v')|list }}", {"items": [{"v": 1}]}) == [1]
    assert templating.evaluate("n > 3", {"n": 4}) is True
