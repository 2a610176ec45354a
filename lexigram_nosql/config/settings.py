"""The ``nosql`` section: the list of stores and the health settings, validated as a whole.

``NoSQLSettings`` is a pydantic-settings model. Its values come from three layers, merged
store by store (a store is addressed by its ``name``), highest first:

1. explicit keyword arguments (``NoSQLSettings(backends=[...])``, ``load_config(..., health=...)``);
2. environment variables ``NOSQL__<STORE>__<KEY>`` / ``NOSQL__<STORE>__<SECTION>__<KEY>``
   (``NOSQL__ANALYTICS__MONGODB__URI=...``) and ``NOSQL__HEALTH__<KEY>``;
3. the YAML file's ``nosql:`` section (read by ``lexigram_nosql.config.loader``);

then the models' defaults. Every problem becomes a ``ConfigurationError`` whose ``path`` names
the key (``nosql.backends[1].mongodb.uri``).
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel
from lexigram_nosql.config.drivers import DRIVERS
from lexigram_nosql.config.stores import StoreSettings
from lexigram_nosql.errors import ConfigurationError
from lexigram_nosql.redaction import Redactor, redact_uri

__all__ = ["ENV_PREFIX", "ConfigLayers", "HealthSettings", "NoSQLSettings"]

ENV_PREFIX = "NOSQL__"
"""Environment variables starting with this override the ``nosql`` section."""


class HealthSettings(StrictModel):
    """The ``health:`` section of ``nosql``: how the health service caches its answers."""

    cache_ttl_s: float = Field(default=1.0, ge=0)
    """Reuse a report for this long, so a polled endpoint pings each store at most once per TTL."""


@dataclass(frozen=True)
class ConfigLayers:
    """What lies under the explicit arguments: the YAML ``nosql`` section (as parsed, with
    the file it came from) and the environment. Passed to ``NoSQLSettings`` as a value."""

    yaml: Any = None
    origin: str | None = None
    environ: Mapping[str, str] | None = None


@dataclass
class _Build:
    """One build's bookkeeping, so errors can name the file or variable a value came from."""

    origin: str | None
    env_origins: dict[tuple[str, ...], str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


class NoSQLSettings(BaseSettings):
    """The ``nosql`` section: ``backends`` (one entry per store) and ``health``.

    A single store may be written without the list (``nosql: {driver: memory}``); it is named
    ``primary``. With several stores exactly one has ``primary: true``: it is the one injected
    where no name is given.
    """

    model_config = SettingsConfigDict(extra="forbid", frozen=True, case_sensitive=False)

    backends: list[StoreSettings] = Field(min_length=1)
    health: HealthSettings = HealthSettings()

    def __init__(self, _layers: ConfigLayers | None = None, **values: Any) -> None:
        """``values`` are the explicit layer; ``_layers`` the YAML and environment under it
        (the process environment when not given)."""
        layers = _layers or ConfigLayers()
        build = _Build(origin=layers.origin)
        environ = os.environ if layers.environ is None else layers.environ
        sources = (
            _SectionSource(self.__class__, layers.yaml, build),
            _EnvironmentSource(self.__class__, environ, build),
            _SectionSource(self.__class__, values, build),
        )
        try:
            merged: dict[str, Any] = {}
            for source in sources:  # lowest first; stores merge by name
                merged = _merge(merged, source())
            super().__init__(**_finish(merged, build))
        except ValidationError as exc:
            raise _translate(exc, build) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The layers are merged in __init__ (store by store, inside a list, which
        # pydantic-settings' dict merge cannot do) and arrive here as the init arguments.
        return (init_settings,)

    @model_validator(mode="after")
    def _check_stores(self) -> NoSQLSettings:
        primaries = [s.name for s in self.backends if s.primary]
        if len(self.backends) > 1 and len(primaries) != 1:
            names = ", ".join(s.name for s in self.backends)
            if not primaries:
                message = (
                    f"no store is marked primary among {names}; set `primary: true` on the one "
                    "injected where no name is given"
                )
            else:
                message = (
                    f"several stores are marked primary ({', '.join(primaries)}); exactly one "
                    "may be"
                )
            raise _path_error("nosql.backends", message)
        for index, store in enumerate(self.backends):
            _check_store(index, store)
        return self

    # -- views ---------------------------------------------------------------------------

    @property
    def primary(self) -> StoreSettingsBase:
        """The store injected where no name is given."""
        if len(self.backends) == 1:
            return self.backends[0]
        return next(s for s in self.backends if s.primary)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.backends]

    def store(self, name: str) -> StoreSettingsBase:
        """The entry named ``name``."""
        for entry in self.backends:
            if entry.name == name:
                return entry
        raise ConfigurationError(
            f"No store named {name!r}; configured stores: {', '.join(self.names)}",
            path="nosql.backends",
        )

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain data, with passwords and secret keys hidden."""
        data = self.model_dump(mode="json")
        for entry, raw in zip(self.backends, data["backends"], strict=True):
            raw["primary"] = entry is self.primary
            redactor = Redactor(entry.secrets())
            _scrub(raw, redactor)
        return data

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "backends", _Shown([_describe(s) for s in self.backends])
        yield "health", self.health


class _Shown:
    """Shows a pre-rendered value in a repr."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def _describe(store: StoreSettingsBase) -> str:
    text = f"{store.name}: {getattr(store, 'driver', '?')} {store.address()}"
    return Redactor(store.secrets()).scrub(text)


def _scrub(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _scrub(item, redactor)
    elif isinstance(value, list):
        value[:] = [_scrub(item, redactor) for item in value]
    elif isinstance(value, str):
        return redactor.scrub(value)
    return value


# -- semantic checks -----------------------------------------------------------------------


def _path_error(path: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("nosql_config", "{message}", {"path": path, "message": message})


def _check_store(index: int, store: StoreSettingsBase) -> None:
    """The client libraries a store needs are installed (found, not imported)."""
    driver = str(getattr(store, "driver", ""))
    extra = DRIVERS[driver].extra if driver in DRIVERS else None
    for module in store.client_modules():
        if not _installed(module):
            raise _path_error(
                f"nosql.backends[{index}].driver",
                f"store {store.name!r} uses driver {driver!r}, whose client library "
                f"{module.split('.')[0]!r} is not installed; install it with: "
                f"pip install 'lexigram-nosql[{extra}]'",
            )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# -- the layered source --------------------------------------------------------------------


class _SectionSource(PydanticBaseSettingsSource):
    """A layer given as a ``nosql`` section (the YAML file's, or the explicit arguments)."""

    def __init__(self, settings_cls: type[BaseSettings], section: Any, build: _Build) -> None:
        super().__init__(settings_cls)
        self._section = section
        self._build = build

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole section

    def __call__(self) -> dict[str, Any]:
        if self._section is None:
            return {}
        return _normalise(self._section, self._build)


class _EnvironmentSource(PydanticBaseSettingsSource):
    """``NOSQL__<STORE>__<KEY>`` variables, addressing stores by name."""

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str], build: _Build
    ) -> None:
        super().__init__(settings_cls)
        self._environ = environ
        self._build = build

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every variable

    def __call__(self) -> dict[str, Any]:
        return _from_environment(self._environ, self._build)


_SECTION_KEYS = ("backends", "health")


def _error(path: str, text: str, build: _Build) -> ConfigurationError:
    """An error about ``path``, worded like the ones translated from pydantic."""
    where = f" in {build.origin}" if build.origin else ""
    return ConfigurationError(f"Invalid configuration{where} at {path}: {text}", path=path)


def _match_key(name: str) -> str:
    """How environment variables see a store name (case-insensitive, ``-`` as ``_``)."""
    return name.lower().replace("-", "_")


def _normalise(section: Any, build: _Build) -> dict[str, Any]:
    """A layer as ``{"backends": {match_key: entry}, ...}`` so layers merge store by store."""
    if isinstance(section, BaseModel):
        section = section.model_dump(exclude_unset=True)
    if not isinstance(section, Mapping):
        raise _error("nosql", f"expected a mapping, got {type(section).__name__}", build)
    data = dict(section)
    if "driver" in data and "backends" not in data:
        # Single-store shorthand: `nosql: {driver: memory}` is one store named primary.
        entry = {k: v for k, v in data.items() if k not in _SECTION_KEYS}
        data = {k: v for k, v in data.items() if k in _SECTION_KEYS}
        data["backends"] = [{"name": "primary", **entry}]
    if "backends" not in data:
        return data
    backends = data["backends"]
    if isinstance(backends, str | bytes) or not isinstance(backends, Sequence):
        raise _error(
            "nosql.backends",
            f"expected a list of store entries ({{name, driver, ...}}), got "
            f"{type(backends).__name__}",
            build,
        )
    by_name: dict[str, Any] = {}
    first_index: dict[str, int] = {}
    for index, raw in enumerate(backends):
        entry = raw.model_dump(exclude_unset=True) if isinstance(raw, BaseModel) else raw
        if isinstance(raw, StoreSettingsBase):
            entry = {"name": raw.name, "driver": getattr(raw, "driver", None), **entry}
        if not isinstance(entry, Mapping):
            raise _error(
                f"nosql.backends[{index}]",
                f"expected a mapping ({{name, driver, ...}}), got {type(entry).__name__}",
                build,
            )
        entry = dict(entry)
        name = entry.setdefault("name", "primary")
        key = _match_key(str(name))
        if key in by_name:
            raise _error(
                f"nosql.backends[{index}].name",
                f"duplicate store name {name!r} (already used by "
                f"nosql.backends[{first_index[key]}]); store names must be unique, ignoring "
                "case and '-' versus '_'",
                build,
            )
        by_name[key] = entry
        first_index[key] = index
    data["backends"] = by_name
    return data


def _from_environment(environ: Mapping[str, str], build: _Build) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for variable in sorted(environ):
        if not variable.upper().startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in variable[len(ENV_PREFIX) :].split("__")]
        if len(parts) < 2 or not all(parts):
            raise _error(
                "nosql",
                f"environment variable {variable} does not name a key: expected "
                f"{ENV_PREFIX}<STORE>__<KEY> or {ENV_PREFIX}<STORE>__<SECTION>__<KEY>",
                build,
            )
        value = _env_value(environ[variable])
        if parts[0] in _SECTION_KEYS:
            target = data
            path = tuple(parts)
        else:
            target = data.setdefault("backends", {})
            path = ("backends", *parts)
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise _error(
                    "nosql", f"environment variable {variable} conflicts with another one", build
                )
        target[parts[-1]] = value
        build.env_origins[path] = variable
    return data


def _env_value(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    return text


def _merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _finish(merged: dict[str, Any], build: _Build) -> dict[str, Any]:
    backends = merged.get("backends")
    if isinstance(backends, dict):
        entries = []
        for key, entry in backends.items():
            if "name" not in entry:
                variables = sorted(v for p, v in build.env_origins.items() if p[1:2] == (key,))
                known = ", ".join(str(e.get("name")) for e in backends.values() if "name" in e)
                raise _error(
                    f"nosql.backends.{key}",
                    f"environment variable {variables[0] if variables else key} addresses "
                    f"store {key!r}, which is not configured; configured stores: "
                    f"{known or '(none)'}",
                    build,
                )
            entries.append(entry)
        build.order = list(backends)
        if len(entries) == 1:
            entries[0] = {**entries[0], "primary": True}
        merged["backends"] = entries
    return merged


# -- turning pydantic errors into named paths ------------------------------------------------


def _translate(exc: ValidationError, build: _Build) -> ConfigurationError:
    errors = exc.errors(include_url=False)
    # A misspelt key also makes the key it was meant to be "missing": report the typo only.
    typo_parents = {tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"}
    errors = [e for e in errors if not (e["type"] == "missing" and e["loc"][:-1] in typo_parents)]
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")
    problems = [_describe_error(error, build) for error in errors]
    where = f" in {build.origin}" if build.origin else ""
    if len(problems) == 1:
        path, text = problems[0]
        message = f"Invalid configuration{where} at {path}: {text}"
    else:
        lines = "\n".join(f"  {path}: {text}" for path, text in problems)
        message = f"Invalid configuration{where} ({len(problems)} problems):\n{lines}"
    return ConfigurationError(redact_uri(message), path=problems[0][0])


def _describe_error(error: Any, build: _Build) -> tuple[str, str]:
    kind = error["type"]
    if kind == "nosql_config":
        return str(error["ctx"]["path"]), str(error["ctx"]["message"])
    loc = list(error["loc"])
    # Drop the discriminator tag pydantic inserts after a backends index.
    if len(loc) > 2 and loc[0] == "backends" and isinstance(loc[1], int) and loc[2] in DRIVERS:
        driver = str(loc.pop(2))
    else:
        driver = None
    path = "nosql" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    if kind == "nosql_setting":
        text = str(error["ctx"]["message"])  # a driver's own check, written to be shown
    elif kind == "extra_forbidden":
        key = str(loc[-1])
        valid = _valid_keys(loc[:-1], driver)
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        text = f"unknown key {key!r}{hint}; valid keys here: {', '.join(valid)}"
    elif kind == "union_tag_invalid":
        got = error.get("ctx", {}).get("tag")
        text = f"unknown driver {got!r}; expected one of: {', '.join(DRIVERS)}"
        path += ".driver"
    elif kind == "union_tag_not_found":
        text = f"missing key 'driver'; expected one of: {', '.join(DRIVERS)}"
        path += ".driver"
    elif kind == "missing":
        text = "required key is missing"
    elif kind == "too_short" and loc == ["backends"]:
        text = "no stores configured; add at least one entry ({name, driver, ...})"
    else:
        text = str(error["msg"])
        secret = any(w in path for w in ("secret", "password", "token", "key_id", "credential"))
        if "input" in error and not secret and kind not in ("model_type", "dict_type"):
            text += f" (got {_shown_input(error['input'])})"
    variable = _env_variable(loc, build)
    if variable:
        text += f" (set by environment variable {variable})"
    return path, text


def _shown_input(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _env_variable(loc: list[Any], build: _Build) -> str | None:
    if loc and loc[0] == "backends" and len(loc) > 1 and isinstance(loc[1], int):
        if loc[1] >= len(build.order):
            return None
        key: tuple[str, ...] = ("backends", build.order[loc[1]], *map(str, loc[2:]))
    else:
        key = tuple(map(str, loc))
    return build.env_origins.get(key)


def _valid_keys(loc: list[Any], driver: str | None) -> list[str]:
    """The keys the model at ``loc`` accepts, to list them in an unknown-key error."""
    annotation: Any = NoSQLSettings
    for position, part in enumerate(loc):
        annotation = _unwrap(annotation)
        if isinstance(part, int):
            annotation = _item_type(annotation)
            if position == 1 and driver in DRIVERS:  # backends[i]: the driver's own model
                annotation = DRIVERS[str(driver)].settings
            continue
        model = _unwrap(annotation)
        if isinstance(model, type) and issubclass(model, BaseModel):
            info = model.model_fields.get(part)
            annotation = info.annotation if info is not None else None
        else:
            annotation = _item_type(model)  # a dict keyed by name
    model = _unwrap(annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; ``Annotated[X, ...]`` -> ``X``."""
    while True:
        origin = get_origin(annotation)
        args = [a for a in get_args(annotation) if a is not type(None)]
        if origin is Annotated or (origin in (Union, UnionType) and len(args) == 1):
            annotation = args[0]
        else:
            return annotation


def _item_type(annotation: Any) -> Any:
    args = get_args(annotation)
    return args[-1] if args else annotation
