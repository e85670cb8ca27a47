"""Settings refuse what would make syndic unsafe, naming the variable."""

from __future__ import annotations

import secrets

import pytest

from syndic import config, errors

GOOD = {
    "api_token_secret": secrets.token_hex(32),
    "internal_api_secret": secrets.token_hex(32),
    "lemon_webhook_secret": secrets.token_hex(32),
    "credentials_key": secrets.token_hex(32),
}


def load(**overrides: object) -> config.Settings:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir("/")
        return config.load(**{**GOOD, **overrides})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("api_token_secret", "short", "SYNDIC_API_TOKEN_SECRET"),
        (
            "credentials_key",
            "changeme-changeme-changeme-changeme!",
            "SYNDIC_CREDENTIALS_KEY",
        ),
        ("internal_api_secret", "a" * 40, "SYNDIC_INTERNAL_API_SECRET"),
        ("scheduler_lease", 30, "SYNDIC_SCHEDULER_LEASE must exceed"),
    ],
)
def test_unsafe_settings_stop_the_start_naming_the_variable(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(errors.ConfigurationError, match=message):
        load(**{field: value})


def test_random_hex_secrets_are_accepted() -> None:
    for _ in range(200):
        load(api_token_secret=secrets.token_hex(32))


def test_database_urls_get_their_async_driver() -> None:
    assert config.async_url("sqlite:///var/x.db") == "sqlite+aiosqlite:///var/x.db"
    assert (
        config.async_url("postgresql://u@h:5432/d") == "postgresql+asyncpg://u@h:5432/d"
    )
    with pytest.raises(errors.ConfigurationError):
        config.async_url("mysql://u@h/d")
