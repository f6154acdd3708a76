"""Default prompt texts by key and language; campaigns override them per language."""

from __future__ import annotations

from ivr.speech import EN_DIGITS, ZH_DIGITS

DEFAULTS: dict[str, dict[str, str]] = {
    "intro": {
        "zh": "您好，这里是{clinic}。本次通话将被录音。",
        "en": "Hello, this is {clinic}. This call is recorded.",
    },
    "appointment": {
        "zh": "提醒您，您的就诊预约时间是{when}。",
        "en": "This is a reminder of your appointment on {when}.",
    },
    "reminder_menu": {
        "zh": "确认预约请按1，更改预约请按2，人工服务请按0。如不希望再接到我们的电话，请按9。",
        "en": "Press 1 to confirm, 2 to change it, or 0 to talk to someone. "
        "Press 9 if you do not want us to call you again.",
    },
    "no_input": {"zh": "抱歉，没有听到您的按键。", "en": "Sorry, we did not hear a key press."},
    "invalid": {"zh": "抱歉，您的输入无效。", "en": "Sorry, that is not a valid choice."},
    "goodbye_retry": {
        "zh": "我们稍后会再联系您。再见。",
        "en": "We will call you again later. Goodbye.",
    },
    "confirmed": {
        "zh": "谢谢，您的预约已确认。再见。",
        "en": "Thank you, your appointment is confirmed. Goodbye.",
    },
    "change_requested": {
        "zh": "好的，工作人员会尽快给您回电，帮您更改预约。再见。",
        "en": "All right, a member of our staff will call you back to change it. Goodbye.",
    },
    "hold": {
        "zh": "正在为您转接工作人员，请稍候。",
        "en": "Please hold while we connect you to a member of our staff.",
    },
    "no_agent": {
        "zh": "抱歉，现在没有工作人员可以接听。我们会尽快给您回电。再见。",
        "en": "Sorry, nobody is free right now. We will call you back soon. Goodbye.",
    },
    "opted_out": {
        "zh": "好的，我们以后不会再给您打电话。再见。",
        "en": "All right, we will not call you again. Goodbye.",
    },
    "questionnaire_intro": {
        "zh": "下面有几个问题，请用电话按键回答。",
        "en": "We have a few questions. Please answer with your phone's keypad.",
    },
    "medication_intro": {
        "zh": "下面是关于您用药情况的几个问题，请用电话按键回答。",
        "en": "We have a few questions about your medicine. Please answer with the keypad.",
    },
    "hint_yes_no": {"zh": "是请按1，否请按2。", "en": "Press 1 for yes, 2 for no."},
    "hint_number": {
        "zh": "请输入数字，以井号键结束。",
        "en": "Enter the number, then press the hash key.",
    },
    "you_entered": {"zh": "您输入的是", "en": "You entered"},
    "confirm_number": {
        "zh": "正确请按1，重新输入请按2。",
        "en": "Press 1 if that is right, 2 to enter it again.",
    },
    "systolic": {"zh": "请输入高压，也就是收缩压。", "en": "Enter the upper number, systolic."},
    "diastolic": {"zh": "请输入低压，也就是舒张压。", "en": "Enter the lower number, diastolic."},
    "urgent": {
        "zh": "您的读数偏高，医护人员会尽快联系您。",
        "en": "That reading is high. A nurse will call you soon.",
    },
    "thanks": {"zh": "谢谢您的回答。再见。", "en": "Thank you for your answers. Goodbye."},
}

# Read aloud one after another to say a keyed-in number back (see speech.say_digits).
DIGIT_KEYS = tuple(f"digit_{d}" for d in range(10))
for _d in range(10):
    DEFAULTS[f"digit_{_d}"] = {"zh": ZH_DIGITS[_d], "en": EN_DIGITS[_d]}


def choice_hint(choices: list[str], language: str) -> str:
    """``请选择：无请按1，头晕请按2`` / ``For None press 1, for Dizziness press 2``."""
    parts = []
    for number, choice in enumerate(choices, start=1):
        label = _label(choice, language)
        parts.append(f"{label}请按{number}" if language == "zh" else f"for {label} press {number}")
    if language == "zh":
        return "请选择：" + "，".join(parts) + "。"
    return ", ".join(parts).capitalize() + "."


def _label(choice: str, language: str) -> str:
    """Choices are written ``无 / None``: the half in the patient's language."""
    if " / " not in choice:
        return choice
    zh, en = choice.split(" / ", 1)
    return zh.strip() if language == "zh" else en.strip()
