"""Names and ids are checked as whole strings (issue 14.13): with ``$`` a trailing
newline passed, so "acme\\n" was a valid org of its own."""

from __future__ import annotations

import pytest

from common_mesh.errors import MeshNameError
from common_mesh.protocol import validate_batch_id, validate_name


@pytest.mark.parametrize("name", ["acme\n", "acme\r\n", "\nacme"])
def test_a_name_with_a_newline_is_refused(name: str) -> None:
    assert validate_name("org", "acme") == "acme"
    with pytest.raises(MeshNameError, match="org"):
        validate_name("org", name)


def test_a_batch_id_with_a_newline_is_refused() -> None:
    assert validate_batch_id("0" * 32) == "0" * 32
    with pytest.raises(ValueError, match="32 lowercase hex"):
        validate_batch_id("0" * 32 + "\n")
