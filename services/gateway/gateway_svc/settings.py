from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _local(port: int) -> str:
    return f"http://127.0.0.1:{port}"


class GatewaySettings(BaseSettings):
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
    rate_limit_per_minute: int = Field(default=1200, ge=1, description="Sustained requests per client.")
    rate_limit_burst: int = Field(default=300, ge=1, description="Requests a client may make at once.")
    upstream_timeout_s: float = 15.0
    bulk_upstream_timeout_s: float = Field(
        default=180.0,
        description="For bulk routes such as supporter imports (5,000 rows), where a timeout "
        "would lose the answer (one-time invite codes) to work that still completes.",
    )
    max_body_bytes: int = 1_000_000
    log_level: str = "INFO"
