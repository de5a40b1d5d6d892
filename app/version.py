"""stableflow's version, and the git revision of a checkout when there is one."""
from __future__ import annotations

import functools
from pathlib import Path

__version__ = "0.1.0"


@functools.cache
def git_version() -> str | None:
    """The commit of the checkout this package runs from, read from .git without running git."""
    git_dir = Path(__file__).resolve().parent.parent / ".git"
    try:
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:]
        ref_file = git_dir / ref
        if ref_file.is_file():
            return ref_file.read_text().strip() or None
        packed = git_dir / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split(" ", 1)[0]
    except OSError:
        return None
    return None
