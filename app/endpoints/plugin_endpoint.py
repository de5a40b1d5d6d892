"""GET /plugins: the plugins found at startup (entry points and [core] plugins_folder)."""
from __future__ import annotations

from flask import current_app

from app.plugins import app_plugins
from app.queries import paginate_list
from app.schemas.plugin_schema import PluginCollection, plugin_collection_schema
from app.security import CAN_READ, RESOURCE_PLUGIN, perm, requires_access


@requires_access(perm(CAN_READ, RESOURCE_PLUGIN))
def get_plugins(*, limit: int | None = None, offset: int | None = None):
    """List the loaded plugins."""
    page = paginate_list([plugin.info for plugin in app_plugins(current_app)], limit=limit, offset=offset)
    return plugin_collection_schema.dump(PluginCollection(page.items, page.total_entries))
