"""The MCN's selection ledger (选品台账): reading ledger files, qualification rules and numbers,
hygiene checks, and matching a listing to its ledger row.

Stage logic: no broker, no warehouse (DESIGN.md §2; checked by tests/test_architecture.py).
"""
