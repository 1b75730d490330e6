"""The async WhatsApp client at the path of the other connectors' async clients; it lives in
:mod:`mimeiapify.whatsapp.async_client`."""

from mimeiapify.whatsapp.async_client import WhatsAppAsync

__all__ = ["WhatsAppAsync"]
