"""Plugins: what a stableflow plugin is, and how the server finds them (see docs/plugins.md).

A plugin is an object with a non-empty string `name` and, optionally, the list attributes
Airflow's plugins have (`LIST_ATTRIBUTES`). Two places are searched, in this order:

1. `[core] plugins_folder`: every `*.py` file below it (names starting with `_` or `.` are skipped)
   is imported, and each `StableflowPlugin` subclass defined in it is a plugin.
2. The `stableflow.plugins` entry-point group of installed distributions: each entry point may
   name a class, an instance or a module that has a `name`.

A plugin that fails to import or is malformed is logged and skipped; a second plugin with a name
already seen is skipped too. stableflow runs no operators, so the attributes are reported by
GET /plugins, not executed.
"""
from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from flask import Flask

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "stableflow.plugins"
FOLDER_SOURCE_PREFIX = "$PLUGINS_FOLDER/"
_MODULE_PREFIX = "stableflow_plugins."
_EXTENSION_KEY = "stableflow.plugins"
_lock = threading.Lock()

# Attributes whose items are described by their qualified name (or `<class object>` for instances).
NAMED_ATTRIBUTES = (
    "hooks",
    "executors",
    "macros",
    "global_operator_extra_links",
    "operator_extra_links",
    "ti_deps",
    "listeners",
    "timetables",
)
# Attributes whose items are dicts (Airflow's Flask-AppBuilder view and menu entries).
DICT_ATTRIBUTES = ("appbuilder_views", "appbuilder_menu_items")
LIST_ATTRIBUTES = NAMED_ATTRIBUTES + DICT_ATTRIBUTES + ("flask_blueprints",)


class StableflowPlugin:
    """Base class of plugins in `[core] plugins_folder`: subclass it and set `name`."""

    name: str | None = None
    hooks: tuple = ()
    executors: tuple = ()
    macros: tuple = ()
    flask_blueprints: tuple = ()
    appbuilder_views: tuple = ()
    appbuilder_menu_items: tuple = ()
    global_operator_extra_links: tuple = ()
    operator_extra_links: tuple = ()
    ti_deps: tuple = ()
    listeners: tuple = ()
    timetables: tuple = ()


class PluginError(Exception):
    """A plugin that cannot be listed as it stands."""


@dataclass(frozen=True)
class LoadedPlugin:
    name: str
    source: str
    # What GET /plugins shows, computed once at load so that listing can never fail.
    info: dict


# -- describing ------------------------------------------------------------------------------------
def describe(item) -> str:
    """A short, JSON-safe name for a plugin item: a dotted path, or `<path object>` for instances."""
    if isinstance(item, str):
        return item
    if inspect.ismodule(item):
        return item.__name__
    if inspect.isclass(item) or inspect.isroutine(item):
        return f"{item.__module__}.{item.__qualname__}"
    cls = type(item)
    return f"<{cls.__module__}.{cls.__qualname__} object>"


def _describe_blueprint(item) -> str:
    if hasattr(item, "name") and hasattr(item, "import_name"):
        cls = type(item)
        return f"<{cls.__module__}.{cls.__qualname__}: name={item.name!r} import_name={item.import_name!r}>"
    return describe(item)


def _describe_entry(attribute: str, item) -> dict:
    if not isinstance(item, dict):
        raise PluginError(f"{attribute} items must be dicts, not {type(item).__name__}")
    plain = (str, int, float, bool, type(None))
    return {str(key): value if isinstance(value, plain) else describe(value) for key, value in item.items()}


def _items(obj, attribute: str) -> list:
    value = getattr(obj, attribute, None)
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise PluginError(f"{attribute} must be a list, not {type(value).__name__}")
    return list(value)


def plugin_info(obj, source: str) -> LoadedPlugin:
    """Validate a plugin object and compute what the API shows of it."""
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name.strip():
        raise PluginError("a plugin needs a non-empty string `name`")
    info: dict = {"name": name, "source": source}
    for attribute in NAMED_ATTRIBUTES:
        info[attribute] = [describe(item) for item in _items(obj, attribute)]
    for attribute in DICT_ATTRIBUTES:
        info[attribute] = [_describe_entry(attribute, item) for item in _items(obj, attribute)]
    info["flask_blueprints"] = [_describe_blueprint(item) for item in _items(obj, "flask_blueprints")]
    return LoadedPlugin(name, source, info)


# -- finding ---------------------------------------------------------------------------------------
def _folder_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder)
        if any(part.startswith(("_", ".")) for part in relative.parts):
            continue
        yield path


def _import_file(path: Path, folder: Path):
    relative = path.relative_to(folder).with_suffix("")
    module_name = _MODULE_PREFIX + ".".join(relative.parts)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, as a normal import would be (dataclasses and pickle look it up).
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _folder_candidates(folder: Path) -> Iterator[tuple[object, str]]:
    for path in _folder_files(folder):
        source = FOLDER_SOURCE_PREFIX + path.relative_to(folder).as_posix()
        try:
            module = _import_file(path, folder)
        except (Exception, SystemExit):
            log.exception("Failed to import plugin file %s; skipped", path)
            continue
        for value in list(vars(module).values()):
            if (
                inspect.isclass(value)
                and issubclass(value, StableflowPlugin)
                and value is not StableflowPlugin
                and value.__module__ == module.__name__
            ):
                yield value, source


def _entry_point_candidates() -> Iterator[tuple[object, str]]:
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        source = f"{entry_point.name} = {entry_point.value}"
        if dist is not None:
            source = f"{dist.name}=={dist.version}: {source}"
        try:
            obj = entry_point.load()
        except (Exception, SystemExit):
            log.exception("Failed to load plugin entry point %s; skipped", source)
            continue
        yield obj, source


def load_plugins(plugins_folder: str | Path) -> list[LoadedPlugin]:
    """Find, validate and describe every plugin; broken ones are logged and left out."""
    found: dict[str, LoadedPlugin] = {}
    folder = Path(plugins_folder).expanduser()
    for obj, source in [*_folder_candidates(folder), *_entry_point_candidates()]:
        try:
            plugin = plugin_info(obj, source)
        except Exception:
            log.exception("Invalid plugin %s from %s; skipped", describe(obj), source)
            continue
        if plugin.name in found:
            log.warning("Plugin %r from %s has the name of one from %s; skipped", plugin.name, source,
                        found[plugin.name].source)
            continue
        found[plugin.name] = plugin
    log.info("Loaded %d plugin(s)", len(found))
    return list(found.values())


def app_plugins(app: Flask) -> list[LoadedPlugin]:
    """The app's plugins, loaded on first use and kept for the life of the process."""
    plugins = app.extensions.get(_EXTENSION_KEY)
    if plugins is None:
        with _lock:
            plugins = app.extensions.get(_EXTENSION_KEY)
            if plugins is None:
                conf = app.extensions["stableflow.conf"]
                plugins = load_plugins(conf.get("core", "plugins_folder"))
                app.extensions[_EXTENSION_KEY] = plugins
    return plugins
