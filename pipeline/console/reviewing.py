"""The console's side of the review lifecycle: a step taken by a user on a case (written, audited,
the kept pages dropped), and an uploaded attachment read and checked.

The routes are in :mod:`pipeline.console.pages` (``/violations/{id}/review`` and
``/violations/{id}/attachments/{sha256}``); the rules in :mod:`pipeline.reporting.lifecycle`.
"""

from __future__ import annotations

from fastapi import HTTPException, UploadFile

from pipeline.console import attachments
from pipeline.console.context import ConsoleState
from pipeline.console.users import User
from pipeline.reporting.audit import record
from pipeline.reporting.casefile import Case
from pipeline.reporting.lifecycle import parse_action
from pipeline.reporting.reviews import Attached, transition


def save_review(
    console: ConsoleState,
    user: User,
    case: Case,
    decision: str,
    reason: str,
    *,
    attachment: tuple[Attached, bytes] | None = None,
) -> bool:
    """Take the lifecycle action ``decision`` (confirm, dismiss, appeal, rectify, uphold,
    overturn) on the case as ``user``, with ``reason`` as its note: one ``reviews`` row and its
    audit entry. True when written; False when the violation is already where the action leads
    (the same action again: nothing written, nothing audited). Raises
    :class:`~pipeline.reporting.lifecycle.TransitionRefused` for a move the lifecycle does not
    allow (``kind``: role, state or input). ``attachment`` (checked, with its bytes) is stored
    only once the move is allowed."""
    mcn_id = str(case.violation["mcn_id"])
    attached = attachment[0] if attachment else None

    def keep_file() -> None:
        if attachment is not None:
            attachments.save(console.settings.data_dir, *attachment)

    step = transition(
        console.store,
        user.scope,
        violation_id=case.event_id,
        mcn_id=mcn_id,
        actor=user.username,
        role=user.role,
        action=parse_action(decision),
        note=reason,
        attachment=attached,
        on_allowed=keep_file,
    )
    if step is None:
        return False
    console.overviews.clear()  # a dismissal changes scores: no reader sees the old ones after this
    console.cases.clear()  # and the case's review history: the redirect shows the new review
    details: dict[str, object] = {"reason": reason.strip(), "before": step.before, "state": step.after}
    if attached is not None:
        details.update(sha256=attached.sha256, name=attached.name, bytes=attached.size)
    record(console.store, user.username, f"review.{step.action}", case.event_id, mcn_id, **details)
    return True


def read_attachment(upload: UploadFile | None, max_bytes: int) -> tuple[Attached, bytes] | None:
    """The uploaded attachment checked (its type by its magic bytes and name, its size): 413 past
    the limit, 400 for a type not allowed; None when no file was chosen."""
    if upload is None or not upload.filename:
        return None
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HTTPException(413, f"attachments are at most {max_bytes} bytes (console_max_attachment_bytes)")
    if not data:
        return None  # a file input left empty sends an empty part
    try:
        return attachments.prepare(data, upload.filename, max_bytes), data
    except attachments.AttachmentError as exc:
        raise HTTPException(400, str(exc)) from None
