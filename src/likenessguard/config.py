"""Settings: defaults -> likenessguard.toml -> LIKENESSGUARD_* environment -> CLI flags.

Each setting carries its help text, so ``likenessguard config`` and the docs
can list them from one table.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from likenessguard.errors import ConfigError

APP_NAME = "likenessguard"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "db",
        "",
        "Catalog URL (sqlite:///path or postgresql+psycopg://...). "
        "Default: catalog.db in the user data directory.",
    ),
    Setting("policy", "", "Policy YAML file. Default: the packaged policy (docs/policy.md)."),
    Setting("hf_endpoint", "https://huggingface.co", "Hugging Face endpoint."),
    Setting("civitai_endpoint", "https://civitai.com", "Civitai endpoint."),
    Setting("webhook_secret", "", "Secret that Hugging Face webhooks must present."),
    Setting(
        "redis_url",
        "",
        "Redis URL (redis://host:6379/0) that wakes webhook workers at once; optional, "
        "needs the redis extra. Without it workers poll the catalog.",
    ),
    Setting(
        "secret_key",
        "",
        "Key that signs web sessions; generated and kept in the data directory when empty.",
    ),
    Setting(
        "requester_key",
        "",
        "Fernet key(s) that encrypt takedown requester data, comma-separated, newest first; "
        "generated and kept in the data directory (requester_key) when empty.",
    ),
)


def data_dir() -> Path:
    """The per-user data directory (created on first use)."""
    path = Path(platformdirs.user_data_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_url() -> str:
    return f"sqlite:///{data_dir() / 'catalog.db'}"


def load_settings(
    config_file: Path | None = None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Resolve every setting from defaults, the TOML file and the environment.

    Args:
        config_file: a ``likenessguard.toml``; by default ``./likenessguard.toml`` if present.
        env: the environment to read ``LIKENESSGUARD_*`` from (``os.environ`` by default).

    Returns:
        A name -> value map; CLI flags override it at the call site.
    """
    env = os.environ if env is None else env
    values = {s.name: s.default for s in SETTINGS}
    path = config_file or Path("likenessguard.toml")
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}): fix or remove it") from exc
        for key, value in data.items():
            if key not in values:
                known = ", ".join(values)
                raise ConfigError(f"{path}: unknown setting {key!r}; known settings: {known}")
            values[key] = str(value)
    for name in values:
        env_value = env.get(f"LIKENESSGUARD_{name.upper()}")
        if env_value:
            values[name] = env_value
    if not values["db"]:
        values["db"] = default_db_url()
    return values


def resolve_db_url(flag: str | None, env: Mapping[str, str] | None = None) -> str:
    """The catalog URL: ``--db`` flag, else LIKENESSGUARD_DB / config file, else the default."""
    if flag:
        return flag
    return load_settings(env=env)["db"]
