"""Sealed personal fields: the cipher itself, the key vault's privileges against the real Postgres, and what
the outbox and a consumer do once a person's key has been destroyed."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from cryptography.exceptions import InvalidTag

from lx_contracts import identity, requests
from lx_devstack.stack import Stack
from lx_platform import sealing
from lx_platform.consumer import _can_go_without
from lx_platform.outbox import enqueue
from lx_platform.sealing import KEYRING, SealedValueError, SubjectKey, is_sealed, kid_of, open_sealed, seal


def a_key() -> SubjectKey:
    return SubjectKey(uuid.uuid4(), uuid.uuid4(), os.urandom(32))


@pytest.mark.unit
def test_a_sealed_value_opens_with_its_key_and_field_only() -> None:
    key, other = a_key(), a_key()
    sealed = key.seal("display_name", "Vera Vanish")
    assert is_sealed(sealed) and "Vera" not in sealed
    assert kid_of(sealed) == key.kid
    assert key.open("display_name", sealed) == "Vera Vanish"
    assert key.seal("display_name", "Vera Vanish") != sealed  # a fresh nonce every time
    with pytest.raises(InvalidTag):
        key.open("handle", sealed)  # moved to another field
    with pytest.raises(InvalidTag):
        SubjectKey(key.user_id, key.kid, other.key).open("display_name", sealed)  # another key
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(InvalidTag):
        key.open("display_name", tampered)
    with pytest.raises(SealedValueError):
        key.open("display_name", "lx1.short")
    assert not is_sealed("Vera Vanish") and not is_sealed(None)


@pytest.mark.unit
def test_a_consumer_goes_on_without_an_unreadable_field_only_where_the_contract_allows_it() -> None:
    assert _can_go_without("requests.request-opened.v1", ("created_by",))  # optional: the request stays useful
    assert not _can_go_without("requests.offer-made.v1", ("user_id",))  # about the erased person only
    assert not _can_go_without("somebody.unknown.v1", ("created_by",))


@pytest.mark.unit
def test_the_process_keyring_is_bounded() -> None:
    ring = sealing.Keyring(max_entries=2, ttl_s=60)
    keys = [a_key() for _ in range(3)]
    for k in keys:
        ring._remember(k)  # noqa: SLF001 - filling the cache without a database
    assert ring._cached(keys[0].user_id) is None  # noqa: SLF001 - the oldest went first
    assert ring._cached(keys[2].user_id) is keys[2]  # noqa: SLF001
    ring.forget(keys[2].user_id)
    assert ring._cached(keys[2].user_id) is None  # noqa: SLF001


async def fetch_as(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


@pytest.mark.integration
async def test_the_key_vault_gives_keys_to_services_but_only_identity_destroys_them(stack: Stack) -> None:
    person = uuid.uuid4()
    skills, identity_dsn = stack.dsns["skills"], stack.dsns["identity"]
    made = await fetch_as(skills, "SELECT kid, key FROM keyvault.subject_key($1, $2)", person, os.urandom(32))
    assert len(made) == 1 and len(bytes(made[0]["key"])) == 32
    again = await fetch_as(skills, "SELECT kid, key FROM keyvault.subject_key($1, $2)", person, os.urandom(32))
    assert again[0]["kid"] == made[0]["kid"] and again[0]["key"] == made[0]["key"]  # one key per person
    found = await fetch_as(skills, "SELECT user_id FROM keyvault.key_of($1)", made[0]["kid"])
    assert found[0]["user_id"] == person

    # Least privilege: no other service reads the vault or destroys a key.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await fetch_as(skills, "SELECT * FROM keyvault.subject_keys")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await fetch_as(stack.dsns["matcher"], "SELECT keyvault.shred($1)", person)

    assert (await fetch_as(identity_dsn, "SELECT keyvault.shred($1) AS gone", person))[0]["gone"] is True
    assert await fetch_as(skills, "SELECT * FROM keyvault.key_of($1)", made[0]["kid"]) == []
    # Never made again for the erased person, by anyone.
    assert await fetch_as(skills, "SELECT * FROM keyvault.subject_key($1, $2)", person, os.urandom(32)) == []


@pytest.mark.integration
async def test_events_about_an_erased_person_are_neither_written_nor_read(stack: Stack) -> None:
    """The outbox records nothing naming a person whose key is gone, and a consumer cannot open what was
    sealed for them: it drops the event if it is about them, or reads on without them where it may."""
    person, owner = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(stack.dsns["requests"])
    try:
        async with conn.transaction():
            made = await sealing.seal(
                conn,
                identity.UserUpdated(user_id=person, display_name="Vera", consents=consents()),
                subject=str(person),
            )
            state = request_state(owner)
            sealed_request = await seal(conn, state, subject=str(state.request_id))
        assert made.subject != str(person)  # keyed by the key's id, not by the person's id
        assert str(person) not in json.dumps(made.data) and "Vera" not in json.dumps(made.data)
        opened = await open_sealed(conn, made.data, subject=made.subject)
        assert opened.data["user_id"] == str(person) and opened.data["display_name"] == "Vera"
        assert opened.subject == str(person) and opened.unreadable == ()

        ident = await asyncpg.connect(stack.dsns["identity"])
        try:
            await ident.execute("SELECT keyvault.shred($1)", person)
            await ident.execute("SELECT keyvault.shred($1)", owner)
        finally:
            await ident.close()
        KEYRING.clear()  # as after the cache's time limit, or the erasure handled here

        gone = await open_sealed(conn, made.data, subject=made.subject)
        assert set(gone.unreadable) == {"user_id", "display_name"} and "user_id" not in gone.data
        assert not _can_go_without("identity.user-updated.v1", gone.unreadable)
        request = await open_sealed(conn, sealed_request.data, subject=sealed_request.subject)
        assert request.unreadable == ("created_by",)
        assert _can_go_without("requests.request-opened.v1", request.unreadable)

        tx = conn.transaction()
        await tx.start()
        try:
            event = await enqueue(
                conn,
                topic="identity.user-updated.v1",
                service="test",
                subject=str(person),
                data=identity.UserUpdated(user_id=person, display_name="Vera", consents=consents()),
            )
            assert event is None
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE key = $1", made.subject) == 0
        finally:
            await tx.rollback()
    finally:
        await conn.close()


def consents() -> identity.ConsentState:
    return identity.ConsentState(discoverable=True, contact_by_x=False)


def request_state(owner: uuid.UUID) -> requests.RequestOpened:
    now = datetime.now(UTC)
    return requests.RequestOpened(
        request_id=uuid.uuid4(),
        title="Leaflets",
        constituency_code="E14001354",
        remote_ok=True,
        skills=[requests.NeededSkill(slug="graphic-design", min_level=2, people=1)],
        urgency="normal",
        status="open",
        source="web",
        created_by=owner,
        created_at=now,
        people_needed=1,
        people_accepted=0,
    )
