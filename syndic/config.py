"""Typed settings, read from the environment and `.env`, validated at start.

Every secret must be present and at least 32 characters long; a missing,
short or placeholder secret stops the process with a message that names the
variable. Sandbox mode writes freshly generated local secrets to
`./var/.env` on first start, so a new user never has to invent one.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Any

import limits
from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from syndic import errors

MIN_SECRET_LENGTH = 32
VAR_DIR = Path("var")
SANDBOX_ENV_FILE = VAR_DIR / ".env"

# values people paste from examples; random values never start like this
_PLACEHOLDER = re.compile(r"^(change[-_ ]?me|placeholder|your[-_ ]|secret$)", re.I)
_SECRET_NAMES = (
    "api_token_secret",
    "internal_api_secret",
    "lemon_webhook_secret",
    "credentials_key",
)
TIERS_WITH_VARIANTS = ("basic", "pro", "max")


def _strong_secret(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value()
    if len(raw) < MIN_SECRET_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters long")
    if len(set(raw)) < 8 or _PLACEHOLDER.match(raw):
        raise ValueError("looks like a placeholder; generate a random value")
    return value


Secret = Annotated[SecretStr, AfterValidator(_strong_secret)]


def _rate(value: str) -> str:
    if limits.parse(value).amount < 1:
        raise ValueError("must allow at least one request, such as 60/minute")
    return value


Rate = Annotated[str, AfterValidator(_rate)]


class Settings(BaseSettings):
    """Everything syndic reads from its environment (prefix `SYNDIC_`)."""

    model_config = SettingsConfigDict(
        env_prefix="SYNDIC_",
        env_file=".env",
        extra="ignore",
        hide_input_in_errors=True,
    )

    database_url: str = f"sqlite:///{VAR_DIR}/syndic.db"
    sandbox: bool = False

    api_token_secret: Secret
    internal_api_secret: Secret
    lemon_webhook_secret: Secret
    credentials_key: Secret
    lemon_api_key: SecretStr | None = None
    lemon_store_id: str | None = None
    lemon_variants: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    lemon_accept_test_mode: bool = False
    redis_url: str | None = None

    x_base_url: str = "https://api.x.com"
    bluesky_base_url: str = "https://bsky.social"
    linkedin_base_url: str = "https://api.linkedin.com"
    linkedin_version: str = "202611"
    telegram_base_url: str = "https://api.telegram.org"
    facebook_base_url: str = "https://graph.facebook.com"
    facebook_api_version: str = "v25.0"
    discord_base_url: str = "https://discord.com"
    reddit_base_url: str = "https://oauth.reddit.com"
    reddit_token_path: str = "/api/v1/access_token"  # noqa: S105 - a path; or a full URL
    devto_base_url: str = "https://dev.to"
    medium_base_url: str = "https://api.medium.com"
    lemon_base_url: str = "https://api.lemonsqueezy.com"

    # seconds
    scheduler_tick: float = Field(default=60.0, gt=0)
    scheduler_lease: float = Field(default=120.0, gt=0)
    scheduler_batch: int = Field(default=500, gt=0)
    scheduler_cadence_workers: int = Field(default=16, gt=0)
    reconcile_interval: float = Field(default=6 * 3600.0, gt=0)  # seconds
    platform_timeout: float = Field(default=15.0, gt=0)
    publish_max_attempts: int = Field(default=4, ge=1)
    # helper processes making the platform calls, so that the scheduler's own
    # loop keeps exact time; 0 makes them in the scheduler's process
    publish_processes: int = Field(default=1, ge=0, le=64)
    media_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)

    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")

    # requests per window, as `limits` writes them ("120/minute", "5/second");
    # see syndic.api.ratelimit
    rate_limit_enabled: bool = True
    rate_limit_per_key: Rate = "120/minute"
    rate_limit_per_ip: Rate = "60/minute"
    rate_limit_internal: Rate = "600/minute"
    rate_limit_redis_prefix: str = Field(default="syndic:ratelimit", min_length=1)

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> Settings:
        # a lease renewed each tick must survive a whole platform call, or a
        # live process would lose posts it is publishing to another one
        if self.scheduler_lease <= self.scheduler_tick + self.platform_timeout:
            raise ValueError(
                "SYNDIC_SCHEDULER_LEASE must exceed SYNDIC_SCHEDULER_TICK "
                "plus SYNDIC_PLATFORM_TIMEOUT"
            )
        return self

    @field_validator("lemon_variants", mode="before")
    @classmethod
    def _parse_variants(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        variants: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            tier, sep, variant_id = item.partition("=")
            if not sep or tier.strip() not in TIERS_WITH_VARIANTS:
                raise ValueError(
                    "expected tier=variant pairs such as basic=700101,pro=700201"
                )
            variants[variant_id.strip()] = tier.strip()
        return variants

    @property
    def async_database_url(self) -> str:
        """`database_url` with the async driver syndic uses for that database."""
        return async_url(self.database_url)

    @property
    def postgres_dsn(self) -> str:
        """`database_url` as a plain libpq URL (for LISTEN), PostgreSQL only."""
        return self.async_database_url.replace(
            "postgresql+asyncpg://", "postgresql://", 1
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def async_url(url: str) -> str:
    """Map `sqlite:///` and `postgresql://` URLs to their asyncio drivers."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    raise errors.ConfigurationError(
        "SYNDIC_DATABASE_URL must start with sqlite:/// or postgresql://"
    )


def write_sandbox_secrets(path: Path = SANDBOX_ENV_FILE) -> bool:
    """Create `path` with random local secrets unless it exists. True if written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Local secrets generated by `syndic serve --sandbox`. Never reuse them.",
        *(f"SYNDIC_{name.upper()}={secrets.token_hex(32)}" for name in _SECRET_NAMES),
        "SYNDIC_LEMON_API_KEY=sandbox-" + secrets.token_hex(32),
        "SYNDIC_LEMON_STORE_ID=1",
        "SYNDIC_LEMON_VARIANTS=basic=700101,pro=700201,max=700301",
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return True


def load(*, sandbox: bool = False, **overrides: Any) -> Settings:
    """Read and validate the settings, or raise `ConfigurationError`.

    `./var/.env`, where sandbox mode keeps its generated secrets, is read
    after `.env` when it exists (so the CLI shares a sandbox server's
    secrets); sandbox mode creates it on first use. Variables set in the
    environment always win.
    """
    if sandbox:
        write_sandbox_secrets()
        overrides.setdefault("sandbox", True)
    env_files: tuple[Path | str, ...] = (".env",)
    if SANDBOX_ENV_FILE.exists():
        env_files = (".env", SANDBOX_ENV_FILE)

    try:
        return Settings(_env_file=env_files, **overrides)
    except ValidationError as exc:
        raise errors.ConfigurationError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = "SYNDIC_" + "_".join(str(part) for part in error["loc"]).upper()
        message = "is not set" if error["type"] == "missing" else error["msg"]
        problems.append(f"{name} {message}")
    return "invalid configuration: " + "; ".join(problems)
