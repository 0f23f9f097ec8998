"""The streaming pipeline: the faust app, its agents and runtime, topics, the embedded broker,
publishing and ingest, and the in-process paths (`analyze`, `demo`) that run the same stages.

Only this package (``app``, ``agents``, ``publish``) touches faust and the Kafka clients.
"""
