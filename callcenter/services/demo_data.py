"""The demo's people, illnesses, tags and campaign scripts: data only, read by services.demo."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.models import Role, Sex
from callcenter.services import indicators as ind

CARD_NUMBER = "M{:06d}"  # M000001, M000002, ...
# username, role, display name in the user's language, language, SIP extension
DEMO_USERS = (
    ("admin", Role.ADMIN, "系统管理员", "zh", None),
    ("supervisor", Role.SUPERVISOR, "张主任", "zh", None),
    ("qa", Role.QA, "质控专员", "zh", None),
    ("agent", Role.AGENT, "李护士", "zh", "1001"),
    ("agent2", Role.AGENT, "Emma Clark", "en", "1002"),
)
CN_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
CN_GIVEN = {
    Sex.FEMALE: ("秀英", "桂英", "秀兰", "玉兰", "淑珍", "丽华", "美玲", "红梅", "晓燕", "慧"),
    Sex.MALE: ("建国", "建华", "国强", "志强", "德明", "卫东", "文斌", "伟", "军", "勇"),
}
EN_GIVEN = {
    Sex.FEMALE: ("Mary", "Patricia", "Linda", "Barbara", "Susan", "Margaret", "Helen", "Nancy"),
    Sex.MALE: ("James", "Robert", "John", "Michael", "William", "David", "Thomas", "George"),
}
EN_SURNAMES = ("Johnson", "Smith", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Clark", "Hall")
# timezone, number prefixes, how many random digits follow, phone kind
CN_MOBILES = ("130", "132", "135", "136", "138", "139", "150", "151", "158", "186", "188", "189")
CN_PLACE = ("Asia/Shanghai", tuple(f"+86 {prefix}" for prefix in CN_MOBILES), 8, "mobile")
EN_PLACES = (
    ("America/New_York", ("+1 212 555 01", "+1 718 555 01", "+1 917 555 01"), 2, "mobile"),
    ("America/Los_Angeles", ("+1 213 555 01", "+1 310 555 01", "+1 818 555 01"), 2, "mobile"),
    ("Europe/London", ("+44 20 7946 0",), 3, "home"),
)
# Text pairs are (zh, en); a patient's records are written in the patient's language.
# key: prevalence, ICD-10, condition, medication and dosage (None: no medication)
ILLNESSES = {
    "hypertension": (0.4, "I10", ("高血压", "Hypertension"),
                     ("氨氯地平", "Amlodipine"), ("5mg qd", "5 mg once daily")),
    "diabetes": (0.25, "E11.9", ("2型糖尿病", "Type 2 diabetes"),
                 ("二甲双胍", "Metformin"), ("0.5g bid", "500 mg twice daily")),
    "dyslipidaemia": (0.3, "E78.5", ("高脂血症", "Hyperlipidaemia"),
                      ("阿托伐他汀", "Atorvastatin"), ("20mg qn", "20 mg at night")),
    "obesity": (0.15, "E66.9", ("肥胖", "Obesity"), None, None),
}  # fmt: skip


@dataclass(frozen=True)
class Spec:
    """How an indicator behaves: the illness that raises it, baselines, drift a year, noise."""

    illness: str
    healthy: tuple[float, float]
    ill: tuple[float, float]
    drift: tuple[float, float]
    noise: float  # standard deviation between visits
    digits: int


SPECS = {
    ind.SYSTOLIC: Spec("hypertension", (108, 132), (146, 166), (-0.5, 2.0), 6, 0),
    ind.DIASTOLIC: Spec("hypertension", (66, 82), (91, 101), (-0.3, 1.0), 4, 0),
    ind.FASTING_GLUCOSE: Spec("diabetes", (4.4, 5.6), (7.3, 9.5), (0, 0.15), 0.35, 1),
    ind.HBA1C: Spec("diabetes", (4.6, 5.6), (6.9, 8.5), (0, 0.1), 0.2, 1),
    ind.BMI: Spec("obesity", (19.5, 25.5), (28.5, 33.0), (-0.2, 0.3), 0.3, 1),
    ind.TOTAL_CHOLESTEROL: Spec("dyslipidaemia", (3.8, 5.0), (5.8, 7.0), (-0.05, 0.08), 0.25, 2),
}
# Tag names carry both languages so staff of either language filter by the same tags.
TAGS = {
    "hypertension": ("高血压 Hypertension", "#dc2626"),
    "diabetes": ("糖尿病 Diabetes", "#ea580c"),
    "elderly": ("高龄 Elderly", "#7c3aed"),
    "obesity": ("肥胖 Obesity", "#0891b2"),
}
BP_CAMPAIGN = "高血压季度随访 / Hypertension quarterly follow-up"
EXAM_CAMPAIGN = "体检复查提醒 / Exam reminder"


def _q(key: str, kind: str, zh: str, en: str, **extra) -> dict:
    return {"key": key, "type": kind, "text": {"zh": zh, "en": en}, **extra}


BP_SCRIPT = [
    _q("bp", "blood_pressure", "您最近一次测量的血压是多少？", "Your latest blood pressure?",
       indicator_code=ind.SYSTOLIC),
    _q("takes_medicine", "yes_no", "您每天按时服用降压药吗？",
       "Do you take your blood pressure medicine every day?"),
    _q("symptoms", "choice", "最近有以下不适吗？", "Have you had any of these lately?",
       choices=["无 / None", "头晕 / Dizziness", "头痛 / Headache", "胸闷 / Chest tightness"]),
    _q("home_readings", "number", "过去一周在家测了几次血压？", "Home readings last week?"),
    _q("notes", "text", "其他情况", "Anything else"),
]  # fmt: skip
EXAM_SCRIPT = [
    _q("booked", "yes_no", "您的年度体检复查快到期了。已预约请按1，未预约请按2。",
       "Your yearly check-up is due. Press 1 if you have booked it, 2 if not."),
    _q("callback", "yes_no", "需要我们回电帮您预约吗？需要请按1，不需要请按2。",
       "Shall we call you back to book it? Press 1 for yes, 2 for no."),
]  # fmt: skip
