"""The Kafka security settings give the clients what the production listener needs (SCRAM-SHA-512 over TLS
trusting only the cluster CA), nothing extra against the dev broker, and refuse an incomplete configuration
with the variable's name and never the password. No broker is needed: the arguments and objects are checked."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import SASLScram512
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from lx_platform.kafka_security import (
    KafkaSecurityError,
    KafkaSecuritySettings,
    aiokafka_kwargs,
    client_settings,
    faststream_security,
    service_prefix,
    ssl_context,
)

pytestmark = pytest.mark.unit

PASSWORD = "s3cret-Kafka-pa55word"


class DemoSettings(BaseSettings, KafkaSecuritySettings):
    """A service's settings, as ServiceSettings mixes the Kafka security in."""

    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"


@pytest.fixture
def cafile(tmp_path: Path) -> Path:
    """A CA certificate in PEM, like the `ca.crt` of Strimzi's `lx-cluster-ca-cert` Secret."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cluster-ca v0")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SECURITY_PROTOCOL", "SASL_MECHANISM", "SASL_USERNAME", "SASL_PASSWORD", "SSL_CAFILE"):
        monkeypatch.delenv(f"DEMO_KAFKA_{name}", raising=False)
    return monkeypatch


def production(monkeypatch: pytest.MonkeyPatch, cafile: Path) -> None:
    monkeypatch.setenv("DEMO_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("DEMO_KAFKA_SASL_USERNAME", "demo")
    monkeypatch.setenv("DEMO_KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("DEMO_KAFKA_SSL_CAFILE", str(cafile))


def test_plaintext_is_the_default_and_adds_nothing(clean_env: pytest.MonkeyPatch) -> None:
    settings = DemoSettings()
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert not settings.kafka_authenticated
    assert aiokafka_kwargs(settings) == {}
    assert faststream_security(settings) is None
    # What the broker is then given leaves FastStream's client on PLAINTEXT.
    assert parse_security(faststream_security(settings)) == {}


def test_sasl_ssl_gives_aiokafka_scram_over_tls_trusting_the_ca(clean_env: pytest.MonkeyPatch, cafile: Path) -> None:
    production(clean_env, cafile)
    settings = DemoSettings()
    kwargs = aiokafka_kwargs(settings)
    assert set(kwargs) == {
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
        "ssl_context",
    }
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "demo"
    assert kwargs["sasl_plain_password"] == PASSWORD
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    # Trusts the cluster CA and nothing else (not the system's store).
    assert [dict(c["subject"][0])["commonName"] for c in context.get_ca_certs()] == ["cluster-ca v0"]

    # aiokafka accepts them as they are (it checks them when the client is built).
    async def build() -> tuple[str, str]:
        client = AIOKafkaProducer(bootstrap_servers="lx-kafka-bootstrap:9093", **kwargs).client
        return client._security_protocol, client._sasl_mechanism  # noqa: SLF001

    assert asyncio.run(build()) == ("SASL_SSL", "SCRAM-SHA-512")


def test_sasl_ssl_gives_faststream_scram_512_with_the_tls_context(clean_env: pytest.MonkeyPatch, cafile: Path) -> None:
    production(clean_env, cafile)
    security = faststream_security(DemoSettings())
    assert isinstance(security, SASLScram512)
    assert security.username == "demo" and security.password == PASSWORD
    assert security.use_ssl and isinstance(security.ssl_context, ssl.SSLContext)
    parsed = parse_security(security)
    assert parsed["security_protocol"] == "SASL_SSL" and parsed["sasl_mechanism"] == "SCRAM-SHA-512"
    KafkaBroker("lx-kafka-bootstrap:9093", security=security)  # FastStream takes it


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("DEMO_KAFKA_SASL_PASSWORD", "DEMO_KAFKA_SASL_PASSWORD"),
        ("DEMO_KAFKA_SASL_USERNAME", "DEMO_KAFKA_SASL_USERNAME"),
        ("DEMO_KAFKA_SSL_CAFILE", "DEMO_KAFKA_SSL_CAFILE"),
    ],
)
def test_sasl_ssl_without_a_needed_setting_names_it(
    clean_env: pytest.MonkeyPatch, cafile: Path, missing: str, variable: str
) -> None:
    production(clean_env, cafile)
    clean_env.delenv(missing)
    with pytest.raises(ValidationError) as caught:
        DemoSettings()
    message = str(caught.value)
    assert f"{variable} is required when DEMO_KAFKA_SECURITY_PROTOCOL is SASL_SSL" in message
    assert PASSWORD not in message and PASSWORD not in repr(caught.value)


def test_a_ca_file_that_is_not_there_is_named_and_the_password_never_shown(
    clean_env: pytest.MonkeyPatch, cafile: Path, tmp_path: Path
) -> None:
    production(clean_env, cafile)
    clean_env.setenv("DEMO_KAFKA_SSL_CAFILE", str(tmp_path / "nowhere" / "ca.crt"))
    with pytest.raises(ValidationError) as caught:
        DemoSettings()
    message = str(caught.value)
    assert "DEMO_KAFKA_SSL_CAFILE: no such file" in message
    assert PASSWORD not in message and PASSWORD not in repr(caught.value)


def test_an_empty_password_counts_as_missing(clean_env: pytest.MonkeyPatch, cafile: Path) -> None:
    production(clean_env, cafile)
    clean_env.setenv("DEMO_KAFKA_SASL_PASSWORD", "")
    with pytest.raises(ValidationError, match="DEMO_KAFKA_SASL_PASSWORD is required"):
        DemoSettings()


def test_an_unknown_protocol_or_mechanism_is_refused_without_echoing_input(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DEMO_KAFKA_SASL_PASSWORD", PASSWORD)
    clean_env.setenv("DEMO_KAFKA_SECURITY_PROTOCOL", "SSL")
    with pytest.raises(ValidationError) as caught:
        DemoSettings()
    assert "kafka_security_protocol" in str(caught.value) and PASSWORD not in str(caught.value)
    clean_env.setenv("DEMO_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    clean_env.setenv("DEMO_KAFKA_SASL_MECHANISM", "PLAIN")
    with pytest.raises(ValidationError, match="kafka_sasl_mechanism"):
        DemoSettings()


def test_the_password_is_never_in_the_settings_repr(clean_env: pytest.MonkeyPatch, cafile: Path) -> None:
    production(clean_env, cafile)
    settings = DemoSettings()
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())


def test_a_ca_file_that_is_not_a_certificate_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.crt"
    bogus.write_text("not a certificate\n")
    with pytest.raises(KafkaSecurityError, match="cannot read the Kafka CA file"):
        ssl_context(bogus)


def test_the_mixin_alone_names_its_fields(cafile: Path) -> None:
    with pytest.raises(ValidationError, match="kafka_sasl_password is required when kafka_security_protocol"):
        KafkaSecuritySettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="x", kafka_ssl_cafile=cafile)


def test_tools_in_a_pod_use_that_services_variables(cafile: Path) -> None:
    environ = {
        "REQUESTS_KAFKA_BOOTSTRAP_SERVERS": "lx-kafka-bootstrap:9093",
        "REQUESTS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "REQUESTS_KAFKA_SASL_USERNAME": "requests",
        "REQUESTS_KAFKA_SASL_PASSWORD": PASSWORD,
        "REQUESTS_KAFKA_SSL_CAFILE": str(cafile),
        "REQUESTS_DATABASE_URL": "postgresql://lx_requests@lx-postgres-rw:5432/labour_exchange",
    }
    assert service_prefix(environ) == "REQUESTS_"
    settings = client_settings(environ=environ)
    assert settings.kafka_bootstrap_servers == "lx-kafka-bootstrap:9093"
    assert aiokafka_kwargs(settings)["sasl_plain_username"] == "requests"
    assert client_settings("requests_", environ).kafka_sasl_username == "requests"
    # Incomplete: named with the service's prefix, the password not shown.
    del environ["REQUESTS_KAFKA_SSL_CAFILE"]
    with pytest.raises(ValidationError) as caught:
        client_settings(environ=environ)
    assert "REQUESTS_KAFKA_SSL_CAFILE is required" in str(caught.value) and PASSWORD not in str(caught.value)


def test_tools_on_the_local_stack_stay_on_plaintext() -> None:
    settings = client_settings(environ={})
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert aiokafka_kwargs(settings) == {} and faststream_security(settings) is None


def test_two_services_variables_are_ambiguous() -> None:
    environ = {"SKILLS_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "MATCHER_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
    with pytest.raises(KafkaSecurityError, match="MATCHER_, SKILLS_"):
        service_prefix(environ)
    assert client_settings("SKILLS_", environ).kafka_security_protocol == "PLAINTEXT"
