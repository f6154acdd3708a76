"""QA pages: transcript search, a call's transcript with its scorecards, agents' scores over time.

QA may read transcripts (identifiers masked) but not play recordings, so a search hit opens the
player for supervisors and the transcript, at the same moment, for QA.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select

from callcenter.errors import InvalidInput
from callcenter.extensions import db
from callcenter.models import Campaign, Speaker, User, utcnow
from callcenter.services import (
    authz,
    recordings_catalog,
    scorecards,
    transcript_search,
    transcripts,
)
from callcenter.web.pages import pages
from callcenter.web.pages.supervisor import FilterArgs, filter_choices
from callcenter.web.security import current, requires

# The checklist's wording in the reader's language, by item key.
CHECKLIST_LABELS = {
    "greeting": _l("Greeted and introduced the clinic"),
    "identity_verified": _l("Identity verified"),
    "medication_adherence_asked": _l("Medication adherence asked"),
    "indicators_collected": _l("Latest readings collected"),
    "advice_given": _l("Advice given"),
    "next_step_agreed": _l("Next follow-up agreed"),
}
MARK = re.compile(r"(</?mark>)")


def safe_snippet(snippet: str) -> Markup:
    """Keep only the search service's <mark> tags; anything else that looks like markup is
    escaped again, so a snippet can never carry HTML of its own into the page."""
    parts = []
    for piece in MARK.split(snippet or ""):
        if piece in ("<mark>", "</mark>"):
            parts.append(Markup(piece))
        elif "<" in piece or ">" in piece:
            parts.append(escape(piece))
        else:
            parts.append(Markup(piece))  # already escaped by the service
    balanced = sum(1 for p in parts if p == "<mark>") == sum(1 for p in parts if p == "</mark>")
    return Markup("").join(parts) if balanced else escape(MARK.sub("", snippet))


def _names(model, ids) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    name = model.display_name if model is User else model.name
    return dict(db.session.execute(select(model.id, name).where(model.id.in_(ids))).all())


@pages.route("/qa/search")
@requires("transcripts.search")
def qa_search():
    read = FilterArgs(request.args)
    q = read.text("q", transcript_search.MAX_QUERY_CHARS)
    filters = transcript_search.Filters(
        campaign_id=read.integer("campaign_id"),
        agent_id=read.integer("agent_id"),
        started_from=read.day("from"),
        started_to=read.day("to", end=True),
        tag=read.text("tag", 100) or None,
        speaker=read.choice("speaker", Speaker),
    )
    page_number = read.integer("page") or 1
    if page_number > transcript_search.MAX_PAGE:
        read.errors["page"] = _("At most %(n)s pages.", n=transcript_search.MAX_PAGE)
    result = None
    if q and not read.errors:
        result = transcript_search.search(db.session, current(), q, filters, page=page_number)
        db.session.commit()
    hits = result.hits if result else []
    plays = authz.allowed(current(), "recordings.play")
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "qa/search.html",
        q=q,
        args=request.args,
        errors=read.errors,
        result=result,
        hits=hits,
        plays=plays,
        query=query,
        speakers=list(Speaker),
        safe_snippet=safe_snippet,
        campaign_names=_names(Campaign, [h.campaign_id for h in hits]),
        agent_names=_names(User, [h.agent_id for h in hits]),
        **filter_choices(),
    ), (400 if read.errors else 200)


@pages.route("/qa/recordings/<int:recording_id>")
@requires("transcripts.read")
def qa_transcript(recording_id: int):
    """A call's transcript (masked for QA) at the moment ``t``, with its scorecards."""
    user = current()
    row = recordings_catalog.summary(db.session, user, recording_id)
    transcript = transcripts.read_transcript(db.session, user, recording_id)
    db.session.commit()
    at = request.args.get("t", type=float)
    return render_template(
        "qa/transcript.html",
        row=row,
        segments=transcript.segments,
        highlight_at=at,
        seekable=False,
        shows_patient=not authz.masks_identifiers(user),
        plays=authz.allowed(user, "recordings.play"),
        may_score=authz.allowed(user, "scorecards.write"),
        cards=scorecards.for_call(db.session, user, row.call.id)
        if authz.allowed(user, "scorecards.read")
        else [],
        checklist=scorecards.FOLLOWUP_CHECKLIST,
        checklist_labels=CHECKLIST_LABELS,
        errors={},
        form={},
    )


@pages.route("/qa/recordings/<int:recording_id>/scorecards", methods=["POST"])
@requires("scorecards.write")
def qa_save_scorecard(recording_id: int):
    user = current()
    row = recordings_catalog.summary(db.session, user, recording_id)
    passed = request.form.getlist("passed")
    comments = request.form.get("comments", "")
    try:
        card = scorecards.save(db.session, user, row.call.id, passed, comments)
    except InvalidInput as exc:
        db.session.rollback()
        flash(_("The scorecard was not saved: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("pages.qa_transcript", recording_id=recording_id))
    db.session.commit()
    flash(_("Scorecard saved: %(score)s / 100.", score=card.score), "ok")
    return redirect(url_for("pages.qa_transcript", recording_id=recording_id) + "#scorecards")


@pages.route("/qa/scores")
@requires("scorecards.read")
def qa_scores():
    read = FilterArgs(request.args)
    until = read.day("to", end=True) or utcnow()
    since = read.day("from") or until - timedelta(weeks=12)
    if not read.errors and since >= until:
        read.errors["from"] = _("The start is after the end.")
    weeks, agents = [], []
    if not read.errors:
        weeks, agents = scorecards.agent_scores(
            db.session, current(), since, until, current_app.config["DEFAULT_TIMEZONE"]
        )
    chart = {
        "weeks": weeks,
        "agents": [{"name": a.name, "scores": [a.by_week.get(w) for w in weeks]} for a in agents],
    }
    return render_template(
        "qa/scores.html",
        args=request.args,
        errors=read.errors,
        weeks=weeks,
        agents=agents,
        chart=chart,
    ), (400 if read.errors else 200)
