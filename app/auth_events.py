"""Login bookkeeping: last_login and counters, and the failed-login lockout window."""
from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from flask import has_request_context, request
from sqlalchemy import func, update

from app.audit import record_event
from app.config import ConfigError
from app.extensions import db
from app.models import User, utcnow

if TYPE_CHECKING:
    from auth_backends import StoredUser

log = logging.getLogger(__name__)

FAILED_LOGIN_EVENT = "failed_login"
_LOCKOUT_OFF = frozenset({"off", "false", "no"})

# last_login is refreshed at most this often: a write per authenticated request would make every
# read a write.
_LAST_LOGIN_GRANULARITY = dt.timedelta(seconds=60)


def failed_login_limit(conf) -> int:
    """`[api] max_failed_logins`: a count, or 0 or `off` (`false`, `no`) for no lockout."""
    value = conf.get("api", "max_failed_logins").strip()
    if value.lower() in _LOCKOUT_OFF:
        return 0
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"[api] max_failed_logins must be a number of failures, or off, not {value!r}") from None


def too_many_failures(user: StoredUser, conf) -> bool:
    limit = failed_login_limit(conf)
    if limit <= 0 or not user.fail_login_count or user.first_failed_login is None:
        return False
    window = dt.timedelta(seconds=conf.getint("api", "failed_login_window"))
    if utcnow() - user.first_failed_login > window:
        return False
    return user.fail_login_count >= limit


def record_failed_login(user: StoredUser, conf) -> None:
    now = utcnow()
    window = dt.timedelta(seconds=conf.getint("api", "failed_login_window"))
    restart = user.first_failed_login is None or now - user.first_failed_login > window
    values = (
        {"fail_login_count": 1, "first_failed_login": now}
        if restart
        else {"fail_login_count": func.coalesce(User.fail_login_count, 0) + 1}
    )
    db.session.execute(update(User).where(User.id == user.id).values(**values))
    # In the audit log too, committed with the counter: who, and from where (never the password).
    extra = {"remote_addr": request.remote_addr} if has_request_context() else None
    record_event(FAILED_LOGIN_EVENT, owner=user.username, extra=extra, commit=False)
    db.session.commit()
    log.info("Failed login for user %s", user.username)


def record_successful_login(user: StoredUser) -> None:
    now = utcnow()
    if user.fail_login_count or user.last_login is None or now - user.last_login > _LAST_LOGIN_GRANULARITY:
        db.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                last_login=now,
                login_count=func.coalesce(User.login_count, 0) + 1,
                fail_login_count=0,
                first_failed_login=None,
            )
        )
        db.session.commit()
