"""The review lifecycle's state machine: every (state, action, role) allowed, a no-op or refused."""

from __future__ import annotations

import itertools

import pytest

from pipeline.reporting import lifecycle
from pipeline.reporting.lifecycle import (
    ACTIONS,
    STATES,
    Transition,
    TransitionRefused,
    available,
    check,
    counts,
    state_of,
)

# Written out by hand from the lifecycle as docs/console.md describes it (not derived from the
# module's own tables): (state, action) -> the state it leads to, and who takes it.
ALLOWED = {
    ("pending", "confirm"): ("confirmed", "certifier"),
    ("pending", "dismiss"): ("dismissed", "certifier"),
    ("confirmed", "dismiss"): ("dismissed", "certifier"),  # a certifier's correction
    ("dismissed", "confirm"): ("confirmed", "certifier"),
    ("confirmed", "appeal"): ("appealed", "mcn_officer"),
    ("confirmed", "rectify"): ("rectified", "mcn_officer"),
    ("appealed", "uphold"): ("upheld", "certifier"),
    ("appealed", "overturn"): ("overturned", "certifier"),
}
TARGET = {
    "confirm": "confirmed",
    "dismiss": "dismissed",
    "appeal": "appealed",
    "rectify": "rectified",
    "uphold": "upheld",
    "overturn": "overturned",
}
ROLE = {"confirm": "certifier", "dismiss": "certifier", "uphold": "certifier", "overturn": "certifier"}
ROLES = ("certifier", "mcn_officer", "auditor")


def role_of(action: str) -> str:
    return ROLE.get(action, "mcn_officer")


def take(state: str, action: str, role: str) -> Transition | None:
    attach = action in ("appeal", "rectify")
    return check(state, action, role, note="a note", attachment=attach)  # type: ignore[arg-type]


@pytest.mark.parametrize(("state", "action"), list(itertools.product(STATES, ACTIONS)))
def test_every_state_and_action(state: str, action: str) -> None:
    role = role_of(action)
    if (state, action) in ALLOWED:
        after, who = ALLOWED[(state, action)]
        assert who == role
        assert take(state, action, role) == Transition(action, state, after)  # type: ignore[arg-type]
    elif TARGET[action] == state:
        assert take(state, action, role) is None  # the same transition again: a no-op
    else:
        with pytest.raises(TransitionRefused) as refused:
            take(state, action, role)
        assert refused.value.kind == "state"
        assert refused.value.state == state
        assert refused.value.action == action


@pytest.mark.parametrize(
    ("state", "action", "role"),
    [
        (s, a, r)
        for s, a, r in itertools.product(STATES, ACTIONS, ROLES)
        if r != role_of(a)  # every role but the one the action belongs to
    ],
)
def test_only_the_actions_role_takes_it_whatever_the_state(state: str, action: str, role: str) -> None:
    with pytest.raises(TransitionRefused) as refused:
        take(state, action, role)
    assert refused.value.kind == "role"


def test_the_certifier_and_officer_walk_a_violation_to_overturned_and_back_is_refused() -> None:
    state = "pending"
    for action, role in (("confirm", "certifier"), ("appeal", "mcn_officer"), ("overturn", "certifier")):
        step = take(state, action, role)
        assert step is not None
        state = step.after
        assert take(state, action, role) is None  # twice: nothing more
    assert state == "overturned"
    assert not counts(state)
    for action in ACTIONS:  # nothing leaves overturned
        if TARGET[action] != "overturned":
            with pytest.raises(TransitionRefused):
                take(state, action, role_of(action))


def test_dismissed_twice_is_one_dismissal() -> None:
    first = take("pending", "dismiss", "certifier")
    assert first == Transition("dismiss", "pending", "dismissed")
    assert take(first.after, "dismiss", "certifier") is None


def test_an_appeal_needs_a_note_and_an_attachment_a_rectification_only_a_note() -> None:
    with pytest.raises(TransitionRefused, match="needs an attachment") as refused:
        check("confirmed", "appeal", "mcn_officer", note="we disagree")
    assert refused.value.kind == "input"
    with pytest.raises(TransitionRefused, match="needs a note"):
        check("confirmed", "appeal", "mcn_officer", note="  ", attachment=True)
    assert check("confirmed", "rectify", "mcn_officer", note="script changed") is not None
    assert check("confirmed", "rectify", "mcn_officer", note="see photo", attachment=True) is not None
    with pytest.raises(TransitionRefused, match="takes no attachment"):
        check("appealed", "uphold", "certifier", note="stands", attachment=True)


def test_the_offered_actions_are_exactly_the_allowed_ones() -> None:
    for state, role in itertools.product(STATES, ROLES):
        expected = sorted(a for (s, a), (_, who) in ALLOWED.items() if s == state and who == role)
        assert sorted(available(state, role)) == expected, (state, role)  # type: ignore[arg-type]


def test_states_from_decisions_and_what_counts() -> None:
    assert state_of(None) == state_of("") == "pending"
    assert [state_of(a) for a in ACTIONS] == [TARGET[a] for a in ACTIONS]
    with pytest.raises(ValueError, match="unknown review decision"):
        state_of("approve")
    assert {s for s in STATES if not counts(s)} == {"dismissed", "overturned"}
    assert set(lifecycle.NOT_COUNTED_DECISIONS) == {"dismiss", "overturn"}
    with pytest.raises(TransitionRefused, match="unknown action"):
        lifecycle.parse_action("dismiss twice")


def test_every_state_has_a_chinese_and_an_english_name() -> None:
    for state in STATES:
        zh, en = lifecycle.state_name(state, "zh"), lifecycle.state_name(state, "en")
        assert zh
        assert en
        assert zh != en
        assert en.isascii()
        assert not zh.isascii()
    assert lifecycle.state_name("dismissed", "zh") == "已驳回"
    assert lifecycle.state_name("dismissed", "en") == "Dismissed"
