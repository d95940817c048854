"""Encoding of the JSON columns (instance state and variables, audit details).

orjson is several times faster than the standard library on the engine state, which every
action reads and writes whole. What it would encode differently is left to ``json``, so
the columns hold what they always held and refuse what they always refused: values past
64 bits, keys that are not text, and (passed through to ``json``, which refuses them)
datetimes and dataclasses.
"""
from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, default=_refuse, option=_OPTIONS).decode()
    except TypeError:
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


ENGINE_OPTIONS = {"json_serializer": dumps, "json_deserializer": loads}
