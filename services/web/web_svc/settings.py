from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8106
    log_level: str = "INFO"
    max_body_bytes: int = 1_000_000
    api_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where the public API is: the gateway's origin. The pages use it like any other client.",
    )
    api_timeout_s: float = 15.0
    session_key: SecretStr | None = Field(
        default=None,
        description="Key for the CSRF tokens (HMAC-SHA256), at least 32 characters. Unset: a random key per "
        "process, fine for development, but forms opened before a restart then answer 403, and replicas "
        "would not accept each other's tokens.",
    )
    gateway_proxy_key: SecretStr | None = Field(
        default=None,
        description="Presented to the gateway as `X-LX-Proxy-Key` (one of its `GATEWAY_PROXY_KEYS`) so it trusts "
        "the browser address this client forwards.",
    )
    cookie_secure: bool = Field(
        default=True,
        description="Mark cookies Secure. Browsers accept Secure cookies from http://127.0.0.1 and "
        "http://localhost (trustworthy origins); turn off only to serve over plain HTTP on another address.",
    )
    refresh_margin_s: int = Field(
        default=60, description="Refresh the access token when it has less than this many seconds left."
    )
    time_zone: str = Field(default="Europe/London", description="Times are shown and entered in this zone.")
