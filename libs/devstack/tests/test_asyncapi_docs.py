"""The AsyncAPI documents in docs/asyncapi are what FastStream generates from the code today."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from lx_devstack.services import SERVICES

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[3] / "docs" / "asyncapi"


@pytest.mark.parametrize("spec", [s for s in SERVICES if s.schema], ids=lambda s: s.name)
def test_committed_asyncapi_document_is_current(spec: object) -> None:
    app = importlib.import_module(f"{spec.module}.app").create_app()  # type: ignore[attr-defined]
    generated = app.state.runtime.asyncapi_document()
    committed = json.loads((DOCS / f"{spec.name}.json").read_text())  # type: ignore[attr-defined]
    assert committed == json.loads(json.dumps(generated)), "run `make asyncapi` and commit the result"


def test_identity_documents_every_event_it_publishes_with_its_payload() -> None:
    doc = json.loads((DOCS / "identity.json").read_text())
    sent = {name for name, op in doc["operations"].items() if op["action"] == "send"}
    assert sent == {
        "identity.user-registered.v1",
        "identity.user-updated.v1",
        "identity.role-granted.v1",
        "identity.role-revoked.v1",
        "identity.user-erased.v1",
    }
    received = {name for name, op in doc["operations"].items() if op["action"] == "receive"}
    assert any("twitter.account-linked.v1" in name for name in received)
    schemas = doc["components"]["schemas"]
    assert "UserRegisteredEvent" in schemas
    assert "email" not in json.dumps(schemas["UserRegistered"]), "events never carry email addresses"
