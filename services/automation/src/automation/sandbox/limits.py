"""How much one render may do, and the errors it raises when it tries more."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2.exceptions import SecurityError


@dataclass(frozen=True)
class Limits:
    """Bounds on one render (one template, or one config with many templates).

    Sizes are checked before an operation allocates where the size can be known
    in advance (``'x' * n``, ``ljust(n)``, ``join``, ``replace``...), and on every
    value an operation returns otherwise.
    """

    # Wall time one render may take; a caller's deadline (a step's timeout) may cut it.
    seconds: float = 2.0
    # Characters the render may output, counted while it renders, in every buffer.
    max_output_chars: int = 1_000_000
    # The longest string (or bytes) any single operation may produce.
    max_string_chars: int = 1_000_000
    # The most items a list, tuple or dict produced by an operation may hold.
    max_items: int = 100_000
    # The largest ``range()``.
    max_range: int = 100_000
    # Loop iterations in the whole render (nested loops multiply, so they add up here).
    max_loop_iterations: int = 100_000
    # Characters and items produced by all operations together (memory the render churns).
    max_work: int = 16_000_000
    # The size of an integer that ``*`` or ``**`` may produce.
    max_int_bits: int = 8_192
    # Widths and precisions in format specs (``'%9999999s'``, ``'{:>9999999}'``).
    max_width: int = 1_000_000


DEFAULT_LIMITS = Limits()


class LimitExceeded(SecurityError):
    """A render tried to do more than its :class:`Limits` allow; ``limit`` names which."""

    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit
        super().__init__(message)


class RenderTimeout(LimitExceeded):
    """A render ran past its deadline (its own ``seconds`` or its caller's)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__("time", f"template took longer than {seconds:g}s")
