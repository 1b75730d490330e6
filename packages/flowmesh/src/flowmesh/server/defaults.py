"""The server's defaults, free of its dependencies so the ``flowmesh`` command can show
them (and run its SDK-only admin commands) without the ``server`` extra."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 50051
DEFAULT_STORE = "sqlite:///.mimeia/flowmesh.db"
TOKENS_ENV = "FLOWMESH_TOKENS"
# a read or subscribe frame stops adding messages before passing this many bytes
DEFAULT_RESPONSE_BYTES = 4 * 1024 * 1024


def parse_addr(text: str, field: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``; ``:PORT`` means 0.0.0.0) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{field}: expected HOST:PORT, got {text!r}")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - ':PORT' asks for every interface
    return host, int(port)
