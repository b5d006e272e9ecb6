"""Typed settings, resolved in one order: defaults < config file < DOCKET_* environment <
command-line flags. Nothing is read at import time.

The config file is TOML at $DOCKET_CONFIG, or $XDG_CONFIG_HOME/docket/config.toml
(~/.config/docket/config.toml). It never holds a passphrase.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from docket.errors import ConfigError
from docket.jurisdictions import DEFAULT as DEFAULT_JURISDICTION


def data_home(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/share")
    return Path(base) / "docket"


def config_path(env: Mapping[str, str]) -> Path:
    if env.get("DOCKET_CONFIG"):
        return Path(env["DOCKET_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "docket" / "config.toml"


@dataclass(frozen=True)
class Settings:
    diary: Path
    jurisdiction: str = DEFAULT_JURISDICTION
    timezone: str | None = None  # None: the jurisdiction's
    region: str | None = None  # None: the jurisdiction's, for phone numbers
    idle_minutes: str = "10"  # the web app locks itself after this long without use
    exit_url: str = "https://www.bbc.co.uk/weather"  # where quick exit goes

    def idle(self) -> float:
        try:
            minutes = float(self.idle_minutes)
        except ValueError:
            minutes = -1
        if not 0.5 <= minutes <= 240:
            raise ConfigError(
                "idle_minutes must be a number of minutes from 0.5 to 240, not "
                f"{self.idle_minutes!r}.",
                hint='For example idle_minutes = "10" in the settings file, or '
                "DOCKET_IDLE_MINUTES=10.",
            )
        return minutes

    def exit_address(self) -> str:
        if not self.exit_url.startswith(("https://", "http://")):
            raise ConfigError(
                f"exit_url must be a web address starting with https://, not {self.exit_url!r}.",
                hint='For example exit_url = "https://www.bbc.co.uk/weather".',
            )
        return self.exit_url

    @classmethod
    def resolve(
        cls, env: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        settings = cls(diary=data_home(env) / "diary.docket")
        path = config_path(env)
        if path.exists():
            try:
                from_file = tomllib.loads(path.read_text("utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"The settings file {path} could not be read.",
                    cause=str(exc),
                    hint="Fix the file (it is TOML) or move it away to use the defaults.",
                ) from exc
            settings = settings._merge(from_file, str(path))
        from_env = {
            f.name: env[f"DOCKET_{f.name.upper()}"]
            for f in fields(cls)
            if env.get(f"DOCKET_{f.name.upper()}")
        }
        settings = settings._merge(from_env, "the environment")
        return settings._merge({k: v for k, v in (flags or {}).items() if v is not None}, "flags")

    def _merge(self, values: Mapping[str, Any], source: str) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(
                f"Unknown setting {sorted(unknown)[0]!r} in {source}.",
                hint="Known settings: " + ", ".join(sorted(known)) + ".",
            )
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if not isinstance(value, str | Path):
                raise ConfigError(f"The setting {key!r} in {source} must be text.")
            changes[key] = Path(value).expanduser() if key == "diary" else str(value)
        return replace(self, **changes)
