"""Reading the ``nosql`` section from YAML files, with ``${VAR}`` interpolation.

``load_config`` is the one entry point: a path, a mapping or a ready ``NoSQLSettings`` in,
validated ``NoSQLSettings`` out, with environment overrides and explicit arguments applied on
top (explicit > environment > YAML > defaults).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lexigram_nosql.config.settings import ConfigLayers, NoSQLSettings
from lexigram_nosql.errors import ConfigurationError

__all__ = ["CONFIG_ENV_VAR", "DEFAULT_CONFIG_PATH", "interpolate", "load_config", "read_yaml"]

CONFIG_ENV_VAR = "LEXIGRAM_NOSQL_CONFIG"
"""When ``load_config`` gets no source, it reads the file this variable names..."""

DEFAULT_CONFIG_PATH = Path("config/nosql.yaml")
"""...or this one, relative to the working directory."""

ConfigSource = str | os.PathLike[str] | Mapping[str, Any] | NoSQLSettings

# ${VAR} or ${VAR:-default}; $${ is a literal ${.
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(
    source: ConfigSource | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> NoSQLSettings:
    """Load and validate the ``nosql`` section.

    Args:
        source: a YAML file path; a mapping holding a ``nosql`` key (a whole application
            config) or the section itself; or ``NoSQLSettings`` (returned as is unless
            ``overrides`` are given). ``None`` reads ``$LEXIGRAM_NOSQL_CONFIG``, else
            ``config/nosql.yaml``.
        environ: where ``NOSQL__...`` overrides and ``${VAR}`` values are read
            (default ``os.environ``).
        overrides: explicit section keys (``backends=[...]``, ``health={...}``); they win over
            everything, and ``backends`` entries merge with the file's by store name.

    Raises:
        ConfigurationError: naming the file, the key path and what was expected.
    """
    env = os.environ if environ is None else environ
    if isinstance(source, NoSQLSettings):
        if not overrides:
            return source
        section: Any = source.model_dump(exclude_unset=True)
        origin = None
    elif isinstance(source, Mapping):
        section = interpolate(source.get("nosql", source), env, "nosql")
        origin = None
    else:
        path = _default_path(env) if source is None else Path(source)
        origin = str(path)
        document = read_yaml(path)
        if not isinstance(document, Mapping) or "nosql" not in document:
            raise ConfigurationError(
                f"Invalid configuration in {origin}: no `nosql:` section at the top level",
                path="nosql",
            )
        section = interpolate(document["nosql"], env, "nosql", origin=origin)
    return NoSQLSettings(ConfigLayers(section, origin=origin, environ=env), **overrides)


def _default_path(environ: Mapping[str, str]) -> Path:
    named = environ.get(CONFIG_ENV_VAR)
    if named:
        return Path(named)
    if DEFAULT_CONFIG_PATH.exists():
        return DEFAULT_CONFIG_PATH
    raise ConfigurationError(
        f"No configuration given: pass a file or mapping, set {CONFIG_ENV_VAR}, or create "
        f"{DEFAULT_CONFIG_PATH}",
        path="nosql",
    )


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a repeated key is an error (YAML would keep the last silently)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read configuration file {path}: {exc.strerror or exc}", path="nosql"
        ) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigurationError(
            f"Invalid YAML in {path}{where}: {problem}", path="nosql"
        ) from None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is written twice in one mapping", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def interpolate(
    value: Any, environ: Mapping[str, str], path: str, origin: str | None = None
) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of ``value`` (recursively).

    Raises:
        ConfigurationError: a variable without default is not set (the error names it and
            the key that uses it).
    """
    if isinstance(value, Mapping):
        return {k: interpolate(v, environ, f"{path}.{k}", origin) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, f"{path}[{i}]", origin) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        found = environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        if found is not None:
            return found
        where = f" in {origin}" if origin else ""
        raise ConfigurationError(
            f"Invalid configuration{where} at {path}: environment variable {name} is not set; "
            f"set it, or give a default with ${{{name}:-default}}",
            path=path,
        )

    return _VARIABLE.sub(substitute, value)
