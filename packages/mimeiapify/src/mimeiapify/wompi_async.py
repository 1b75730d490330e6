"""The seed's path of the async Wompi client; it lives in
:mod:`mimeiapify.wompi.async_client`."""

from mimeiapify.wompi.async_client import WompiAsync

__all__ = ["WompiAsync"]
