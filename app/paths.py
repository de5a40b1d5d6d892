"""Where the project's data files are, in a checkout or in an installed package."""
from __future__ import annotations

import sys
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
_INSTALLED = Path(sys.prefix) / "share" / "stableflow"


def _find(relative: str) -> Path:
    # An editable install or a checkout keeps the files beside app/; `pip install .` puts them
    # under <prefix>/share/stableflow (setup.cfg data_files).
    for base in (_CHECKOUT, _INSTALLED):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"stableflow data file {relative!r} not found in {_CHECKOUT} or {_INSTALLED}")


def spec_path() -> Path:
    return _find("openapi.yaml")


def default_config_path() -> Path:
    return _find("config/default.cfg")


def gunicorn_config_path() -> Path:
    return _find("config/gunicorn.conf.py")


def example_dags_folder() -> Path:
    return Path(__file__).resolve().parent / "example_dags"
