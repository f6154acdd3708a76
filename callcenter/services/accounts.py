"""Users, password hashes (argon2) and API tokens (random, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, InvalidInput, NotFound
from callcenter.models import ApiToken, Role, User, utcnow
from callcenter.services import audit

_hasher = PasswordHasher()
TOKEN_PREFIX = "cc_"
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(
    session: Session,
    actor: audit.Actor,
    *,
    username: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    sip_extension: str | None = None,
    language: str = "zh",
) -> User:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", {"field": "username"})
    if sip_extension and session.scalar(select(User.id).where(User.sip_extension == sip_extension)):
        raise Conflict(f"SIP extension {sip_extension} is taken", {"field": "sip_extension"})
    user = User(
        username=username,
        display_name=display_name or username,
        role=Role(role),
        password_hash=hash_password(password),
        sip_extension=sip_extension or None,
        language=language,
    )
    session.add(user)
    session.flush()
    audit.append(session, actor, "user.create", "user", user.id, {"role": str(user.role)})
    return user


def update_user(
    session: Session,
    actor_user: User,
    user_id: int,
    *,
    role: Role | str | None = None,
    active: bool | None = None,
) -> User:
    """Change a user's role or deactivate them; a deactivated user's sessions and tokens stop
    working at their next request. Admins cannot lock themselves out this way."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    new_role = Role(role) if role is not None else user.role
    new_active = user.active if active is None else active
    if user.id == actor_user.id and (new_role is not Role.ADMIN or not new_active):
        raise Conflict("you cannot take away your own admin role or deactivate yourself")
    if new_role is Role.AGENT and not user.sip_extension:
        raise InvalidInput("an agent needs a SIP extension", {"field": "role"})
    changes = {}
    if new_role is not user.role:
        changes["role"] = [str(user.role), str(new_role)]
        user.role = new_role
    if new_active != user.active:
        changes["active"] = [user.active, new_active]
        user.active = new_active
        if not new_active:
            for token in user.tokens:
                token.revoked = True
    if changes:
        audit.append(session, audit.Actor.of(actor_user), "user.update", "user", user.id, changes)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        _hasher.hash("timing-equalizer")  # same cost whether or not the user exists
        return None
    if not user.active or not check_password(user, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; the plain token is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_hash=_token_hash(plain), expires_at=expires_at)
    session.add(token)
    session.flush()
    audit.append(session, audit.Actor.of(user), "token.issue", "api_token", token.id)
    return token, plain


def user_for_token(session: Session, plain: str) -> User | None:
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain)))
    if token is None or token.revoked or not token.user.active:
        return None
    now = utcnow()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    token.last_used_at = now
    return token.user
