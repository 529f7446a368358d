from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway_svc.clientaddr import parse_networks
from lx_platform.kafka_security import KafkaSecuritySettings


def _local(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _list(value: Any) -> Any:
    """A list from the environment: a JSON array, or values separated by commas."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class UpstreamTimeout(BaseModel):
    """Timeouts of one upstream; a missing one takes the gateway-wide default."""

    connect: float | None = Field(default=None, gt=0)
    read: float | None = Field(default=None, gt=0)


class GatewaySettings(BaseSettings, KafkaSecuritySettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    upstreams: dict[str, str] = Field(
        default_factory=lambda: {
            "identity": _local(8101),
            "skills": _local(8102),
            "requests": _local(8103),
            "matcher": _local(8104),
            "twitter-gateway": _local(8105),
            "web": _local(8106),
        },
        description="Service name to base URL (a JSON object in GATEWAY_UPSTREAMS).",
    )
    jwks_url: str = "http://127.0.0.1:8101/api/v1/auth/jwks.json"
    jwt_issuer: str = "labour-exchange"
    jwt_audience: str = "labour-exchange-api"

    # -- erased people -------------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092", description="The broker the gateway reads identity.user-erased.v1 from."
    )
    access_token_ttl_s: int = Field(
        default=900,
        ge=1,
        description="Identity's access-token lifetime: an erased person's tokens are refused for this long "
        "after the erasure, plus a minute for clock skew.",
    )
    erased_users_max: int = Field(
        default=100_000,
        ge=1,
        description="Erasures kept in memory at most (about 200 bytes each); only those of the last "
        "token lifetime are kept at all.",
    )
    erasure_catch_up_wait_s: float = Field(
        default=3.0,
        ge=0,
        description="How long start-up waits to read the erasures published before it; reading goes on "
        "in the background after that.",
    )

    # -- origins: CORS and HSTS ---------------------------------------------------------------
    public_origin: str = Field(
        default="http://127.0.0.1:8000",
        description="The gateway's own origin, which is also the web pages' origin. When it is "
        "https, responses carry Strict-Transport-Security.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Other origins allowed to call the API from a browser with credentials (the mobile "
        "app's web views); comma-separated or a JSON array. Never a wildcard.",
    )
    hsts_max_age_s: int = Field(default=31_536_000, ge=0)

    # -- rate limits ---------------------------------------------------------------------------
    rate_limit_per_minute: int = Field(
        default=1200, ge=1, description="Sustained requests per client address (requests without a valid token)."
    )
    rate_limit_burst: int = Field(default=300, ge=1, description="Requests a client address may make at once.")
    user_rate_limit_per_minute: int = Field(
        default=3000, ge=1, description="Sustained requests per signed-in user (the token's subject)."
    )
    user_rate_limit_burst: int = Field(default=600, ge=1, description="Requests a signed-in user may make at once.")
    rate_limit_max_clients: int = Field(
        default=20_000,
        ge=1,
        description="Buckets kept per limiter (addresses, users); past it the least recently used is forgotten. "
        "About 330 bytes a bucket: 6.5 MB per limiter at the default.",
    )
    rate_limit_ipv6_prefix: int = Field(
        default=64, ge=32, le=128, description="IPv6 clients share a bucket per network of this prefix length."
    )

    # -- who the client is ---------------------------------------------------------------------
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or CIDRs of proxies in front of the gateway whose X-Forwarded-For is "
        "believed (comma-separated or a JSON array). Empty by default: on loopback every local "
        "process shares the address, so an address cannot tell the web service from anyone else.",
    )
    proxy_keys: SecretStr | None = Field(
        default=None,
        description="Keys (comma-separated; several while rotating) a caller presents in X-LX-Proxy-Key to "
        "have its X-Forwarded-For believed: the web service, calling on behalf of browsers.",
    )

    # -- upstreams: timeouts and circuit breakers ----------------------------------------------
    upstream_connect_timeout_s: float = Field(default=2.0, gt=0)
    upstream_timeout_s: float = Field(default=15.0, gt=0, description="Read timeout unless an upstream has its own.")
    upstream_timeouts: dict[str, UpstreamTimeout] = Field(
        default_factory=lambda: {
            # The twitter gateway waits on X, with retries, while a person waits on a sign-in.
            "twitter-gateway": UpstreamTimeout(read=30.0),
            # A page waits on up to a few API calls of its own (each limited by WEB_API_TIMEOUT_S).
            "web": UpstreamTimeout(read=30.0),
        },
        description='Per-upstream timeouts, a JSON object: {"matcher": {"connect": 1, "read": 5}}.',
    )
    bulk_upstream_timeout_s: float = Field(
        default=180.0,
        description="For bulk routes such as supporter imports (5,000 rows), where a timeout "
        "would lose the answer (one-time invite codes) to work that still completes.",
    )
    upstream_max_in_flight: int = Field(
        default=64,
        ge=1,
        description="Calls in flight to one upstream at most, and so connections in use to it (kept alive when idle).",
    )
    verified_tokens_max: int = Field(
        default=10_000,
        ge=1,
        description="Access tokens remembered as verified until they expire (about 1 KB each), so a person's "
        "next calls skip the signature check; past it the least recently used is forgotten.",
    )
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Failures in a row (refused, reset, timed out) that open an upstream's breaker."
    )
    breaker_cooldown_s: float = Field(
        default=10.0, gt=0, description="How long an open breaker refuses calls before one trial call."
    )

    # -- request limits ------------------------------------------------------------------------
    max_body_bytes: int = 1_000_000
    max_url_bytes: int = Field(default=4096, ge=256, description="Path and query longer than this get 414.")
    max_header_bytes: int = Field(default=16_384, ge=1024, description="Request headers larger than this get 431.")
    log_level: str = "INFO"

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _list(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # fail at start-up, not on the first request
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        out = []
        for origin in value:
            origin = origin.strip().rstrip("/").lower()
            if origin in ("*", "null") or "://" not in origin:
                raise ValueError(f"not an origin: {origin!r} (scheme://host[:port], never * or null)")
            out.append(origin)
        return out

    def proxy_key_list(self) -> list[str]:
        if self.proxy_keys is None:
            return []
        return [k.strip() for k in self.proxy_keys.get_secret_value().split(",") if k.strip()]

    def timeout_for(self, upstream: str, *, bulk: bool = False) -> tuple[float, float]:
        """(connect, read) seconds for a call to `upstream`."""
        own = self.upstream_timeouts.get(upstream) or UpstreamTimeout()
        connect = own.connect or self.upstream_connect_timeout_s
        read = self.bulk_upstream_timeout_s if bulk else (own.read or self.upstream_timeout_s)
        return connect, read
