from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from lx_platform.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    port: int = 8101
    db_schema: str = "identity"
    signing_keys_dir: Path = Field(
        default=Path(".data/run/secrets/jwt"),
        description="Folder of Ed25519 PKCS#8 PEM files; the newest signs, all are published.",
    )
    access_token_ttl_s: int = Field(default=900, le=900)
    refresh_token_ttl_s: int = 30 * 24 * 3600
    login_failure_limit: int = 10
    login_failure_window_s: int = 15 * 60
    bootstrap_admin_email: str | None = Field(
        default=None,
        validation_alias=AliasChoices("IDENTITY_BOOTSTRAP_ADMIN_EMAIL", "BOOTSTRAP_ADMIN_EMAIL"),
    )
    bootstrap_admin_password: str | None = Field(
        default=None,
        validation_alias=AliasChoices("IDENTITY_BOOTSTRAP_ADMIN_PASSWORD", "BOOTSTRAP_ADMIN_PASSWORD"),
    )
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19_456
    argon2_parallelism: int = 1
    x_sign_in_key: SecretStr | None = Field(
        default=None,
        description="The key the twitter gateway presents to POST /internal/v1/x-sign-in; unset, that endpoint is off.",
    )
    export_sources: dict[str, str] = Field(
        default_factory=lambda: {
            "skills": "http://127.0.0.1:8102",
            "requests": "http://127.0.0.1:8103",
            "matcher": "http://127.0.0.1:8104",
            "twitter": "http://127.0.0.1:8105",
        },
        description="Section name to the base URL of the service whose GET /internal/v1/me/export gives that "
        'section of a person\'s export (a JSON object in IDENTITY_EXPORT_SOURCES: {"skills": "http://..."}).',
    )
    export_timeout_s: float = Field(default=10.0, gt=0, description="How long each export source may take.")
    access_log_sources: list[str] = Field(
        default_factory=lambda: ["skills", "requests", "matcher"],
        description="Which export sources keep an audit log: their GET /internal/v1/me/access-log is part of "
        "GET /api/v1/me/access-log.",
    )
