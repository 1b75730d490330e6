"""1.4's path of the async Airtable client; it lives in
:mod:`mimeiapify.airtable.async_client`."""

from mimeiapify.airtable.async_client import AirtableAsync

__all__ = ["AirtableAsync"]
