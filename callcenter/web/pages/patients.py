"""Patient list and record pages; every record view is written to the audit ledger."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import Observation
from callcenter.services import audit, authz, desk, ivr_reports, patients
from callcenter.services.masking import mask_phone
from callcenter.web.pages import pages
from callcenter.web.pages.desk import indicator_name
from callcenter.web.security import current, requires


@pages.route("/patients")
@requires("patients.read")
def patient_list():
    page_number = max(request.args.get("page", 1, type=int), 1)
    result = patients.search(
        db.session, current(), request.args.get("q", ""), page=page_number, per_page=25
    )
    db.session.commit()
    return render_template(
        "patients/list.html", page=result, q=request.args.get("q", ""), mask_phone=mask_phone
    )


@pages.route("/patients/<int:patient_id>")
@requires("patients.read")
def patient_detail(patient_id: int):
    patient = patients.read(db.session, current(), patient_id)
    db.session.commit()
    observations = db.session.scalars(
        select(Observation)
        .where(Observation.patient_id == patient.id)
        .order_by(Observation.taken_at.desc())
        .limit(50)
    ).all()
    return render_template(
        "patients/detail.html",
        patient=patient,
        age=patients.age(patient),
        observations=observations,
        tags=patient.tags,
        mask_phone=mask_phone,
        indicator_name=indicator_name,
        record=desk.PatientRecord(patient, None, logs=desk.recent_logs(db.session, patient.id, 20)),
        can_call=authz.allowed(current(), "calls.place"),
        ivr_calls=ivr_reports.history_rows(db.session, patient.id, limit=20),
    )


@pages.route("/audit")
@requires("audit.read")
def audit_status():
    result = audit.verify(db.session)
    entries = audit.recent(db.session, limit=100)
    return render_template("audit.html", result=result, entries=entries)
