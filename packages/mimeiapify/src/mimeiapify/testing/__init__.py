"""Local emulators of the outside APIs the connectors talk to.

* :mod:`mimeiapify.testing.airtable`: ``python -m mimeiapify.testing.airtable``
* :mod:`mimeiapify.testing.wompi`: ``python -m mimeiapify.testing.wompi``
* :mod:`mimeiapify.testing.whatsapp`: ``python -m mimeiapify.testing.whatsapp``

All print ``listening on http://HOST:PORT`` when ready and stop on SIGTERM;
all are registered as ``mimeia up`` services (``airtable-emulator``,
``wompi-emulator``, ``whatsapp-emulator``).
"""
