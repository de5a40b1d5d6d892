"""app/jsonutil.py: the wire JSON is the standard library's `json.dumps` with sorted keys, ASCII
escapes and compact separators, whichever encoder writes it."""
from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pytest

from app.jsonutil import _default, dumps

UTC = dt.timezone.utc


def stdlib(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default)


DOCUMENTS = {
    "a page of pools": {
        "pools": [
            {"name": f"pool_{i}", "slots": i, "open_slots": -1, "description": None, "include_deferred": i % 2 == 0}
            for i in range(50)
        ],
        "total_entries": 1000,
    },
    "nested, with every JSON type": {"b": [1, 2.5, True, None, "x", {"z": [], "a": {}}], "a": -0.125, "c": ""},
    "datetimes and dates": {
        "aware": dt.datetime(2026, 12, 4, 2, 3, 4, 500, tzinfo=UTC),
        "whole second": dt.datetime(2026, 12, 4, 2, 3, 4, tzinfo=UTC),
        "offset": dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        "naive": dt.datetime(2026, 1, 1, 12),
        "date": dt.date(2026, 2, 28),
    },
    "what the default hook converts": {
        "timedelta": dt.timedelta(seconds=90, microseconds=5),
        "decimal": decimal.Decimal("1.5"),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "set": {"b", "a"},
    },
    "escapes": {"quote": 'a"b', "backslash": "a\\b", "control": "\x00\x01\n\t\x1f\x7f", "slash": "/"},
    "non-ASCII text": {"ключ": "värde ✓", "emoji": "\U0001f680", "a": "plain"},
    "a lone surrogate": {"value": "\ud800"},
    "integers past 64 bits": {"big": 2**70, "negative": -(2**64)},
    "keys that are not strings": {1: "one", 2: "two"},
    "a top-level list": [3, "x", {"k": None}],
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_same_text_as_the_standard_library(name):
    assert dumps(DOCUMENTS[name]) == stdlib(DOCUMENTS[name])


def test_the_wire_is_ascii_with_sorted_keys():
    text = dumps({"b": "é", "a": 1})
    assert text == '{"a":1,"b":"\\u00e9"}'
    assert text.isascii()


def test_keyword_arguments_go_to_the_standard_library():
    assert dumps({"b": 1, "a": 2}, sort_keys=False) == '{"b":1,"a":2}'


def test_what_nothing_can_encode_is_a_type_error():
    with pytest.raises(TypeError):
        dumps({"object": object()})
