"""WhatsApp for the automation service, through :mod:`mimeiapify.whatsapp`.

- :mod:`.provider`: the ``whatsapp`` integration provider (per-tenant credentials,
  secrets sealed at rest by :mod:`automation.integrations`): ``phone_number_id``
  (shown), ``access_token``, ``app_secret`` and ``verify_token`` (never shown).
  Set with ``PUT /api/v1/integrations/whatsapp/settings``.
- :mod:`.step`: the ``whatsapp`` step type and rule action (text, template, media).
- :mod:`.routes`: Meta's webhook per tenant (``GET``: the handshake; ``POST``:
  signature check, then ``whatsapp.message.received`` / ``whatsapp.message.status``
  events, each recorded once however often Meta redelivers it).
"""
