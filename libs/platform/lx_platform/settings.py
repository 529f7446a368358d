"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lx_platform.kafka_security import KafkaSecuritySettings


class ServiceSettings(BaseSettings, KafkaSecuritySettings):
    """Common settings. Subclasses set `model_config` with `env_prefix="<SERVICE>_"`. The Kafka client's
    security (`kafka_security_protocol`, `kafka_sasl_*`, `kafka_ssl_cafile`) comes from KafkaSecuritySettings."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8100
    database_url: str = Field(
        default="",
        description="DSN of this service's own database role; its search_path is its schema.",
    )
    db_schema: str = ""
    db_pool_min: int = 1
    db_pool_max: int = 10
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_idempotent_producer: bool = Field(
        default=False, description="On for Apache Kafka; the embedded dev broker does not support it."
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=500,
        ge=1,
        le=500,
        description="How long the broker may hold a consumer's fetch while no records are there: about the most "
        "a new event waits to be read (the dev broker answers a held fetch only when it ends; see "
        "lx_platform.kafka.ServiceKafkaBroker), against CPU spent on empty fetches while idle.",
    )
    outbox_retention_hours: float = 24 * 7
    outbox_batch_size: int = 500
    jwks_url: str = "http://127.0.0.1:8101/api/v1/auth/jwks.json"
    identity_url: str = Field(
        default="http://127.0.0.1:8101", description="Identity's base URL, for documented internal calls."
    )
    jwt_issuer: str = "labour-exchange"
    jwt_audience: str = "labour-exchange-api"
    log_level: str = "INFO"
    max_body_bytes: int = 1_000_000
