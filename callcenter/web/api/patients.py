"""Patients and their indicators."""

from __future__ import annotations

from flask_smorest import Blueprint

from callcenter.extensions import db
from callcenter.services import health, patients, tags
from callcenter.web.api.common import PREFIX, page_body, patient_defaults, setting
from callcenter.web.api.schemas import (
    ObservationArgs,
    ObservationIn,
    ObservationOut,
    ObservationPage,
    PatientCreateIn,
    PatientDetailOut,
    PatientPage,
    PatientSearchArgs,
    PatientTagIn,
    PatientUpdateIn,
    TagRef,
)
from callcenter.web.security import actor, current, requires

blp = Blueprint(
    "patients",
    __name__,
    url_prefix=f"{PREFIX}/patients",
    description="Patients, their indicators and tags",
)


@blp.route("")
@blp.arguments(PatientSearchArgs, location="query")
@blp.response(200, PatientPage)
@requires("patients.read")
def list_patients(args):
    """Search patients by name prefix, card number or phone (agents: their campaigns only)."""
    result = patients.search(
        db.session,
        current(),
        args["q"],
        tag=args["tag"],
        page=args["page"],
        per_page=args["per_page"],
    )
    db.session.commit()
    return page_body(result)


@blp.route("", methods=["POST"])
@blp.arguments(PatientCreateIn)
@blp.response(201, PatientDetailOut)
@requires("patients.write")
def create_patient(data):
    """Create a patient; phone numbers are validated and stored as E.164."""
    patient = patients.create(
        db.session, current(), data, region=setting("DEFAULT_REGION"), defaults=patient_defaults()
    )
    db.session.commit()
    return patient


@blp.route("/<int:patient_id>")
@blp.response(200, PatientDetailOut)
@requires("patients.read")
def get_patient(patient_id: int):
    """Read a patient record; the read is written to the audit ledger."""
    patient = patients.read(db.session, current(), patient_id, purpose="api")
    db.session.commit()
    return patient


@blp.route("/<int:patient_id>", methods=["PATCH"])
@blp.arguments(PatientUpdateIn)
@blp.response(200, PatientDetailOut)
@requires("patients.write")
def update_patient(data, patient_id: int):
    """Change a patient's details, phones, consent or do-not-call flag."""
    patient = patients.update(
        db.session, current(), patient_id, data, region=setting("DEFAULT_REGION")
    )
    db.session.commit()
    return patient


@blp.route("/<int:patient_id>/observations")
@blp.arguments(ObservationArgs, location="query")
@blp.response(200, ObservationPage)
@requires("patients.read")
def list_observations(args, patient_id: int):
    """A patient's indicator values, newest first."""
    result = health.list_observations(
        db.session,
        current(),
        patient_id,
        code=args["code"],
        page=args["page"],
        per_page=args["per_page"],
    )
    db.session.commit()
    return page_body(result)


@blp.route("/<int:patient_id>/observations", methods=["POST"])
@blp.arguments(ObservationIn)
@blp.response(201, ObservationOut)
@requires("health.write")
def add_observation(data, patient_id: int):
    """Record an indicator value (LOINC code; known codes fill in name, unit and range)."""
    patient = patients.get_visible(db.session, current(), patient_id)
    observation = health.add_observation(db.session, actor(), patient.id, data)
    db.session.commit()
    return observation


@blp.route("/<int:patient_id>/tags", methods=["POST"])
@blp.arguments(PatientTagIn)
@blp.response(201, TagRef)
@requires("tags.write")
def tag_patient(data, patient_id: int):
    """Put a tag on a patient."""
    tag = tags.tag_patient(db.session, current(), patient_id, data["tag"])
    db.session.commit()
    return tag


@blp.route("/<int:patient_id>/tags/<int:tag_id>", methods=["DELETE"])
@blp.response(204)
@requires("tags.write")
def untag_patient(patient_id: int, tag_id: int):
    """Take a tag off a patient."""
    tags.untag_patient(db.session, current(), patient_id, tag_id)
    db.session.commit()
