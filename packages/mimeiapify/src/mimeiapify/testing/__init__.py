"""Local emulators of the outside APIs the connectors talk to.

* :mod:`mimeiapify.testing.airtable`: ``python -m mimeiapify.testing.airtable``
* :mod:`mimeiapify.testing.wompi`: ``python -m mimeiapify.testing.wompi``

Both print ``listening on http://HOST:PORT`` when ready and stop on SIGTERM;
both are registered as ``mimeia up`` services (``airtable-emulator``,
``wompi-emulator``).
"""
