"""`claimwatch worker`: one faust worker process, from its settings to SIGINT/SIGTERM."""

from __future__ import annotations

import logging

import faust

from pipeline.config import Settings
from pipeline.stream.app import build
from pipeline.stream.publish import ensure_topics
from pipeline.stream.runtime import create_runtime
from pipeline.warehouse import open_store


def run_worker(settings: Settings, bootstrap: str) -> None:
    """`claimwatch worker`: a faust worker process until SIGINT/SIGTERM."""
    level = min(logging.getLogger().level, logging.INFO)  # a service logs what it does
    for noisy in ("faust", "mode", "aiokafka", "kafka"):  # their warnings and errors, not chatter
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    ensure_topics(bootstrap, settings.topic_partitions)
    store = open_store(settings)
    try:
        app = build(settings, bootstrap, create_runtime(settings, store))
        faust.Worker(app, loglevel=level).execute_from_commandline()
    finally:
        store.close()
