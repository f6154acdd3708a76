"""Indicators the product knows by LOINC code, with names, units and adult reference ranges."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Indicator:
    code: str
    name_en: str
    name_zh: str
    unit: str
    ref_low: float | None
    ref_high: float | None


SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
BLOOD_PRESSURE_PANEL = "85354-9"
FASTING_GLUCOSE = "1558-6"
HBA1C = "4548-4"
BMI = "39156-5"
TOTAL_CHOLESTEROL = "2093-3"

CATALOG: dict[str, Indicator] = {
    i.code: i
    for i in (
        Indicator(SYSTOLIC, "Systolic blood pressure", "收缩压", "mmHg", 90, 139),
        Indicator(DIASTOLIC, "Diastolic blood pressure", "舒张压", "mmHg", 60, 89),
        Indicator(FASTING_GLUCOSE, "Fasting glucose", "空腹血糖", "mmol/L", 3.9, 6.1),
        Indicator(HBA1C, "HbA1c", "糖化血红蛋白", "%", 4.0, 6.0),
        Indicator(BMI, "Body mass index", "体重指数", "kg/m2", 18.5, 23.9),
        Indicator(TOTAL_CHOLESTEROL, "Total cholesterol", "总胆固醇", "mmol/L", None, 5.2),
    )
}
