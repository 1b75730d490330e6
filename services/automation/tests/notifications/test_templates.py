from __future__ import annotations

import pytest

from automation.notifications import (
    MissingTemplateVariable,
    TemplateError,
    TemplateRenderer,
    TemplateSecurityProblem,
    TemplateSyntaxProblem,
)

renderer = TemplateRenderer()


def test_nested_variables_render() -> None:
    out = renderer.render(
        "Hi {{ user.name }} <{{ user.email }}>, welcome to {{ app_name }}",
        {"user": {"name": "John Doe", "email": "john@example.com"}, "app_name": "PyAirtable"},
    )
    assert out == "Hi John Doe <john@example.com>, welcome to PyAirtable"


def test_check_lists_variables_and_rejects_bad_syntax() -> None:
    checked = renderer.check("{{ user.email }} {% for x in items %}{{ x }}{% endfor %}")
    assert checked.variables == {"user", "items"}
    with pytest.raises(TemplateSyntaxProblem, match=r"body: line 2"):
        renderer.check("fine\n{% if %}", field="body")
    with pytest.raises(TemplateSyntaxProblem):
        renderer.check("{{ unclosed")


@pytest.mark.parametrize(
    "data, missing",
    [({}, "'user' is undefined"), ({"user": {}}, "has no attribute 'email'")],
)
def test_missing_variable_fails_with_its_name(data: dict[str, object], missing: str) -> None:
    with pytest.raises(MissingTemplateVariable, match=missing) as info:
        renderer.render("To: {{ user.email }}", data, field="subject")
    assert info.value.field == "subject"


@pytest.mark.parametrize(
    "source",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}",
     "{{ cycler.__init__.__globals__.os }}",
     "{{ items.append(4) }}",
     "{{ 'x' * 100000000 }}",
     "{{ 9 ** 999999 }}"],
)  # fmt: skip
def test_templates_cannot_reach_python_internals(source: str) -> None:
    with pytest.raises(TemplateError) as info:
        renderer.render(source, {"items": [1, 2, 3]})
    assert isinstance(info.value, TemplateSecurityProblem | MissingTemplateVariable)


def test_html_escapes_values_but_text_does_not() -> None:
    data = {"name": "<script>alert(1)</script>"}
    assert renderer.render("<p>{{ name }}</p>", data, html=True) == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )
    assert renderer.render("{{ name }}", data) == data["name"]


def test_huge_and_wrong_type_templates_are_refused() -> None:
    with pytest.raises(TemplateError, match="longer than"):
        renderer.check("x" * 100_001)
    with pytest.raises(TemplateError, match="must be a string"):
        renderer.check(42)  # type: ignore[arg-type]


def test_runtime_errors_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="division by zero"):
        renderer.render("{{ 1 / 0 }}", {})
