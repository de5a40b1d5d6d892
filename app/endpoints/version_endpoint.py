from __future__ import annotations

from app.security import public
from app.version import __version__, git_version


@public
def get_version():
    """Report stableflow's version and, when known, the git revision it was built from."""
    return {"version": __version__, "git_version": git_version()}
