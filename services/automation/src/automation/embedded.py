"""A Celery worker and the scheduler inside the API process (for `mimeia up`).

The worker consumes the same queues as ``automation worker`` through whatever
broker is configured (by default the SQLite-file transport), with a thread pool,
so tasks still run asynchronously, ack late and retry. The scheduler tick runs
on a timer thread instead of a separate beat process.
"""

from __future__ import annotations

import logging
import threading

from celery.worker import WorkController

from automation.celery_app import QUEUES
from automation.settings import Settings

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, settings: Settings, concurrency: int = 2) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self._worker: WorkController | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> None:
        from automation.tasks import celery_app

        self._worker = WorkController(
            app=celery_app,
            pool_cls="threads",
            concurrency=self.concurrency,
            queues=list(QUEUES),
            hostname=f"embedded@{self.settings.host}",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._thread = threading.Thread(target=self._worker.start, name="celery-embedded",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        self._ticker = threading.Thread(target=self._tick_forever, name="scheduler-tick",
                                        daemon=True)  # fmt: skip
        self._ticker.start()

    def _tick_forever(self) -> None:
        from automation.tasks import scheduler_tick

        while not self._stop.wait(self.settings.scheduler_interval_seconds):
            try:
                scheduler_tick.run()
            except Exception:
                log.exception("scheduler tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.stop(in_sighandler=False, exitcode=0)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._ticker is not None:
            self._ticker.join(timeout=10)
