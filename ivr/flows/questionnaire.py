"""Keypad questionnaire from the campaign's question script.

Each question is one state: yes/no (1/2), a choice (1..5), a number ending with # (read back
and confirmed), or a blood pressure (two numbers). Text questions need a person; they are
skipped. Measurements become observations; one past its threshold asks for an urgent call.
"""

from __future__ import annotations

from callcenter.models.ivr import IvrOutcome
from callcenter.services.indicators import CATALOG, DIASTOLIC, SYSTOLIC
from ivr import texts
from ivr.dialog import Dialog, FlowResult, Measurement

MAX_CHOICES = 5
# At or above these, a nurse calls back today (hypertensive crisis: 180/110 mmHg).
URGENT_AT = {SYSTOLIC: 180.0, DIASTOLIC: 110.0}


def question_text(question: dict, language: str) -> str:
    text = question.get("text") or {}
    return text.get(language) or text.get("en") or next(iter(text.values()), question["key"])


async def run(dialog: Dialog, questions: list[dict], intro_key: str) -> FlowResult:
    result = FlowResult(IvrOutcome.ANSWERED, "intro", questionnaire=True)
    dialog.partial = result
    dialog.step = "intro"
    await dialog.play(await dialog.prompt(intro_key))
    for question in questions:
        await ask_one(dialog, question, result)
    dialog.step = "thanks"
    closing = [await dialog.prompt("urgent")] if result.urgent else []
    await dialog.play(*closing, await dialog.prompt("thanks"))
    result.step, result.complete = "thanks", True
    return result


async def ask_one(dialog: Dialog, question: dict, result: FlowResult) -> None:
    key, kind = question["key"], question["type"]
    language = dialog.ctx.language
    spoken = await dialog.say(question_text(question, language))
    if kind == "yes_no":
        hint = await dialog.prompt("hint_yes_no")
        result.answers[key] = await dialog.menu(key, [spoken, hint], "12") == "1"
    elif kind == "choice":
        choices = (question.get("choices") or [])[:MAX_CHOICES]
        hint = await dialog.say(texts.choice_hint(choices, language))
        valid = "".join(str(n) for n in range(1, len(choices) + 1))
        picked = int(await dialog.menu(key, [spoken, hint], valid))
        result.answers[key] = choices[picked - 1]
    elif kind == "number":
        value = await dialog.number(key, [spoken])
        result.answers[key] = value
        if question.get("indicator_code"):
            measure(result, question, question["indicator_code"], value)
    elif kind == "blood_pressure":
        high = await dialog.number(f"{key}_systolic", [spoken, await dialog.prompt("systolic")])
        low = await dialog.number(f"{key}_diastolic", [await dialog.prompt("diastolic")])
        result.answers[key] = f"{high}/{low}"
        measure(result, question, SYSTOLIC, high)
        measure(result, question, DIASTOLIC, low)
    # "text" questions need a person to listen: not asked by the IVR.


def measure(result: FlowResult, question: dict, code: str, value: float) -> None:
    result.measurements.append(Measurement(code, value, question["key"]))
    limit = question.get("urgent_at", URGENT_AT.get(code))
    if limit is not None and value >= float(limit):
        known = CATALOG.get(code)
        name = known.name_en if known else code
        unit = f" {known.unit}" if known else ""
        result.urgent.append(f"{name} {value:g}{unit} keyed in by IVR (threshold {limit:g})")
