"""Sign in and sign out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from callcenter.extensions import db
from callcenter.services import accounts, audit
from callcenter.web.pages import pages
from callcenter.web.security import public, requires


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    """Only follow redirects within this site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/"):
            return target
    return url_for("pages.home")


@pages.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(db.session, form.username.data, form.password.data)
        if user is None:
            audit.append(
                db.session,
                audit.Actor(None, form.username.data[:120]),
                "login.failed",
                "user",
                form.username.data[:64],
            )
            db.session.commit()
            flash(_("Wrong username or password."), "error")
            return render_template("login.html", form=form), 401
        login_user(user)
        audit.append(db.session, audit.Actor.of(user), "login", "user", user.id)
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form)


@pages.route("/logout", methods=["POST"])
@requires("profile.read")
def logout():
    logout_user()
    return redirect(url_for("pages.login"))


@pages.route("/healthz")
@public
def healthz():
    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok"}
