"""GET /providers: the connection-type providers of app.providers (no paging, as in Airflow)."""
from __future__ import annotations

from app.providers import PROVIDERS
from app.schemas.provider_schema import ProviderCollection, provider_collection_schema
from app.security import CAN_READ, RESOURCE_PROVIDER, perm, requires_access


@requires_access(perm(CAN_READ, RESOURCE_PROVIDER))
def get_providers():
    """List the providers this server knows, by package name."""
    providers = sorted(PROVIDERS, key=lambda provider: provider.package_name)
    return provider_collection_schema.dump(ProviderCollection(providers, len(providers)))
