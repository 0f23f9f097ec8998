"""Ledger hygiene (`claimwatch ledger check`): what an MCN should fix in its selection ledger.

Unlike the listing checks, which judge what is sold live, these look at the ledger itself on a
given day: qualifications expired or expiring soon, categories whose required qualification the
row lacks, numbers that do not fit their type's format, qualifications without an expiry date, and
approvals with no reviewer or review date. Pure functions; the command reads the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from pipeline.ledger.qualifications import QualificationRules, expires_within
from pipeline.records import LedgerEntry, Qualification, Severity

SOON_DAYS = 30
"""Default look-ahead for `expiring_qualification`."""

ISSUES: dict[str, Severity] = {
    "expired_qualification": "high",
    "missing_qualification": "high",
    "malformed_number": "medium",
    "expiring_qualification": "medium",
    "no_expiry_date": "low",
    "approved_without_review": "low",
}


@dataclass(frozen=True, slots=True)
class LedgerIssue:
    """One hygiene problem of one ledger row."""

    mcn_id: str
    product_id: str
    issue: str
    detail: str
    qualification_type: str = ""
    number: str = ""

    @property
    def severity(self) -> Severity:
        return ISSUES[self.issue]


def check_ledger(
    entries: Iterable[LedgerEntry], rules: QualificationRules, *, today: date, within_days: int = SOON_DAYS
) -> list[LedgerIssue]:
    """Every hygiene issue of the rows, most severe first, then by MCN and product."""
    found = [issue for entry in entries for issue in check_entry(entry, rules, today, within_days)]
    order = list(ISSUES)
    return sorted(found, key=lambda i: (order.index(i.issue), i.mcn_id, i.product_id, i.number))


def check_entry(
    entry: LedgerEntry, rules: QualificationRules, today: date, within_days: int
) -> Iterator[LedgerIssue]:
    """The hygiene issues of one row."""
    for q in entry.qualifications:
        yield from _qualification_issues(entry, q, rules, today, within_days)
    for requirement in rules.requirements(entry.category):
        if not any(q.type in requirement.any_of for q in entry.qualifications):
            detail = f"category {entry.category} requires {'/'.join(requirement.any_of)}"
            yield LedgerIssue(
                entry.mcn_id, entry.product_id, "missing_qualification", detail, requirement.any_of[0]
            )
    if entry.status == "approved" and not (entry.reviewer and entry.reviewed_at):
        yield LedgerIssue(entry.mcn_id, entry.product_id, "approved_without_review",
                          "approved with no reviewer or review date")  # fmt: skip


def _qualification_issues(
    entry: LedgerEntry, q: Qualification, rules: QualificationRules, today: date, within_days: int
) -> Iterator[LedgerIssue]:
    state = rules.state(q, today)

    def issue(name: str, detail: str) -> LedgerIssue:
        return LedgerIssue(entry.mcn_id, entry.product_id, name, detail, q.type, q.number)

    if state == "invalid":
        yield issue("malformed_number", f"{q.number!r} does not fit the format of {q.type}")
    if q.valid_to is None:
        yield issue("no_expiry_date", f"{q.type} {q.number} has no valid_to")
    elif q.valid_to < today:
        yield issue("expired_qualification", f"{q.type} {q.number} expired on {q.valid_to}")
    elif expires_within(q, today, within_days):
        days = (q.valid_to - today).days
        yield issue("expiring_qualification", f"{q.type} {q.number} expires on {q.valid_to} (in {days} days)")
