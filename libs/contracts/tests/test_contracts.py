"""Contracts: reference data, envelope, topic names."""

from __future__ import annotations

import re
import uuid
from collections import Counter

import pytest
from pydantic import ValidationError

from lx_contracts import topics
from lx_contracts.constituencies import all_constituencies, by_code, is_valid_code
from lx_contracts.envelope import CloudEvent, new_event
from lx_contracts.identity import UserRegistered

pytestmark = pytest.mark.unit


def test_all_650_constituencies_are_packaged_with_their_nations() -> None:
    seats = all_constituencies()
    assert len(seats) == 650 and len({s.code for s in seats}) == 650
    assert Counter(s.nation for s in seats) == {
        "England": 543,
        "Scotland": 57,
        "Wales": 32,
        "Northern Ireland": 18,
    }
    withington = by_code("E14001354")
    assert withington is not None and withington.name == "Manchester Withington"
    assert 53 < withington.lat < 54 and -3 < withington.lon < -2
    assert is_valid_code("S14000107") and not is_valid_code("E14999999")


def test_topic_names_follow_the_convention_and_each_has_a_dlq() -> None:
    for topic in topics.ALL:
        assert re.fullmatch(r"[a-z]+\.[a-z-]+\.v\d+", topic.name), topic.name
        assert topic.dlq == topic.name + ".dlq"
        assert topic.dlq in topics.all_topic_names()


def test_envelope_carries_the_cloudevents_attributes() -> None:
    user_id = uuid.uuid4()
    data = UserRegistered(
        user_id=user_id, display_name="Sam", roles=["supporter"], consents={"discoverable": True, "contact_by_x": False}
    )
    event = new_event(topic=topics.USER_REGISTERED.name, service="identity", subject=str(user_id), data=data)
    body = event.model_dump(mode="json")
    assert body["specversion"] == "1.0" and body["source"] == "/services/identity"
    assert body["type"] == "identity.user-registered.v1" and body["subject"] == str(user_id)
    assert body["datacontenttype"] == "application/json" and body["data"]["display_name"] == "Sam"


def test_consumers_tolerate_unknown_fields_but_not_missing_ones() -> None:
    raw = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/services/x",
        "type": "t.e.v1",
        "time": "2026-01-01T00:00:00Z",
        "subject": "s",
        "data": {},
        "someextension": "kept",
    }
    assert CloudEvent.model_validate(raw).model_extra == {"someextension": "kept"}
    payload = UserRegistered.model_validate(
        {
            "user_id": str(uuid.uuid4()),
            "display_name": "Sam",
            "roles": [],
            "consents": {"discoverable": False, "contact_by_x": False},
            "new_field": 1,
        }
    )
    assert payload.display_name == "Sam"
    with pytest.raises(ValidationError):
        CloudEvent.model_validate({k: v for k, v in raw.items() if k != "id"})
