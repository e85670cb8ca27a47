"""Builds one adapter per platform from the settings.

In sandbox mode a platform whose base URL was not set explicitly points at
the emulator mounted in the same server, so the whole flow runs offline.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx

from syndic.config import Settings
from syndic.platforms.base import Adapter

# platform -> (module, class)
IMPLEMENTED: dict[str, tuple[str, str]] = {
    "x": ("syndic.platforms.x", "XAdapter"),
    "bluesky": ("syndic.platforms.bluesky", "BlueskyAdapter"),
    "discord": ("syndic.platforms.discord", "DiscordAdapter"),
    "telegram": ("syndic.platforms.telegram", "TelegramAdapter"),
    "linkedin": ("syndic.platforms.linkedin", "LinkedInAdapter"),
    "facebook": ("syndic.platforms.facebook", "FacebookAdapter"),
    "medium": ("syndic.platforms.medium", "MediumAdapter"),
    "reddit": ("syndic.platforms.reddit", "RedditAdapter"),
    "devto": ("syndic.platforms.devto", "DevtoAdapter"),
}


def base_url(settings: Settings, platform: str, emulator_root: str | None) -> str:
    field = f"{platform}_base_url"
    if emulator_root is not None and field not in settings.model_fields_set:
        return f"{emulator_root}/{platform}"
    value: str = getattr(settings, field)
    return value.rstrip("/")


def build(
    settings: Settings, client: httpx.AsyncClient, *, emulator_root: str | None = None
) -> dict[str, Adapter]:
    adapters: dict[str, Adapter] = {}
    for platform, (module_name, class_name) in IMPLEMENTED.items():
        cls: Any = getattr(importlib.import_module(module_name), class_name)
        adapters[platform] = cls(
            base_url=base_url(settings, platform, emulator_root),
            client=client,
            settings=settings,
        )
    return adapters


def sandbox_credentials() -> dict[str, dict[str, Any]]:
    """The emulator account of every platform that has an emulator."""
    found: dict[str, dict[str, Any]] = {}
    for platform in IMPLEMENTED:
        module = importlib.import_module(f"syndic.platforms.emulators.{platform}")
        found[platform] = dict(module.SANDBOX_CREDENTIALS)
    return found
