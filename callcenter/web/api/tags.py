"""Tags."""

from __future__ import annotations

from flask_smorest import Blueprint

from callcenter.extensions import db
from callcenter.services import tags
from callcenter.web.api.common import PREFIX
from callcenter.web.api.schemas import TagIn, TagOut
from callcenter.web.security import actor, requires

blp = Blueprint("tags", __name__, url_prefix=f"{PREFIX}/tags", description="Patient tags")


@blp.route("")
@blp.response(200, TagOut(many=True))
@requires("tags.read")
def list_tags():
    """Every tag with how many patients carry it."""
    out = []
    for tag, count in tags.list_with_counts(db.session):
        out.append(
            {
                "id": tag.id,
                "name": tag.name,
                "colour": tag.colour,
                "source": tag.source,
                "patients": count,
            }
        )
    return out


@blp.route("", methods=["POST"])
@blp.arguments(TagIn)
@blp.response(201, TagOut)
@requires("tags.write")
def create_tag(data):
    """Create a tag."""
    tag = tags.create(db.session, actor(), data["name"], data["colour"], data["source"])
    db.session.commit()
    return {
        "id": tag.id,
        "name": tag.name,
        "colour": tag.colour,
        "source": tag.source,
        "patients": 0,
    }
