"""Medication adherence: a questionnaire with a default script the campaign may replace."""

from __future__ import annotations

from ivr.dialog import Dialog, FlowResult
from ivr.flows import questionnaire

DEFAULT_SCRIPT = [
    {
        "key": "took_medicine",
        "type": "yes_no",
        "text": {
            "zh": "过去一周，您每天都按时服药了吗？",
            "en": "In the past week, did you take your medicine every day?",
        },
    },
    {
        "key": "missed_doses",
        "type": "number",
        "text": {
            "zh": "过去一周漏服了几次？没有漏服请输入0。",
            "en": "How many doses did you miss last week? Enter 0 if none.",
        },
    },
    {
        "key": "side_effects",
        "type": "yes_no",
        "text": {
            "zh": "服药后有没有不舒服？",
            "en": "Has the medicine made you feel unwell?",
        },
    },
]


async def run(dialog: Dialog) -> FlowResult:
    script = dialog.ctx.questions or DEFAULT_SCRIPT
    return await questionnaire.run(dialog, script, "medication_intro")
