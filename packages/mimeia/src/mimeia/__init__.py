"""The `mimeia` command: run the whole platform locally and check what it depends on."""

from mimeia.services import Address, ServiceSpec, discover_services

__all__ = ["Address", "ServiceSpec", "discover_services"]
__version__ = "0.1.0"
