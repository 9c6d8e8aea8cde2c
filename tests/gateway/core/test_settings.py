"""Production refuses development shortcuts; settings reject values that cannot work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.core.errors import ConfigurationError
from gateway.core.settings import Environment, Settings

PROD = Environment.PRODUCTION
NOTIFY = {"notify_api_key": "live-key"}


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"issuer": "http://gateway.example.gov.uk", **NOTIFY}, "plain http"),
        (
            {"issuer": "https://gw.example.gov.uk", "allow_client_secrets": True, **NOTIFY},
            "CLIENT_SECRETS",
        ),
        ({"issuer": "https://gw.example.gov.uk", "demo": True, **NOTIFY}, "DEMO"),
        ({"issuer": "https://gw.example.gov.uk"}, "NOTIFY_API_KEY"),
    ],
    ids=["http-issuer", "client-secrets", "demo-data", "local-outbox"],
)
def test_production_refuses_each_development_shortcut(
    overrides: dict[str, object], phrase: str
) -> None:
    settings = Settings(env=PROD, **overrides)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=phrase):
        settings.check_production()


def test_production_with_https_and_no_shortcuts_starts() -> None:
    settings = Settings(env=PROD, issuer="https://gw.example.gov.uk", **NOTIFY)  # type: ignore[arg-type]
    settings.check_production()
    assert not settings.client_secrets_allowed


def test_loopback_http_issuer_is_allowed_in_production() -> None:
    Settings(env=PROD, issuer="http://127.0.0.1:8000", **NOTIFY).check_production()  # type: ignore[arg-type]


def test_client_secrets_default_on_only_in_development() -> None:
    assert Settings().client_secrets_allowed
    assert not Settings(env=PROD, issuer="https://gw.example.gov.uk").client_secrets_allowed


@pytest.mark.parametrize(
    "issuer", ["gateway.example", "ftp://gw.example", "https://gw.example/?a=1", "https://gw#x"]
)
def test_issuer_must_be_an_http_url_without_query_or_fragment(issuer: str) -> None:
    with pytest.raises(ValidationError):
        Settings(issuer=issuer)


def test_trusted_proxies_are_read_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCONNECT_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    monkeypatch.setenv("GOVCONNECT_TRUSTED_PROXIES", "not-a-network")
    with pytest.raises(ValidationError):
        Settings()
