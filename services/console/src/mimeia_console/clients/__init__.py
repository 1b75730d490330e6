"""How the console reaches each service (only through its public API)."""
