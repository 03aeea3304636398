"""chaincrawler.config: Settings from kwargs, env vars, .env and TOML; ConfigError on bad values."""

from __future__ import annotations

from chaincrawler.config.errors import ConfigError, ConfigProblem
from chaincrawler.config.sections import (
    CrawlerSettings,
    HttpSettings,
    LogSettings,
    MempoolSettings,
    NodeSettings,
    StoreSettings,
)
from chaincrawler.config.settings import SettingInfo, Settings, load_settings

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "CrawlerSettings",
    "HttpSettings",
    "LogSettings",
    "MempoolSettings",
    "NodeSettings",
    "SettingInfo",
    "Settings",
    "StoreSettings",
    "load_settings",
]
