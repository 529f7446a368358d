"""The services the stack runs, their ports and schemas."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port_offset: int
    schema: str | None
    env_prefix: str
    ready_path: str = "/readyz"

    @property
    def role(self) -> str | None:
        return f"lx_{self.schema}" if self.schema else None


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("identity", "identity_svc", 1, "identity", "IDENTITY_"),
    ServiceSpec("skills", "skills_svc", 2, "skills", "SKILLS_"),
    ServiceSpec("requests", "requests_svc", 3, "requests", "REQUESTS_"),
    ServiceSpec("matcher", "matcher_svc", 4, "matcher", "MATCHER_"),
    ServiceSpec("twitter-gateway", "twitter_svc", 5, "twitter", "TWITTER_"),
    ServiceSpec("web", "web_svc", 6, None, "WEB_"),
)
GATEWAY = ServiceSpec("gateway", "gateway_svc", 0, None, "GATEWAY_")
# The fake X API (libs/fakex): started in place of X unless X credentials are configured.
FAKE_X = ServiceSpec("fake-x", "lx_fakex", 90, None, "FAKEX_", ready_path="/healthz")

DATABASE_NAME = "labour_exchange"
