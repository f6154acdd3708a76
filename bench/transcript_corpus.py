"""A deterministic, realistic follow-up call corpus: Mandarin, English and code-switched segments.

Clauses are what nurses and patients say on hypertension and diabetes follow-ups; each
segment joins one or two of them. Every distinct clause is analysed once, and a segment's
analysis is its clauses' analyses end to end (punctuation separates them, so jieba segments
each clause the same way alone or in a sentence).
"""

from __future__ import annotations

import itertools
import json
import random
from functools import cache

from callcenter.services.transcript_text import analyze, tsvector_literal

ZH_DRUGS = ["降压药", "二甲双胍", "氨氯地平", "阿司匹林", "胰岛素", "缬沙坦", "硝苯地平"]
EN_DRUGS = ["metformin", "amlodipine", "aspirin", "insulin", "lisinopril", "valsartan"]
ZH_TIMES = ["下周一", "下周三", "明天上午", "月底", "下个月", "周五下午"]
EN_TIMES = ["next monday", "tomorrow morning", "next week", "friday afternoon", "end of month"]
ZH_CLINIC = [
    "您好，我是社区医院的随访护士",
    "请问是{name}本人吗",
    "您最近血压怎么样",
    "请按时服用{drug}",
    "您今天量血压了吗",
    "血糖控制得怎么样",
    "记得{time}来复查",
    "最近有没有头晕或者胸闷",
    "饮食要少盐少油",
    "每天散步{n}分钟比较好",
    "您的{drug}还剩多少",
    "有没有按医嘱吃药",
    "晚上睡眠好不好",
    "空腹血糖是多少",
    "最近体重有变化吗",
    "需要帮您预约心内科吗",
    "如果血压超过{sbp}要及时就医",
    "抽烟喝酒的情况怎么样",
    "这次随访就到这里，祝您身体健康",
]
ZH_PATIENT = [
    "血压还可以，早上量的是{sbp}/{dbp}",
    "有点头晕",
    "{drug}快吃完了",
    "好的，谢谢医生",
    "最近睡得不太好",
    "空腹血糖{glu}左右",
    "我有时候忘记吃药",
    "腿有点肿",
    "没有什么不舒服",
    "孩子{time}带我去医院",
    "胸口偶尔有点闷",
    "每天都在吃{drug}",
    "医保报销的事情想问一下",
    "我记不清了，要看一下本子",
]
EN_CLINIC = [
    "hello, this is the nurse from the community clinic",
    "how has your blood pressure been lately",
    "please take your {drug} every morning",
    "did you check your blood pressure today",
    "how is your blood sugar",
    "remember your follow up appointment {time}",
    "any dizziness or chest pain recently",
    "try to eat less salt",
    "walking {n} minutes a day would help",
    "how many {drug} tablets do you have left",
    "if your blood pressure goes above {sbp} please call us",
    "do you still smoke",
]
EN_PATIENT = [
    "my blood pressure was {sbp} over {dbp} this morning",
    "i feel a bit dizzy sometimes",
    "i am running out of {drug}",
    "thank you, doctor",
    "i have not been sleeping well",
    "my fasting sugar was about {glu}",
    "sometimes i forget to take my pills",
    "my ankles are a little swollen",
    "i feel fine, no problems",
    "my daughter will drive me {time}",
]
MIXED = [
    "您的 blood pressure 有点高",
    "那个 metformin 我每天吃两次",
    "我的 appointment 是{time}",
    "医生说要多 walking",
]
NAMES = ["王先生", "李阿姨", "张女士", "刘大爷", "陈老师", "杨先生"]


def _fill(template: str, rng: random.Random, zh: bool) -> str:
    return template.format(
        name=rng.choice(NAMES),
        drug=rng.choice(ZH_DRUGS if zh else EN_DRUGS),
        time=rng.choice(ZH_TIMES if zh else EN_TIMES),
        n=rng.choice([20, 30, 40, 60]),
        sbp=rng.randint(110, 180),
        dbp=rng.randint(65, 110),
        glu=rng.choice(["5.6", "6.1", "7.2", "8.4", "9.0"]),
    )


@cache
def _analysis(clause: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(p) for p in analyze(clause))


def segments_of_call(rng: random.Random, language: str, count: int):
    """Yield (speaker, start, end, text, words_json, search_text, tsvector) for one call."""
    clock = 0.0
    for i in range(count):
        speaker = "clinic" if i % 2 == 0 else "patient"
        zh = language == "zh"
        if language == "mixed" and rng.random() < 0.5:
            pool = MIXED
        elif zh or language == "mixed":
            pool, zh = (ZH_CLINIC if speaker == "clinic" else ZH_PATIENT), True
        else:
            pool = EN_CLINIC if speaker == "clinic" else EN_PATIENT
        clauses = [_fill(rng.choice(pool), rng, zh) for _ in range(rng.choice((1, 1, 2)))]
        text = ("，" if zh else ", ").join(clauses)
        positions = list(itertools.chain.from_iterable(_analysis(c) for c in clauses))
        start = clock
        words = []
        for p in positions:
            words.append({"text": p[0], "start": round(clock, 2), "end": round(clock + 0.3, 2),
                          "confidence": 0.9})  # fmt: skip
            clock += 0.35
        clock += 0.6
        yield (
            speaker,
            round(start, 2),
            round(clock, 2),
            text,
            json.dumps(words, ensure_ascii=False),
            " ".join(p[0] for p in positions),
            tsvector_literal([list(p) for p in positions]),
        )
