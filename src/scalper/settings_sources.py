"""Where settings come from: defaults, a TOML file, `SCALPER_*` variables, flags, in that order.

Every value is checked against its type at the layer that set it, so an error names the key and
its source ("api.port = 'x' (from SCALPER_API__PORT): expected int"); the whole tree is then
built once, which runs each section's own checks. `LoadedSettings.sources` remembers, for every
key, which layer set it last: `scalper config show` prints both.

    loaded = load_settings(config_file=Path("scalper.toml"), env=os.environ,
                           flags={"api.port": (8091, "--port")})
    loaded.settings.api.port        # 8091
    loaded.sources["api.port"]      # "flag --port"
"""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from scalper.errors import ConfigError
from scalper.settings import Settings
from scalper.units import parse_size

ENV_PREFIX: Final = "SCALPER_"
ENV_SEPARATOR: Final = "__"
"""SCALPER_API__PORT sets api.port; SCALPER_SIMULATOR__FAULTS__GAP_PER_FRAME a nested key."""
CONFIG_ENV: Final = "SCALPER_CONFIG"
"""The config file's path when no `--config` is given."""
DEFAULT: Final = "default"


class LoadedSettings(msgspec.Struct, frozen=True):
    settings: Settings
    sources: dict[str, str]
    """key -> where its value came from: 'default', 'command default', 'file PATH',
    'env NAME' or 'flag --NAME'."""


def leaf_types(cls: type[msgspec.Struct] = Settings, prefix: str = "") -> dict[str, Any]:
    """Every settable key of the tree ('api.port') and its annotated type."""
    keys: dict[str, Any] = {}
    hints = typing.get_type_hints(cls, include_extras=True)
    for name in cls.__struct_fields__:
        hint = hints[name]
        if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
            keys.update(leaf_types(hint, f"{prefix}{name}."))
        else:
            keys[f"{prefix}{name}"] = hint
    return keys


_LEAVES: Final = leaf_types()


def flatten(tree: msgspec.Struct, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(key, value) of every leaf of a settings tree, in declaration order."""
    for name in tree.__struct_fields__:
        value = getattr(tree, name)
        if isinstance(value, msgspec.Struct):
            yield from flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def load_settings(
    *,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, tuple[object, str]] | None = None,
    command_defaults: Mapping[str, object] | None = None,
) -> LoadedSettings:
    """The settings tree from the layers, later layers winning; ConfigError naming any bad key.

    `flags`: key -> (value, flag name). `command_defaults`: a command's own defaults (e.g. the
    demo records into data/demo), below the file. `config_file` None: `$SCALPER_CONFIG` if set.
    """
    env = env or {}
    values: dict[str, object] = {}
    sources = dict.fromkeys(_LEAVES, DEFAULT)
    for key, value in (command_defaults or {}).items():
        _set(values, sources, key, value, "command default")
    if config_file is None and env.get(CONFIG_ENV):
        config_file = Path(env[CONFIG_ENV])
    if config_file is not None:
        origin = f"file {config_file}"
        for key, value in _file_values(config_file):
            _set(values, sources, key, value, origin)
    for key, value, name in _env_values(env):
        _set(values, sources, key, value, f"env {name}")
    for key, (value, flag) in (flags or {}).items():
        _set(values, sources, key, value, f"flag {flag}")
    try:
        settings = msgspec.convert(_nest(values), Settings, strict=False)
    except msgspec.ValidationError as exc:  # a section's own check (e.g. two keys together)
        raise ConfigError(f"invalid settings: {exc}") from exc
    return LoadedSettings(settings, sources)


def parse_assignment(text: str) -> tuple[str, str]:
    """'api.port=8091' -> ('api.port', '8091'), for `--set`."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"--set {text!r}: expected KEY=VALUE, e.g. --set engine.flow_windows=10s,1m"
        )
    return key.strip(), value.strip()


def _set(
    values: dict[str, object], sources: dict[str, str], key: str, value: object, origin: str
) -> None:
    hint = _LEAVES.get(key)
    if hint is None:
        raise ConfigError(f"unknown setting {key!r} ({origin}){_suggestion(key)}")
    values[key] = _checked(key, hint, value, origin)
    sources[key] = origin


def _checked(key: str, hint: Any, value: object, origin: str) -> object:
    """`value` converted to the key's type (text from env or flags is parsed), or ConfigError."""
    if isinstance(value, str):
        value = _from_text(key, hint, value)
    try:
        return msgspec.convert(value, hint, strict=False)
    except (msgspec.ValidationError, ConfigError) as exc:
        raise ConfigError(f"invalid setting {key} = {value!r} ({origin}): {exc}") from exc


def _from_text(key: str, hint: Any, text: str) -> object:
    """Text as the type wants it: 'a,b' for a tuple, '20GB' for bytes, 'none' for None."""
    text = text.strip()
    optional = _allows_none(hint)
    if optional and text.lower() in ("none", "null", ""):
        return None
    if _is_tuple(hint):
        return [part.strip() for part in text.split(",") if part.strip()]
    if key.endswith("_bytes"):
        return parse_size(text)
    return text


def _allows_none(hint: Any) -> bool:
    hint = _strip_annotated(hint)
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return union and type(None) in typing.get_args(hint)


def _is_tuple(hint: Any) -> bool:
    return typing.get_origin(_strip_annotated(hint)) is tuple


def _strip_annotated(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _file_values(path: Path) -> Iterator[tuple[str, object]]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    yield from _walk(data, "")


def _walk(table: dict[str, Any], prefix: str) -> Iterator[tuple[str, object]]:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            if key in _LEAVES:
                raise ConfigError(f"setting {key!r} is a value, not a table")
            yield from _walk(value, f"{key}.")
        else:
            yield key, value


def _env_values(env: Mapping[str, str]) -> Iterator[tuple[str, str, str]]:
    """(key, text, variable) of every SCALPER_SECTION__KEY variable."""
    for name in sorted(env):
        if name.startswith(ENV_PREFIX) and ENV_SEPARATOR in name:
            key = name[len(ENV_PREFIX) :].lower().replace(ENV_SEPARATOR, ".")
            yield key, env[name], name


def _nest(values: Mapping[str, object]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in values.items():
        *sections, name = key.split(".")
        node = tree
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return tree


def _suggestion(key: str) -> str:
    section = key.rpartition(".")[0]
    siblings = [k.rpartition(".")[2] for k in _LEAVES if k.rpartition(".")[0] == section]
    if siblings:
        return f"; [{section}] has: {', '.join(siblings)}"
    top = sorted({k.split(".")[0] for k in _LEAVES})
    return f"; the sections are: {', '.join(top)}"
