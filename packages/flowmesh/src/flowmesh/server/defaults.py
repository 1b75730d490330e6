"""The server's defaults, free of its dependencies so the ``flowmesh`` command can show
them (and run its SDK-only admin commands) without the ``server`` extra."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 50051
DEFAULT_STORE = "sqlite:///.mimeia/flowmesh.db"
TOKENS_ENV = "FLOWMESH_TOKENS"
# a read or subscribe frame stops adding messages before passing this many bytes
DEFAULT_RESPONSE_BYTES = 4 * 1024 * 1024
