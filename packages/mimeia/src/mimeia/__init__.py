"""The `mimeia` command: run the whole platform locally and check what it depends on."""

from mimeia.services import Address, ServiceSpec, ServiceSpecError, discover_services, spec_from

__all__ = ["Address", "ServiceSpec", "ServiceSpecError", "discover_services", "spec_from"]
__version__ = "0.1.0"
