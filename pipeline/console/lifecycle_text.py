"""The review lifecycle's refusals in the reader's language (the error page shows them as they are)."""

from __future__ import annotations

from pipeline.console.i18n import translator
from pipeline.console.labels import role_label, state_label
from pipeline.reporting.categories import Language
from pipeline.reporting.lifecycle import ACTOR, FROM, Action, TransitionRefused

_TEXT: dict[str, dict[Language, str]] = {
    "role": {"zh": "只有{role}可以「{action}」", "en": "Only a {role} may {action}"},
    "state": {
        "zh": "该违规当前为「{state}」，不能「{action}」（仅限：{allowed}）",
        "en": "This violation is {state}: it cannot be {action} (only one that is {allowed})",
    },
    "note": {"zh": "「{action}」需要填写说明", "en": "{action} needs a note"},
    "attachment": {"zh": "「{action}」需要附件", "en": "{action} needs an attachment"},
    "no_attachment": {"zh": "「{action}」不接受附件", "en": "{action} takes no attachment"},
}
_EN_VERBS = {
    "confirm": "confirmed",
    "dismiss": "dismissed",
    "appeal": "appealed",
    "rectify": "reported rectified",
    "uphold": "upheld",
    "overturn": "overturned",
}


def refusal_text(refused: TransitionRefused, language: Language) -> str:
    """Why the action was refused, in words of ``language``."""
    action = refused.action if refused.action in ACTOR else ""
    if not action:
        return str(refused)
    act: Action = action  # type: ignore[assignment]
    t = translator(language)
    word = t(act)
    if refused.kind == "role":
        return _TEXT["role"][language].format(role=role_label(ACTOR[act], language), action=word.lower())
    if refused.kind == "state":
        joiner = "、" if language == "zh" else " or "
        allowed = joiner.join(state_label(s, language).lower() for s in sorted(FROM[act]))
        shown = word if language == "zh" else _EN_VERBS[act]
        return _TEXT["state"][language].format(
            state=state_label(refused.state, language).lower(), action=shown, allowed=allowed
        )
    message = str(refused)
    key = "note" if "note" in message else "no_attachment" if "no attachment" in message else "attachment"
    return _TEXT[key][language].format(action=word)
