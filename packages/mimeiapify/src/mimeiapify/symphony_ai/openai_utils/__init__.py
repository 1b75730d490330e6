"""1.4's placeholder package for OpenAI helpers (it exported nothing either)."""

__all__: list[str] = []
