"""Test harness shared by every workspace member (loaded as a pytest plugin).

Fixtures: ``redis_url``, ``redis_prefix``, ``postgres_url``, ``unused_port``.
Helpers: :func:`free_port`, :func:`run_server` (start a real server process and
wait for its ``listening on`` line).
"""

from mimeia.ports import free_port, port_is_open
from mimeia.testing.servers import ServerProcess, run_server

__all__ = ["ServerProcess", "free_port", "port_is_open", "run_server"]
