"""pytest fixtures: the whole stack started once per session, as `make run` starts it, on free ports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from lx_devstack.ports import free_port, free_service_port_base
from lx_devstack.stack import Stack, StackConfig
from lx_devstack.testkit import use_key_vault


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Everything running: embedded Postgres (or DATABASE_URL), the broker, every service, the gateway."""
    config = StackConfig.from_env(
        tmp_path_factory.mktemp("stack"),
        gateway_port=free_port(),
        service_port_base=free_service_port_base(),
        broker_port=free_port(),
        ephemeral=True,
    )
    s = Stack(config)
    s.start()
    use_key_vault(s.postgres.project_admin_url if s.postgres is not None else None)
    try:
        yield s
    finally:
        use_key_vault(None)
        s.stop()


@pytest.fixture(scope="session")
def fake_x(stack: Stack) -> str:
    """The URL of the fake X that the stack started in place of X (its control API is under /_fake/)."""
    if stack.fake_x_url is None:
        pytest.fail(
            "this test drives the fake X, but the stack talks to the real X because TWITTER_X_CLIENT_ID is set; "
            "unset it to run this test"
        )
    return stack.fake_x_url


@pytest.fixture
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15.0) as client:
        yield client


@dataclass
class Person:
    email: str
    password: str
    display_name: str
    id: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def register_and_sign_in(client: httpx.Client, *, discoverable: bool = True, name: str = "Test Supporter") -> Person:
    """Create a new account through the gateway and sign it in."""
    email = f"person-{uuid.uuid4().hex[:12]}@example.org"
    password = "a long enough password " + uuid.uuid4().hex[:6]
    r = client.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": password,
            "display_name": name,
            "consents": {"terms": True, "discoverable": discoverable, "contact_by_x": False},
        },
    )
    assert r.status_code == 201, r.text
    t = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert t.status_code == 200, t.text
    body = t.json()
    return Person(email, password, name, r.json()["id"], body["access_token"], body["refresh_token"])


def make_organiser(client: httpx.Client, admin: Person, *constituency_codes: str) -> Person:
    """A new account made organiser of the given constituencies, signed in again so its token says so."""
    someone = register_and_sign_in(client, name="Test Organiser")
    for code in constituency_codes:
        r = client.post(
            f"/api/v1/admin/users/{someone.id}/roles",
            headers=admin.auth,
            json={"role": "organiser", "constituency_code": code},
        )
        assert r.status_code == 200, r.text
    t = client.post("/api/v1/auth/token", json={"email": someone.email, "password": someone.password})
    assert t.status_code == 200, t.text
    someone.access_token = t.json()["access_token"]
    someone.refresh_token = t.json()["refresh_token"]
    return someone


@pytest.fixture
def person(gateway: httpx.Client) -> Person:
    return register_and_sign_in(gateway)


def sign_in_admin(stack: Stack, client: httpx.Client) -> Person:
    """The bootstrap admin that the stack created, signed in."""
    t = client.post("/api/v1/auth/token", json={"email": stack.admin_email, "password": stack.admin_password})
    assert t.status_code == 200, t.text
    token = t.json()["access_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    return Person(
        stack.admin_email, stack.admin_password, me["display_name"], me["id"], token, t.json()["refresh_token"]
    )


@pytest.fixture
def admin(stack: Stack, gateway: httpx.Client) -> Person:
    return sign_in_admin(stack, gateway)


@pytest.fixture(scope="module")
def module_gateway(stack: Stack) -> Iterator[httpx.Client]:
    """A gateway client shared by a module's tests, for module-scoped casts of people."""
    with httpx.Client(base_url=stack.gateway_url, timeout=15.0) as client:
        yield client


@pytest.fixture
async def scratch_schema(stack: Stack) -> AsyncIterator[tuple[str, str]]:
    """A fresh schema with the platform tables (outbox, inbox), dropped afterwards: (admin DSN, schema)."""
    from lx_platform.migrations import apply_migrations

    assert stack.postgres is not None
    dsn = stack.postgres.project_admin_url
    schema = f"t_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await apply_migrations(conn, schema=schema, directory=None)
        yield dsn, schema
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


async def migrated_pool(dsn: str, schema: str, migrations: Path, *, application_name: str) -> asyncpg.Pool:
    """A pool on a scratch schema (`scratch_schema`) with a service's migrations applied there too, for tests
    that need the service's tables to themselves."""
    from lx_platform.db import create_pool
    from lx_platform.migrations import apply_migrations

    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn, schema=schema, directory=migrations)
    finally:
        await conn.close()
    return await create_pool(dsn, schema=schema, application_name=application_name)


__all__ = ["Person", "make_organiser", "migrated_pool", "register_and_sign_in", "sign_in_admin"]
