"""Start and stop the whole system: infrastructure, database roles, topics, every service, the gateway."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from lx_contracts import topics
from lx_devstack.broker import EmbeddedBroker, port_is_free
from lx_devstack.postgres import Postgres, bootstrap, start_embedded
from lx_devstack.secrets_local import bootstrap_admin, ensure_secret, ensure_signing_key, twitter_secrets
from lx_devstack.services import FAKE_X, GATEWAY, SERVICES, ServiceSpec
from lx_fakex import ACCOUNT_TOKEN, APP_BEARER_TOKEN, CLIENT_ID, CLIENT_SECRET
from lx_platform.kafka import ensure_topics

DEV_PARTITIONS = 4


@dataclass
class StackConfig:
    data_dir: Path
    gateway_port: int = 8000
    service_port_base: int = 8100
    broker_port: int = 19092
    database_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    ephemeral: bool = False
    log_to_console: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 60.0
    # Start the fake X (libs/fakex) on service_port_base + 90 and point the twitter gateway at it.
    # None: yes, unless X credentials are configured (TWITTER_X_CLIENT_ID in the environment).
    fake_x: bool | None = None

    @classmethod
    def from_env(cls, data_dir: Path, **kw: object) -> StackConfig:
        return cls(
            data_dir=data_dir,
            database_url=os.environ.get("DATABASE_URL") or None,
            kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            **kw,  # type: ignore[arg-type]
        )


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.postgres: Postgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.bootstrap_servers = config.kafka_bootstrap_servers or f"127.0.0.1:{config.broker_port}"
        self.dsns: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.admin_email = ""
        self.admin_password = ""
        self.logs_dir = config.data_dir / "logs"
        self.secrets_dir = config.data_dir / "secrets"
        self.uses_fake_x = config.fake_x if config.fake_x is not None else not os.environ.get("TWITTER_X_CLIENT_ID")
        self._x_secrets: tuple[str, str] | None = None

    # -- addresses ---------------------------------------------------------------------------
    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.config.gateway_port}"

    @property
    def fake_x_url(self) -> str | None:
        """Where the fake X answers, or None when the stack talks to the real X (or is not running)."""
        return self.url_of(FAKE_X.name) if FAKE_X.name in self.processes else None

    def port_of(self, spec: ServiceSpec) -> int:
        if spec is GATEWAY:
            return self.config.gateway_port
        return self.config.service_port_base + spec.port_offset

    def url_of(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port_of(self.spec(name))}"

    @staticmethod
    def spec(name: str) -> ServiceSpec:
        for spec in (*SERVICES, GATEWAY, FAKE_X):
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def _specs(self) -> tuple[ServiceSpec, ...]:
        """Everything this stack runs as a process of its own, the fake X first."""
        return (FAKE_X, *SERVICES, GATEWAY) if self.uses_fake_x else (*SERVICES, GATEWAY)

    @property
    def admin_dsn(self) -> str:
        assert self.postgres is not None
        return self.postgres.admin_url

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Bring everything up and wait until every service answers /readyz."""
        cfg = self.config
        for spec in self._specs:
            if not port_is_free(self.port_of(spec)):
                raise RuntimeError(
                    f"port {self.port_of(spec)} (for {spec.name}) is already in use; "
                    "is Labour Exchange already running?"
                )
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.uses_fake_x:
                self.start_service(FAKE_X.name, wait=False)  # ready long before Postgres is
            if cfg.kafka_bootstrap_servers is None:
                self.broker = EmbeddedBroker(cfg.broker_port, self.logs_dir / "broker.log")
                self.broker.start()
            if cfg.database_url:
                self.postgres = Postgres(admin_url=cfg.database_url)
            else:
                self.postgres = start_embedded(cfg.data_dir, delete_on_stop=cfg.ephemeral)
            self.dsns = asyncio.run(self._prepare())
            self.admin_email, self.admin_password = bootstrap_admin(
                self.secrets_dir,
                os.environ.get("BOOTSTRAP_ADMIN_EMAIL"),
                os.environ.get("BOOTSTRAP_ADMIN_PASSWORD"),
            )
            ensure_signing_key(self.secrets_dir / "jwt")
            if self.uses_fake_x:
                self.wait_ready([FAKE_X.name])
            for spec in (*SERVICES, GATEWAY):
                self.start_service(spec.name, wait=False)
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    # -- faults (tests): stop and start the infrastructure under a running system --------------
    def stop_broker(self) -> None:
        """Stop the embedded broker. It keeps everything in memory, so every topic's records go with it."""
        if self.broker is None:
            raise RuntimeError("the stack did not start the broker (KAFKA_BOOTSTRAP_SERVERS is set)")
        self.broker.stop()

    def start_broker(self) -> None:
        """Start a new, empty embedded broker on the same port and create the topics again, as `start` does."""
        if self.broker is None:
            raise RuntimeError("the stack did not start the broker (KAFKA_BOOTSTRAP_SERVERS is set)")
        self.broker.start()
        names = topics.all_topic_names()
        asyncio.run(ensure_topics(self.bootstrap_servers, dict.fromkeys(names, DEV_PARTITIONS)))

    def stop_postgres(self) -> None:
        """Stop the embedded Postgres, keeping its data; the services stay up and must reconnect."""
        assert self.postgres is not None
        self.postgres.stop_server()

    def start_postgres(self) -> None:
        assert self.postgres is not None
        self.postgres.start_server()

    async def _prepare(self) -> dict[str, str]:
        assert self.postgres is not None
        dsns = await bootstrap(self.postgres, self.secrets_dir, use_passwords=self.postgres.embedded is None)
        names = topics.all_topic_names()
        await ensure_topics(self.bootstrap_servers, dict.fromkeys(names, DEV_PARTITIONS))
        return dsns

    def proxy_key(self) -> str:
        """The key web presents so the gateway believes the browser address it forwards: given, else made once."""
        return os.environ.get("WEB_GATEWAY_PROXY_KEY") or ensure_secret(
            self.secrets_dir / "gateway-proxy-key", lambda: secrets.token_urlsafe(32)
        )

    def x_secrets(self) -> tuple[str, str]:
        """(TWITTER_TOKEN_KEYS, the twitter gateway's key for identity's X sign-in): given, else generated once."""
        if self._x_secrets is None:
            token_keys, sign_in_key = twitter_secrets(self.secrets_dir)
            self._x_secrets = (
                os.environ.get("TWITTER_TOKEN_KEYS") or token_keys,
                os.environ.get("TWITTER_IDENTITY_INTERNAL_KEY")
                or os.environ.get("IDENTITY_X_SIGN_IN_KEY")
                or sign_in_key,
            )
        return self._x_secrets

    def _twitter_env(self) -> dict[str, str]:
        token_keys, sign_in_key = self.x_secrets()
        env = {"TWITTER_TOKEN_KEYS": token_keys, "TWITTER_IDENTITY_INTERNAL_KEY": sign_in_key}
        for name, value in (
            ("TWITTER_PUBLIC_BASE_URL", self.gateway_url),
            ("TWITTER_OAUTH_REDIRECT_URI", f"{self.gateway_url}/api/v1/auth/x/callback"),
            # The web client's page completes the sign-in for a browser and keeps the tokens in cookies.
            ("TWITTER_OAUTH_EXTRA_REDIRECT_URIS", json.dumps([f"{self.gateway_url}/login/x/callback"])),
        ):
            env[name] = os.environ.get(name) or value
        if self.uses_fake_x:
            fake = self.url_of(FAKE_X.name)
            env |= {
                "TWITTER_X_API_BASE_URL": fake,
                "TWITTER_X_AUTHORIZE_URL": f"{fake}/i/oauth2/authorize",
                "TWITTER_X_CLIENT_ID": CLIENT_ID,
                "TWITTER_X_CLIENT_SECRET": CLIENT_SECRET,
                "TWITTER_X_BEARER_TOKEN": APP_BEARER_TOKEN,
                "TWITTER_X_ACCOUNT_TOKEN": ACCOUNT_TOKEN,
                "TWITTER_POSTING_ENABLED": "true",
                # The quickest poll the admin settings allow, so a demo tweet shows up within seconds.
                "TWITTER_POLL_INTERVAL_S": "15",
            }
        return env

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        if spec is FAKE_X:
            return {**os.environ, "PYTHONUNBUFFERED": "1", **self.config.extra_env}
        p = spec.env_prefix
        identity_url = self.url_of("identity")
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # glibc malloc: fewer arenas (each thread would keep its own), and a fixed mmap threshold so
            # big short-lived blocks (argon2's 19 MiB per hash) go back to the OS instead of the heap.
            "MALLOC_ARENA_MAX": "2",
            "MALLOC_MMAP_THRESHOLD_": "1048576",
            f"{p}HOST": "127.0.0.1",
            f"{p}PORT": str(self.port_of(spec)),
            f"{p}KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            f"{p}JWKS_URL": f"{identity_url}/api/v1/auth/jwks.json",
            # For the few documented internal calls a waiting user needs (docs/internal-api.md).
            f"{p}IDENTITY_URL": identity_url,
        }
        if spec.schema:
            env[f"{p}DATABASE_URL"] = self.dsns[spec.name]
            env[f"{p}DB_SCHEMA"] = spec.schema
        if spec.name == "identity":
            env["IDENTITY_SIGNING_KEYS_DIR"] = str(self.secrets_dir / "jwt")
            env["IDENTITY_BOOTSTRAP_ADMIN_EMAIL"] = self.admin_email
            env["IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"] = self.admin_password
            env["IDENTITY_X_SIGN_IN_KEY"] = self.x_secrets()[1]
            # The services asked for their section of a person's export (docs/internal-api.md).
            env["IDENTITY_EXPORT_SOURCES"] = json.dumps(
                {
                    "skills": self.url_of("skills"),
                    "requests": self.url_of("requests"),
                    "matcher": self.url_of("matcher"),
                    "twitter": self.url_of("twitter-gateway"),
                }
            )
        if spec.name == "twitter-gateway":
            env.update(self._twitter_env())
        if spec.name == "web":
            env["WEB_API_BASE_URL"] = self.gateway_url
            env["WEB_GATEWAY_PROXY_KEY"] = self.proxy_key()
            env["WEB_SESSION_KEY"] = os.environ.get("WEB_SESSION_KEY") or ensure_secret(
                self.secrets_dir / "web-session-key", lambda: secrets.token_urlsafe(48)
            )
        if spec is GATEWAY:
            env["GATEWAY_UPSTREAMS"] = json.dumps({s.name: self.url_of(s.name) for s in SERVICES})
            env["GATEWAY_PUBLIC_ORIGIN"] = os.environ.get("GATEWAY_PUBLIC_ORIGIN") or self.gateway_url
            env["GATEWAY_PROXY_KEYS"] = self.proxy_key()
        env.update(self.config.extra_env)
        return env

    def start_service(self, name: str, *, wait: bool = True) -> None:
        spec = self.spec(name)
        out = None if self.config.log_to_console else (self.logs_dir / f"{name}.log").open("ab")
        command = [sys.executable, "-m", spec.module]
        if spec is FAKE_X:
            command += ["--host", "127.0.0.1", "--port", str(self.port_of(spec))]
        self.processes[name] = subprocess.Popen(
            command,
            env=self.service_env(spec),
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if wait:
            self.wait_ready([name])

    def stop_service(self, name: str, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def wait_ready(self, names: list[str] | None = None) -> None:
        names = names or list(self.processes)
        deadline = time.monotonic() + self.config.ready_timeout_s
        pending = set(names)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    proc = self.processes[name]
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"service {name} exited with {proc.returncode} while starting:\n{self.log_tail(name)}"
                        )
                    try:
                        if client.get(f"{self.url_of(name)}{self.spec(name).ready_path}").status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                if pending:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"not ready within {self.config.ready_timeout_s} s: {', '.join(sorted(pending))}\n"
                            + "\n".join(self.log_tail(n) for n in sorted(pending))
                        )
                    time.sleep(0.1)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs_dir / f"{name}.log"
        if not path.exists():
            return f"(no log for {name})"
        return f"--- last lines of {path} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def crashed(self) -> list[str]:
        return [n for n, p in self.processes.items() if p.poll() is not None]

    def stop(self) -> None:
        """Stop services (gateway first) and the fake X, then the broker and Postgres."""
        for name in [GATEWAY.name, *reversed([s.name for s in SERVICES])]:
            proc = self.processes.get(name)
            if proc and proc.poll() is None:
                proc.terminate()
        for name in list(self.processes):
            self.stop_service(name)
        if self.broker:
            self.broker.stop()
            self.broker = None
        if self.postgres:
            self.postgres.stop()
            self.postgres = None
