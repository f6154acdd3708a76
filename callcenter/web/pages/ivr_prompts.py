"""The IVR campaign's prompts: edit each text per language, or upload a recording of it."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from callcenter.errors import CallcenterError
from callcenter.extensions import db
from callcenter.services import ivr_admin
from callcenter.web.pages import pages
from callcenter.web.security import current, requires
from ivr.prompts import store_from_config


@pages.route("/campaigns/<int:campaign_id>/prompts")
@requires("ivr.manage")
def ivr_prompts(campaign_id: int):
    campaign = ivr_admin.ivr_campaign(db.session, campaign_id)
    prompts = ivr_admin.list_prompts(db.session, campaign_id)
    return render_template("ivr/prompts.html", campaign=campaign, prompts=prompts)


@pages.route("/campaigns/<int:campaign_id>/prompts/<language>/<key>", methods=["POST"])
@requires("ivr.manage")
def ivr_prompt_save(campaign_id: int, language: str, key: str):
    """Save the text, or, with a file, the recording (which then wins over the text)."""
    upload = request.files.get("file")
    try:
        if upload is not None and upload.filename:
            ivr_admin.upload_prompt_audio(
                db.session,
                current(),
                store_from_config(current_app.config),
                campaign_id,
                language,
                key,
                upload.read(),
            )
            message = _("Recording saved: it is played from the next call on.")
        else:
            text = request.form.get("text", "")
            ivr_admin.put_prompt_text(db.session, current(), campaign_id, language, key, text)
            message = _("Prompt saved.")
        db.session.commit()
        flash(message, "ok")
    except CallcenterError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("pages.ivr_prompts", campaign_id=campaign_id) + f"#{language}-{key}")
