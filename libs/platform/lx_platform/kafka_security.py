"""How a service authenticates to Kafka: nothing locally (PLAINTEXT against the dev broker), SCRAM-SHA-512
over TLS in production (Strimzi's `tls` listener with `scram-sha-512` authentication, ADR 16).

`KafkaSecuritySettings` is a mixin of settings, so every settings class with an env prefix reads
`<PREFIX>KAFKA_SECURITY_PROTOCOL`, `<PREFIX>KAFKA_SASL_USERNAME`, `<PREFIX>KAFKA_SASL_PASSWORD` and
`<PREFIX>KAFKA_SSL_CAFILE`; `aiokafka_kwargs` and `faststream_security` turn them into what the clients take:

    AIOKafkaProducer(bootstrap_servers=..., **aiokafka_kwargs(settings))
    KafkaBroker(bootstrap_servers, security=faststream_security(settings))

Command-line tools that run inside a service's pod read the same variables with `client_settings()`.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, Self

from faststream.security import SASLScram512
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLAINTEXT: Final = "PLAINTEXT"
SASL_SSL: Final = "SASL_SSL"
SCRAM_SHA_512: Final = "SCRAM-SHA-512"
_PROTOCOL_SUFFIX = "KAFKA_SECURITY_PROTOCOL"


class KafkaSecurityError(ValueError):
    """The Kafka security settings cannot give a working client (named setting, never a secret's value)."""


class KafkaSecuritySettings(BaseModel):
    """The Kafka client's security settings; mix into a settings class:
    `class ServiceSettings(BaseSettings, KafkaSecuritySettings)`."""

    # A rejected settings object never echoes its input: the input holds the password.
    model_config = ConfigDict(hide_input_in_errors=True)

    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = Field(
        default=PLAINTEXT,
        description="PLAINTEXT for the local dev broker; SASL_SSL (SCRAM over TLS) for the production cluster.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = Field(
        default=SCRAM_SHA_512, description="The only mechanism the production listener accepts."
    )
    kafka_sasl_username: str = Field(default="", description="The KafkaUser's name (the service's name).")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="The KafkaUser's password, from the Secret the Strimzi User Operator makes."
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="PEM file of the CA that signed the brokers' certificates (Strimzi's cluster CA)."
    )

    @model_validator(mode="after")
    def _complete_for_sasl_ssl(self) -> Self:
        if self.kafka_security_protocol != SASL_SSL:
            return self
        protocol = _env_name(self, "kafka_security_protocol")
        if not self.kafka_sasl_username.strip():
            raise ValueError(f"{_env_name(self, 'kafka_sasl_username')} is required when {protocol} is SASL_SSL")
        if self.kafka_sasl_password is None or not self.kafka_sasl_password.get_secret_value():
            raise ValueError(f"{_env_name(self, 'kafka_sasl_password')} is required when {protocol} is SASL_SSL")
        cafile = _env_name(self, "kafka_ssl_cafile")
        if self.kafka_ssl_cafile is None:
            raise ValueError(f"{cafile} is required when {protocol} is SASL_SSL")
        if not self.kafka_ssl_cafile.is_file():
            raise ValueError(f"{cafile}: no such file: {self.kafka_ssl_cafile}")
        return self

    @property
    def kafka_authenticated(self) -> bool:
        return self.kafka_security_protocol == SASL_SSL


def _env_name(settings: BaseModel, field: str) -> str:
    """The variable a setting is read from (`IDENTITY_KAFKA_SSL_CAFILE`), or the field's name outside settings."""
    prefix = settings.model_config.get("env_prefix")
    return f"{prefix}{field}".upper() if isinstance(prefix, str) and prefix else field


def ssl_context(cafile: Path) -> ssl.SSLContext:
    """A client TLS context that trusts only `cafile` and checks the broker's host name against its certificate."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cafile))
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(f"cannot read the Kafka CA file {cafile}: {exc.__class__.__name__}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def aiokafka_kwargs(settings: KafkaSecuritySettings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient; empty for PLAINTEXT,
    so the clients keep their defaults against the dev broker."""
    if not settings.kafka_authenticated:
        return {}
    assert settings.kafka_sasl_password is not None and settings.kafka_ssl_cafile is not None  # validated
    return {
        "security_protocol": SASL_SSL,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
        "ssl_context": ssl_context(settings.kafka_ssl_cafile),
    }


def faststream_security(settings: KafkaSecuritySettings) -> SASLScram512 | None:
    """The `security=` of FastStream's KafkaBroker; None for PLAINTEXT."""
    if not settings.kafka_authenticated:
        return None
    assert settings.kafka_sasl_password is not None and settings.kafka_ssl_cafile is not None  # validated
    return SASLScram512(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=ssl_context(settings.kafka_ssl_cafile),
    )


class KafkaClientSettings(BaseSettings, KafkaSecuritySettings):
    """What a command-line tool needs to reach Kafka, read from one service's variables (`prefix`)."""

    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"


def service_prefix(environ: Mapping[str, str]) -> str:
    """The env prefix of the service whose pod this is, found by its `<PREFIX>KAFKA_SECURITY_PROTOCOL`; "" when
    no variable says (the local stack: the defaults, PLAINTEXT). More than one is ambiguous: name the prefix."""
    found = sorted(
        name[: -len(_PROTOCOL_SUFFIX)]
        for name in environ
        if name.upper().endswith(_PROTOCOL_SUFFIX) and name.upper() != _PROTOCOL_SUFFIX
    )
    if len(found) > 1:
        raise KafkaSecurityError(f"several services' Kafka settings are set ({', '.join(found)}); name one prefix")
    return found[0].upper() if found else ""


def client_settings(prefix: str | None = None, environ: Mapping[str, str] | None = None) -> KafkaClientSettings:
    """The Kafka settings of the service whose variables are in the environment (or of `prefix`, e.g.
    "REQUESTS_"), for tools run inside its pod: `k exec deploy/requests -- lx-dlq …` uses requests' user."""
    env = os.environ if environ is None else environ
    chosen = service_prefix(env) if prefix is None else prefix.upper()
    values = {
        name[len(chosen) :].lower(): value
        for name, value in env.items()
        if name.upper().startswith(chosen) and name[len(chosen) :].lower() in KafkaClientSettings.model_fields
    }
    # Validated from the collected values only, so a variable of another prefix never leaks in.
    settings_class: type[KafkaClientSettings] = type(
        "KafkaClientSettings",
        (KafkaClientSettings,),
        {"model_config": SettingsConfigDict(env_prefix=chosen, extra="ignore"), "__module__": __name__},
    )
    return settings_class.model_validate(values)


__all__ = [
    "PLAINTEXT",
    "SASL_SSL",
    "SCRAM_SHA_512",
    "KafkaClientSettings",
    "KafkaSecurityError",
    "KafkaSecuritySettings",
    "aiokafka_kwargs",
    "client_settings",
    "faststream_security",
    "service_prefix",
    "ssl_context",
]
