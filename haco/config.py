"""Compose a command's Hydra config from `key=value` overrides, with readable errors."""

from __future__ import annotations

from hydra import compose, initialize_config_module
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


class ConfigError(ValueError):
    """A configuration the user asked for cannot be built; the message says how to fix it."""


def load_config(name: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose `haco/conf/<name>.yaml` with Hydra overrides and resolve it.

    Unknown keys and malformed overrides raise ConfigError before anything runs.
    """
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise ConfigError(f"overrides must look like key=value, got {bad}")
    try:
        with initialize_config_module(config_module="haco.conf", version_base=None):
            cfg = compose(config_name=name, overrides=list(overrides))
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"bad configuration for '{name}': {err}") from None
    return cfg
