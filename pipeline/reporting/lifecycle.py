"""A violation's review lifecycle: its states, and who may move it from which state to which.

::

    pending --confirm--> confirmed --appeal--> appealed --uphold--> upheld
       |                  |   ^                   \\--overturn--> overturned
       \\--dismiss--> dismissed  \\--rectify--> rectified

- a **certifier** confirms or dismisses a pending violation, and may correct one decision into
  the other (confirmed <-> dismissed) until the MCN has answered;
- the violation's **MCN officer** answers a confirmed violation: appeals it (a note and an
  attachment: the evidence for the appeal) or reports it rectified (a note, an attachment if they
  have one);
- a certifier decides an appeal: upheld (the violation stands) or overturned (it does not).

Dismissed, rectified, upheld and overturned are final once the MCN has had its say (dismissed
may still be corrected to confirmed by a certifier; nothing else leaves a final state).

Each transition is one row of the ``reviews`` table whose ``decision`` is the action's name
(``confirm``, ``dismiss``, ``appeal``, ``rectify``, ``uphold``, ``overturn``); the latest row per
violation (``argMax(decision, (reviewed_at, review_id))``) is its state. An action that would
leave the violation where it is (the same transition again) is a no-op: no second row.

What counts for the scores: every state but ``dismissed`` and ``overturned`` (docs/scoring.md).
This module is pure: :mod:`pipeline.reporting.reviews` reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from pipeline.errors import ClaimWatchError
from pipeline.reporting.categories import Language

State = Literal["pending", "confirmed", "dismissed", "appealed", "rectified", "upheld", "overturned"]
Action = Literal["confirm", "dismiss", "appeal", "rectify", "uphold", "overturn"]
ActorRole = Literal["certifier", "mcn_officer"]
STATES: tuple[State, ...] = get_args(State)
ACTIONS: tuple[Action, ...] = get_args(Action)

RESULT: Mapping[str, State] = {
    "confirm": "confirmed",
    "dismiss": "dismissed",
    "appeal": "appealed",
    "rectify": "rectified",
    "uphold": "upheld",
    "overturn": "overturned",
}
"""The state each action leaves the violation in (the latest row's decision names its state)."""

ACTOR: Mapping[str, ActorRole] = {
    "confirm": "certifier",
    "dismiss": "certifier",
    "appeal": "mcn_officer",
    "rectify": "mcn_officer",
    "uphold": "certifier",
    "overturn": "certifier",
}
"""The one role that may take each action."""

FROM: Mapping[str, frozenset[State]] = {
    "confirm": frozenset({"pending", "dismissed"}),
    "dismiss": frozenset({"pending", "confirmed"}),
    "appeal": frozenset({"confirmed"}),
    "rectify": frozenset({"confirmed"}),
    "uphold": frozenset({"appealed"}),
    "overturn": frozenset({"appealed"}),
}
"""The states each action may start from."""

STATE_NAMES: dict[str, dict[Language, str]] = {
    "pending": {"zh": "待复核", "en": "Pending"},
    "confirmed": {"zh": "已确认", "en": "Confirmed"},
    "dismissed": {"zh": "已驳回", "en": "Dismissed"},
    "appealed": {"zh": "申诉中", "en": "Appealed"},
    "rectified": {"zh": "已整改", "en": "Rectified"},
    "upheld": {"zh": "申诉驳回，维持违规", "en": "Upheld"},
    "overturned": {"zh": "申诉成立，撤销违规", "en": "Overturned"},
}
"""Each state by its name, in Chinese and English (the console, the evidence report)."""

NEEDS_ATTACHMENT: frozenset[Action] = frozenset({"appeal"})
MAY_ATTACH: frozenset[Action] = frozenset({"appeal", "rectify"})
NOT_COUNTED: frozenset[State] = frozenset({"dismissed", "overturned"})
"""Final states in which a violation counts for no score or outcome count."""

NOT_COUNTED_DECISIONS: tuple[str, ...] = tuple(sorted(a for a, s in RESULT.items() if s in NOT_COUNTED))
"""The ``reviews.decision`` values of those states, for SQL."""


class TransitionRefused(ClaimWatchError):
    """An action that may not be taken: by this role (``kind`` "role"), from this state
    ("state"), or without what it needs ("input")."""

    def __init__(
        self, message: str, kind: Literal["role", "state", "input"], action: str = "", state: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.action = action
        self.state = state


@dataclass(frozen=True, slots=True)
class Transition:
    """One allowed move: the action taken, from and to which state."""

    action: Action
    before: State
    after: State


def state_of(decision: str | None) -> State:
    """The state a violation is in, from its latest review's decision (None/"": pending)."""
    if not decision:
        return "pending"
    if decision not in RESULT:
        raise ValueError(f"unknown review decision {decision!r}")
    return RESULT[decision]


def parse_action(value: str) -> Action:
    if value not in RESULT:
        raise TransitionRefused(f"unknown action {value!r}; one of {', '.join(ACTIONS)}", "input")
    return value  # type: ignore[return-value]


def check(
    state: State, action: Action, role: str, *, note: str = "", attachment: bool = False
) -> Transition | None:
    """The transition ``role`` makes by taking ``action`` from ``state``: None when the violation
    is already where the action leads (the same transition again: a no-op); refused otherwise."""
    if ACTOR[action] != role:
        raise TransitionRefused(
            f"a {role} may not {action} a violation (only a {ACTOR[action]})", "role", action, state
        )
    after = RESULT[action]
    if state == after:
        return None
    if state not in FROM[action]:
        allowed = " or ".join(sorted(FROM[action]))
        raise TransitionRefused(
            f"cannot {action} a violation that is {state} (only one {allowed})", "state", action, state
        )
    if not note.strip():
        raise TransitionRefused(f"{action} needs a note", "input", action, state)
    if action in NEEDS_ATTACHMENT and not attachment:
        raise TransitionRefused(f"{action} needs an attachment", "input", action, state)
    if attachment and action not in MAY_ATTACH:
        raise TransitionRefused(f"{action} takes no attachment", "input", action, state)
    return Transition(action, state, after)


def available(state: State, role: str) -> list[Action]:
    """The actions ``role`` may take from ``state`` (what the violation page offers)."""
    return [a for a in ACTIONS if ACTOR[a] == role and state in FROM[a]]


def counts(state: State) -> bool:
    """Whether a violation in this state counts for the scores."""
    return state not in NOT_COUNTED


def state_name(state: str, language: Language = "zh") -> str:
    """A state by its name in ``language`` (an unknown code as it is)."""
    names = STATE_NAMES.get(state)
    return names[language] if names else state
