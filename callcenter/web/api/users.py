"""Users (admin only)."""

from __future__ import annotations

from flask_smorest import Blueprint
from sqlalchemy import func, select

from callcenter.errors import NotFound
from callcenter.extensions import db
from callcenter.models import User
from callcenter.services import accounts, audit
from callcenter.services.patients import Page
from callcenter.web.api.common import PREFIX, page_body
from callcenter.web.api.schemas import PageArgs, UserIn, UserOut, UserPage, UserUpdateIn
from callcenter.web.security import actor, requires

blp = Blueprint("users", __name__, url_prefix=f"{PREFIX}/users", description="Users and roles")


@blp.route("")
@blp.arguments(PageArgs, location="query")
@blp.response(200, UserPage)
@requires("users.manage")
def list_users(args):
    """Every user."""
    total = db.session.scalar(select(func.count(User.id)))
    items = db.session.scalars(
        select(User)
        .order_by(User.username)
        .limit(args["per_page"])
        .offset((args["page"] - 1) * args["per_page"])
    ).all()
    return page_body(Page(list(items), total, args["page"], args["per_page"]))


@blp.route("", methods=["POST"])
@blp.arguments(UserIn)
@blp.response(201, UserOut)
@requires("users.manage")
def create_user(data):
    """Create a user with a role (and a SIP extension for agents)."""
    user = accounts.create_user(db.session, actor(), **data)
    db.session.commit()
    return user


@blp.route("/<int:user_id>", methods=["PATCH"])
@blp.arguments(UserUpdateIn)
@blp.response(200, UserOut)
@requires("users.manage")
def update_user(data, user_id: int):
    """Change a user's role, name, extension, language, password or active flag."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    changed = sorted(data)
    if "password" in data:
        user.password_hash = accounts.hash_password(data.pop("password"))
    for field, value in data.items():
        setattr(user, field, value)
    audit.append(db.session, actor(), "user.update", "user", user.id, {"fields": changed})
    db.session.commit()
    return user
