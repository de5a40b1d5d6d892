"""/plugins: plugins from [core] plugins_folder and the stableflow.plugins entry points."""
from __future__ import annotations

import logging
import textwrap
from importlib import metadata

import pytest

from app import plugins
from app.plugins import StableflowPlugin
from tests.conftest import basic_auth, make_app

PLUGIN_FILE = """
from flask import Blueprint

from app.plugins import StableflowPlugin


class MyHook:
    pass


def my_macro():
    pass


class MyPlugin(StableflowPlugin):
    name = "folder_plugin"
    hooks = [MyHook]
    macros = [my_macro]
    flask_blueprints = [Blueprint("bp", __name__)]
    appbuilder_views = [{"name": "v", "category": "c", "view": MyHook()}]
    listeners = ["some.module.listener"]
"""


class EntryPointPlugin(StableflowPlugin):
    name = "entry_point_plugin"
    timetables = [StableflowPlugin]


class DuplicatePlugin(StableflowPlugin):
    name = "folder_plugin"


def empty(**values):
    info = {attribute: [] for attribute in plugins.LIST_ATTRIBUTES}
    info.update(values)
    return info


FOLDER_PLUGIN = empty(
    name="folder_plugin",
    source="$PLUGINS_FOLDER/my_plugins.py",
    hooks=["stableflow_plugins.my_plugins.MyHook"],
    macros=["stableflow_plugins.my_plugins.my_macro"],
    flask_blueprints=["<flask.blueprints.Blueprint: name='bp' import_name='stableflow_plugins.my_plugins'>"],
    appbuilder_views=[{"name": "v", "category": "c", "view": "<stableflow_plugins.my_plugins.MyHook object>"}],
    listeners=["some.module.listener"],
)
ENTRY_POINT_PLUGIN = empty(
    name="entry_point_plugin",
    source=f"ep = {__name__}:EntryPointPlugin",
    timetables=["app.plugins.StableflowPlugin"],
)


@pytest.fixture(scope="module")
def plugin_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "my_plugins.py").write_text(textwrap.dedent(PLUGIN_FILE))
    (folder / "broken.py").write_text("raise RuntimeError('broken plugin file')\n")
    (folder / "_private.py").write_text("raise RuntimeError('never imported')\n")
    return make_app(core={"plugins_folder": str(folder)})


@pytest.fixture
def entry_points(monkeypatch):
    points = [
        metadata.EntryPoint("ep", f"{__name__}:EntryPointPlugin", plugins.ENTRY_POINT_GROUP),
        metadata.EntryPoint("dup", f"{__name__}:DuplicatePlugin", plugins.ENTRY_POINT_GROUP),
        metadata.EntryPoint("missing", "no_such_module:Plugin", plugins.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: points if group == plugins.ENTRY_POINT_GROUP else [])


def test_no_plugins(client, admin_headers):
    response = client.get("/api/v1/plugins", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {"plugins": [], "total_entries": 0}


def test_folder_and_entry_point_plugins(plugin_app, entry_points, caplog):
    caplog.set_level(logging.INFO, logger="app.plugins")
    client = plugin_app.test_client()
    response = client.get("/api/v1/plugins", headers=basic_auth("admin"))
    assert response.status_code == 200
    assert response.json == {"plugins": [FOLDER_PLUGIN, ENTRY_POINT_PLUGIN], "total_entries": 2}
    assert "Failed to import plugin file" in caplog.text
    assert "broken.py" in caplog.text
    assert "Failed to load plugin entry point missing = no_such_module:Plugin" in caplog.text
    assert "has the name of one from $PLUGINS_FOLDER/my_plugins.py; skipped" in caplog.text
    assert "never imported" not in caplog.text

    second = client.get("/api/v1/plugins?limit=1&offset=1", headers=basic_auth("admin"))
    assert second.json == {"plugins": [ENTRY_POINT_PLUGIN], "total_entries": 2}
    assert client.get("/api/v1/plugins?limit=-1", headers=basic_auth("admin")).status_code == 400


@pytest.mark.parametrize(
    ("plugin", "error"),
    [
        (type("NoName", (), {}), "a plugin needs a non-empty string `name`"),
        (type("BadList", (), {"name": "x", "hooks": "not a list"}), "hooks must be a list, not str"),
        (type("BadView", (), {"name": "x", "appbuilder_views": ["v"]}), "appbuilder_views items must be dicts, not str"),
    ],
)
def test_malformed_plugins_are_rejected(plugin, error):
    with pytest.raises(plugins.PluginError, match=error):
        plugins.plugin_info(plugin, "test")


def test_access(client):
    assert client.get("/api/v1/plugins").status_code == 401
    for username in ("test_no_permissions", "viewer", "user"):
        assert client.get("/api/v1/plugins", headers=basic_auth(username)).status_code == 403
    assert client.get("/api/v1/plugins", headers=basic_auth("op")).status_code == 200


def test_query_count_does_not_depend_on_the_plugins(app, client, plugin_app, entry_points):
    from tests.conftest import count_queries

    plugin_client = plugin_app.test_client()
    for c in (client, plugin_client):
        c.get("/api/v1/plugins", headers=basic_auth("admin"))  # load plugins, write last_login
    with count_queries(app) as none:
        assert client.get("/api/v1/plugins", headers=basic_auth("admin")).json["total_entries"] == 0
    with count_queries(plugin_app) as two:
        assert plugin_client.get("/api/v1/plugins", headers=basic_auth("admin")).json["total_entries"] == 2
    assert none.count == two.count
