"""Checks: listing and cross checks, what is on stage in each stream, and the monitor that turns a
stream's events into violations.

Stage logic: no broker, no warehouse (DESIGN.md §2; checked by tests/test_architecture.py).
"""
