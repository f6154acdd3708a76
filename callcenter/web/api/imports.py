"""Patient imports: upload a CSV or FHIR Bundle, a worker applies it all-or-nothing."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from callcenter.errors import InvalidInput
from callcenter.extensions import db
from callcenter.models import ImportFormat, ImportStatus
from callcenter.services import imports
from callcenter.web.api.common import PREFIX
from callcenter.web.security import current, requires

blp = Blueprint(
    "imports",
    __name__,
    url_prefix=f"{PREFIX}/imports",
    description="Patient imports from CSV or FHIR R4 Bundles",
)


class ImportUpload(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportQuery(Schema):
    format = fields.Enum(
        ImportFormat,
        by_value=True,
        load_default=None,
        metadata={"description": "csv or fhir; guessed from the file name"},
    )


class ImportOut(Schema):
    id = fields.Integer()
    format = fields.Enum(ImportFormat, by_value=True)
    filename = fields.String()
    sha256 = fields.String()
    status = fields.Enum(ImportStatus, by_value=True)
    errors = fields.List(fields.Dict())
    summary = fields.Dict()
    failure_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


@blp.route("", methods=["POST"])
@blp.arguments(ImportQuery, location="query")
@blp.arguments(ImportUpload, location="files")
@blp.response(202, ImportOut)
@requires("patients.import")
def upload(query, files):
    """Queue an import. Poll the returned job until it is succeeded or rejected."""
    upload = files["file"]
    data = upload.read()
    fmt = query["format"] or imports.guess_format(upload.filename or "", data)
    if fmt is None:
        raise InvalidInput(
            "say format=csv or format=fhir: the file name does not tell", {"field": "format"}
        )
    job = imports.submit(db.session, current(), upload.filename or "upload", data, fmt)
    db.session.commit()
    imports.enqueue(current_app.extensions["callcenter.jobs"], job.id)
    return job


@blp.route("/<int:import_id>")
@blp.response(200, ImportOut)
@requires("patients.import")
def get_import(import_id: int):
    """An import job: its status, counts and, if rejected, every bad row."""
    return imports.get(db.session, import_id)


@blp.route("/<int:import_id>/retry", methods=["POST"])
@blp.response(202, ImportOut)
@requires("patients.import")
def retry_import(import_id: int):
    """Queue a failed import again."""
    job = imports.requeue(db.session, current(), import_id)
    db.session.commit()
    imports.enqueue(current_app.extensions["callcenter.jobs"], job.id)
    return job
