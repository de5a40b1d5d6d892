"""Password hashing, and a cache of successful verifications.

Verifying a salted hash costs tens of milliseconds of CPU on purpose. Basic auth verifies on every
request, so a successful verification is remembered in-process, keyed by the user id, the stored
hash and a digest of the offered password: a password change (new hash), deactivation or
deletion (the user lookup fails first) takes effect on the next request.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections import OrderedDict

from werkzeug.security import check_password_hash, generate_password_hash

_CACHE_SIZE = 1024
_cache: OrderedDict[tuple, bool] = OrderedDict()
_lock = threading.Lock()
# Per-process pepper so cached keys do not hold a reusable digest of any password.
_PEPPER = os.urandom(32)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def _cache_key(user_id: int, stored_hash: str, password: str) -> tuple:
    offered = hmac.new(_PEPPER, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return (user_id, stored_hash, offered)


def verify_password(user_id: int, stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        return False
    key = _cache_key(user_id, stored_hash, password)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return True
    if not check_password_hash(stored_hash, password):
        return False
    with _lock:
        _cache[key] = True
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return True


def clear_cache() -> None:
    with _lock:
        _cache.clear()
