"""A 422 that lists every problem with what was sent, each naming its field."""

from __future__ import annotations

from fastapi import HTTPException


class InvalidDefinition(HTTPException):
    def __init__(self, what: str, problems: list[str]) -> None:
        super().__init__(422, detail={"message": f"{what} is not valid", "problems": problems})
        self.problems = problems
