"""1.4's path of the sync Airtable client; it lives in
:mod:`mimeiapify.airtable.sync_client`."""

from mimeiapify.airtable.sync_client import Airtable

__all__ = ["Airtable"]
