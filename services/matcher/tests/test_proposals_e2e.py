"""Proactive matching: when a request opens, its best matches are proposed on
matcher.match-proposed.v1, and no supporter is proposed more than three times a day."""

from __future__ import annotations

import json

import pytest

from lx_contracts import topics
from lx_devstack.testing import Person, register_and_sign_in
from lx_devstack.testkit import events_once_published

from .conftest import Gateway

pytestmark = pytest.mark.e2e


def test_the_best_matches_are_proposed_when_a_request_opens(gw: Gateway, module_admin: Person) -> None:
    skill = gw.new_skill(module_admin, "Stewarding")
    good = gw.supporter("Gil Good", skills={skill: 5})
    fine = gw.supporter("Fin Fine", skills={skill: 3})
    owner = register_and_sign_in(gw.http, name="Orla Owner")
    gw.wait_projected(good, fine)
    rid = gw.open_request(owner, skills=[{"slug": skill, "min_level": 2, "people": 1}])
    proposed = gw.proposals(rid, count=2)
    assert [p["data"]["user_id"] for p in proposed] == [good.id, fine.id]
    first = proposed[0]
    assert first["source"] == "/services/matcher" and first["data"]["request_id"] == rid
    assert 0 < first["data"]["score"] <= 1 and first["data"]["proposed_at"]
    assert {"kind": "location", "detail": "Same constituency"} in first["data"]["reasons"]
    # Nothing personal beyond ids: no names, no email.
    raw = json.dumps(proposed)
    assert good.email not in raw and "Gil Good" not in raw


def test_a_supporter_is_proposed_at_most_three_times_a_day(gw: Gateway, module_admin: Person) -> None:
    skill = gw.new_skill(module_admin, "Megaphone")
    only = gw.supporter("Ola Only", skills={skill: 4})
    owner = register_and_sign_in(gw.http, name="Omar Owner")
    gw.wait_projected(only)
    rids = [gw.open_request(owner, skills=[{"slug": skill, "min_level": 1, "people": 1}]) for _ in range(4)]
    for rid in rids:
        gw.wait_request(rid)
    # Every request has been considered once the matcher has seen all four open.
    gw.wait_for(
        "proposals to be considered for all four",
        lambda: len(gw.sql("SELECT 1 FROM proposal_runs WHERE request_id::text = ANY($1::text[])", rids)) == 4,
    )
    published = events_once_published(
        gw.stack.bootstrap_servers, topics.MATCH_PROPOSED.name, lambda e: e["subject"] in rids, count=3
    )
    assert len(published) == 3
    assert {p["data"]["user_id"] for p in published} == {only.id}
    assert len({p["subject"] for p in published}) == 3
    assert len(gw.sql("SELECT 1 FROM proposals WHERE user_id::text = $1", only.id)) == 3
