"""Settings of TLS to Temporal, metrics and tracing: read from the environment, refused naming the variable."""

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from client.temporal import tls_config
from core.metrics import metrics_runtime
from core.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TEMPORAL_TLS", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "TEMPORAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("CAPA_METRICS_PORT", "CAPA_METRICS_INTERVAL", "CAPA_OTEL_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_plain_connection_metrics_on_9464_no_tracing() -> None:
    """Without any variable: no TLS, metrics on port 9464 every 15 s, tracing off."""
    settings = load_settings()
    assert tls_config(settings) is False
    assert (settings.metrics_port, settings.metrics_interval, settings.otel_endpoint) == (9464, 15.0, None)


def test_client_certificate_and_key_make_an_mtls_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY are read into the SDK's TLSConfig."""
    (tmp_path / "client.pem").write_bytes(b"CERT")
    (tmp_path / "client.key").write_bytes(b"KEY")
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(tmp_path / "client.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(tmp_path / "client.key"))
    assert tls_config(load_settings()) == TLSConfig(client_cert=b"CERT", client_private_key=b"KEY")


@pytest.mark.parametrize(
    ("given", "missing"), [("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"), ("TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CERT")]
)
def test_certificate_without_key_is_refused(
    given: str, missing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate without its key (or the reverse) is refused, naming the missing variable."""
    (tmp_path / "file.pem").write_bytes(b"X")
    monkeypatch.setenv(given, str(tmp_path / "file.pem"))
    with pytest.raises(SettingsError, match=f"^{missing}: required when {given} is set"):
        load_settings()


def test_missing_certificate_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A certificate path that is no file is refused, naming TEMPORAL_TLS_CERT."""
    (tmp_path / "client.key").write_bytes(b"KEY")
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(tmp_path / "nope.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(tmp_path / "client.key"))
    with pytest.raises(SettingsError, match=r"^TEMPORAL_TLS_CERT: .*nope\.pem' is not a file"):
        load_settings()


def test_api_key_implies_tls_and_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """TEMPORAL_API_KEY turns TLS on and never shows in the settings' repr."""
    monkeypatch.setenv("TEMPORAL_API_KEY", "sekret-key")
    settings = load_settings()
    assert tls_config(settings) is True
    assert settings.temporal_api_key is not None
    assert settings.temporal_api_key.get_secret_value() == "sekret-key"
    assert "sekret-key" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("CAPA_METRICS_PORT", "70000", "CAPA_METRICS_PORT: "),
        ("CAPA_METRICS_PORT", "nine", "CAPA_METRICS_PORT: "),
        ("CAPA_METRICS_INTERVAL", "0", "CAPA_METRICS_INTERVAL: "),
        ("CAPA_OTEL_ENDPOINT", "collector:4318", "CAPA_OTEL_ENDPOINT: 'collector:4318' is not an http"),
        ("TEMPORAL_TLS", "maybe", "TEMPORAL_TLS: "),
    ],
)
def test_bad_value_names_its_variable(
    variable: str, value: str, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad metrics, tracing or TLS value is refused with a message starting with the variable's name."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"^{fragment}"):
        load_settings()


def test_metrics_port_zero_turns_metrics_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """CAPA_METRICS_PORT=0 is accepted and means no metrics endpoint."""
    monkeypatch.setenv("CAPA_METRICS_PORT", "0")
    assert metrics_runtime(load_settings()) is None


def test_metrics_listen_on_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default the worker's and the API's metrics are served to this machine only."""
    monkeypatch.delenv("CAPA_METRICS_HOST", raising=False)
    assert load_settings().metrics_host == "127.0.0.1"
    everywhere = "0.0.0.0"  # noqa: S104 - the setting under test, not a binding
    monkeypatch.setenv("CAPA_METRICS_HOST", everywhere)
    assert load_settings().metrics_host == everywhere


def test_a_metrics_host_that_is_no_address_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host name where an IP address belongs fails at start, one line naming the variable."""
    monkeypatch.setenv("CAPA_METRICS_HOST", "localhost")
    with pytest.raises(SettingsError, match=r"^CAPA_METRICS_HOST"):
        load_settings()
