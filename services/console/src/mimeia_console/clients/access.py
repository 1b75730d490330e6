"""Whose credentials a call to a service carries, and what they may do there.

One request's :class:`Access` to one service (FlowMesh, slack-connect): the token
its calls carry and whether it may read and act. ``auth.flowmesh_access`` and
``auth.slack_access`` choose it from the signed-in user by one rule; the clients
ask :meth:`Access.refusal` before each call, so a service's action never runs
with a token the user did not give.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Access:
    """The token one request's calls to a service carry (None: none) and whether
    they may read and act. The token is never shown nor logged."""

    token: str | None = field(repr=False)
    may_read: bool
    may_act: bool

    def refusal(self, credential: str, what: str, act: str | None = None) -> str | None:
        """Why this request may not see ``what`` (or do ``act``), in the words of
        "sign in with <credential> to ...", or None when it may."""
        if act is not None and not self.may_act:
            return f"sign in with {credential} to {act}"
        if not self.may_read:
            return f"sign in with {credential} to see {what}"
        return None
