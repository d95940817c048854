"""The JSON columns' encoding: orjson where it agrees with the standard library, ``json`` otherwise."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from app.json_columns import dumps, loads


@pytest.mark.parametrize("value", [
    {"a": 1, "b": [1.5, None, True, False], "c": {"é": "naïve ☂"}},
    {"big": 2 ** 70},
    [0.1, 1e300, -0.0, ""],
])
def test_round_trips_what_json_round_trips(value):
    assert loads(dumps(value)) == json.loads(json.dumps(value)) == value


def test_keys_that_are_not_text_are_written_as_json_writes_them():
    assert loads(dumps({1: "x", None: "y"})) == json.loads(json.dumps({1: "x", None: "y"}))


def test_refuses_what_json_refuses():
    with pytest.raises(TypeError):
        dumps({"at": datetime(2027, 1, 1, tzinfo=timezone.utc)})
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_a_json_column_round_trips(backend):
    from datetime import datetime, timezone

    from app.extensions import db
    from app.models import AuditEvent

    value = {"tasks": {"1": {"data": {"big": 2 ** 70, "text": "é", "n": [1, 2.5, None]}}}}
    with backend.app_context():
        row = AuditEvent(at=datetime.now(timezone.utc), type="probe", details=value)
        db.session.add(row)
        db.session.flush()
        db.session.expire(row)
        assert row.details == value
        db.session.rollback()
