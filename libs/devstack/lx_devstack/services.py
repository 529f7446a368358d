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

DATABASE_NAME = "labour_exchange"
