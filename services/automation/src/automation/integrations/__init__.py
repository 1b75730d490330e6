"""Per-tenant credentials for outside services (Wompi, Airtable, ...).

Each tenant configures its own credentials for a *provider*; nothing service-wide
stands in for them, so one tenant's steps can never use another tenant's account.

- :mod:`.providers`: the registry. A :class:`~.providers.Provider` names its
  non-secret fields (a pydantic model: stored as JSON, shown by ``GET``, e.g. the
  Airtable bases a tenant's steps may reach) and its secret fields (another model:
  sealed at rest with :mod:`automation.secretbox`, never returned by the API).
- :mod:`.store`: :func:`~.store.credentials_for` (what a step or route calls)
  and the writes behind the routes.
- :mod:`.routes`: ``PUT``/``GET``/``DELETE /api/v1/integrations/{provider}/settings``
  (scope ``integrations:write``).
- :mod:`.models`: the ``integration_credentials`` table and the Wompi event receipts.

Adding a provider
-----------------
Describe its fields and register it once at import time (for a provider of this
service, in :mod:`.providers`; for another package, in a module the service
imports, e.g. the one defining the step that uses it)::

    from pydantic import BaseModel, ConfigDict, Field
    from automation.integrations.providers import Provider, register

    class WhatsAppSecrets(BaseModel):
        model_config = ConfigDict(extra="forbid")
        access_token: str = Field(min_length=16, max_length=1000)

    class WhatsAppSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        phone_number_ids: list[str] = Field(min_length=1)  # what steps may use

    WHATSAPP = register(Provider("whatsapp", "WhatsApp Cloud API",
                                 secrets=WhatsAppSecrets, settings=WhatsAppSettings))

Then in the step::

    creds = await credentials_for(ctx.database, ctx.tenant_id, "whatsapp")
    if creds is None:
        raise ActionError("whatsapp: not configured for this tenant")
    if config["phone_number_id"] not in creds.settings["phone_number_ids"]:
        raise ActionError("config.phone_number_id: not one of this tenant's numbers")
    token = creds.secrets["access_token"]

The routes, sealing, migrations and key rotation need nothing more: the table
holds any provider. Keep secrets out of the settings model (``GET`` returns it)
and put every allow-list a step checks into it.
"""

from automation.integrations.providers import PROVIDERS, Provider, get_provider, register
from automation.integrations.store import Credentials, credentials_for

__all__ = ["PROVIDERS", "Credentials", "Provider", "credentials_for", "get_provider", "register"]
