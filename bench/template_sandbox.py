"""Template renders: the bounded sandbox vs Jinja's plain immutable sandbox, same templates.

Renders ordinary templates (a notification body with a loop and filters, a
workflow config with a few expressions) many times with each environment and
reports renders per second; then the attacks from issue 14, which only the
bounded sandbox survives (the plain sandbox would run them for minutes or
allocate gigabytes), with the time each takes to be refused. The final line is
the bounded sandbox's render rate over the plain one's.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from _harness import line, ratio
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from automation.sandbox import BoundedSandbox, LimitExceeded

ORDER = {
    "user": {"name": "Ana", "email": "ana@example.com"},
    "items": [{"sku": f"SKU-{i}", "qty": i % 3 + 1, "price": 9.5 + i} for i in range(40)],
}
TEMPLATES = [
    "Hi {{ user.name|title }}, your order:\n"
    "{% for it in items %}{{ loop.index }}. {{ it.sku }} x{{ it.qty }}"
    " = {{ '%.2f'|format(it.qty * it.price) }}\n{% endfor %}"
    "Total: {{ items|sum(attribute='price')|round(2) }} ({{ items|length }} lines)",
    "{{ user.email|lower }}|{{ items|map(attribute='sku')|join(',') }}",
    "{% if items|length > 10 %}big{% else %}small{% endif %} {{ user.name ~ '!' }}",
]
ATTACKS = {
    "9**(9**8)": "{{ 9**(9**8) }}",
    "nested range 15000^2": "{% for i in range(n) %}{% for j in range(n) %}{% endfor %}"
    "{% endfor %}",
    "[1MB]*400|join": "{{ ([('x'*1000000)]*400)|join|length }}",
    "'x'.ljust(10**7)": "{{ 'x'.ljust(10**7) }}",
}


def rate(render: Callable[[], Any], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        render()
        count += 1
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="per template and side")
    args = parser.parse_args()
    ours_env = BoundedSandbox()
    plain_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    ours_total = plain_total = 0.0
    for i, source in enumerate(TEMPLATES):
        ours_t, plain_t = ours_env.from_string(source), plain_env.from_string(source)
        assert ours_t.render(ORDER) == plain_t.render(ORDER)
        plain = rate(lambda t=plain_t: t.render(ORDER), args.seconds)  # type: ignore[misc]
        ours = rate(lambda t=ours_t: t.render(ORDER), args.seconds)  # type: ignore[misc]
        line(f"template {i} plain sandbox", plain, "renders/s")
        line(f"template {i} bounded sandbox", ours, "renders/s")
        plain_total += 1 / plain
        ours_total += 1 / ours
    for name, source in ATTACKS.items():
        started = time.perf_counter()
        try:
            ours_env.from_string(source).render(n=15000)
        except LimitExceeded:
            pass
        else:
            raise AssertionError(f"{name} was not refused")
        line(f"attack {name} refused in", (time.perf_counter() - started) * 1000, "ms")
    ratio("bounded/plain sandbox render rate", 1 / ours_total, 1 / plain_total)


if __name__ == "__main__":
    main()
