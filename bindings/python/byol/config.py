"""byol.Config: every libbyol setting, by name.

A Config owns a ``byol_config``. Keys are the library's dotted names
("net.arch", "optim.lr", "train.batch_size"); in keyword arguments the dots
are written as double underscores (``train__batch_size=64``).

    cfg = byol.Config("cifar10", train__batch_size=64)
    cfg["optim.lr"] = 0.1
    cfg.parse("threads=2 seed=7")
    print(cfg["net.arch"], cfg.changed())

Functions that take a config copy what they need during the call, so a
Config may be changed or closed right after; they also accept None (the
defaults), a preset name or a dict of settings in its place.
"""

from __future__ import annotations

import ctypes
import numbers
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Union

from . import _lib, errors
from ._handle import Handle
from ._lib import fn

__all__ = ["Config", "KeyInfo", "ConfigLike", "keys", "key_info", "presets"]

TYPE_INT = 1
TYPE_FLOAT = 2
TYPE_STRING = 3
TYPE_BOOL = 4
_TYPE_NAMES = {TYPE_INT: "int", TYPE_FLOAT: "float", TYPE_STRING: "string", TYPE_BOOL: "bool"}


@dataclass(frozen=True)
class KeyInfo:
    """Description of one configuration key (byol_config_key_info)."""

    name: str
    type: str  # "int", "float", "string" or "bool"
    help: str
    default: str  # the default as text
    choices: tuple[str, ...] | None  # fixed choices of a string key
    min: float  # inclusive bounds of a numeric key
    max: float


def _decode(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


_KEY_INFO: dict[str, KeyInfo] = {}


def _load_keys() -> None:
    for i in range(fn.byol_config_key_count()):
        info = _lib.KeyInfo()
        fn.byol_config_key_info(i, ctypes.byref(info))
        choices = _decode(info.choices)
        ki = KeyInfo(
            name=_decode(info.name),
            type=_TYPE_NAMES.get(info.type, str(info.type)),
            help=_decode(info.help) or "",
            default=_decode(info.default_value) or "",
            choices=tuple(choices.split("|")) if choices else None,
            min=info.min,
            max=info.max,
        )
        _KEY_INFO[ki.name] = ki


_load_keys()


def keys() -> list[str]:
    """Every configuration key, in the library's order."""
    return list(_KEY_INFO)


def key_info(key: str) -> KeyInfo:
    """The description of `key`; raises ByolKeyError for an unknown key."""
    info = _KEY_INFO.get(key)
    if info is None:
        index = ctypes.c_int32()
        fn.byol_config_key_find(_lib.text(key), ctypes.byref(index))  # raises, naming the key
        raise errors.ByolKeyError(f"unknown key '{key}'")  # a key added since import
    return info


def presets() -> list[str]:
    """The names of the library's presets ("imagenet", "cifar10", ...)."""
    names, i = [], 0
    while (name := fn.byol_config_preset_name(i)) is not None:
        names.append(name.decode())
        i += 1
    return names


def _key_name(kwarg: str) -> str:
    """train__batch_size -> train.batch_size"""
    return kwarg.replace("__", ".")


class Config(Handle):
    """A set of libbyol settings; owns a byol_config (closed by close(),
    ``with`` or garbage collection).

    Config(preset=None, settings=None, **keys): every key at its default,
    then the preset (a name from :func:`byol.presets`), then `settings` (a
    dict of key -> value, or a "key=value ..." string), then the keyword
    arguments (dots as double underscores). Later settings override earlier
    ones. Unknown keys raise ByolKeyError, bad values RangeError, each with
    the library's message naming the key.

    Values are typed by the key: int, float, str or bool. A string given
    for a numeric or boolean key is parsed by the library ("1e-3", "true").
    """

    def __init__(
        self,
        preset: str | None = None,
        settings: Mapping[str, Any] | str | None = None,
        **keys: Any,
    ):
        out = ctypes.c_void_p()
        fn.byol_config_create(ctypes.byref(out))
        self._own(out.value, fn.byol_config_destroy)
        if preset is not None:
            self.apply_preset(preset)
        if isinstance(settings, str):
            self.parse(settings)
        elif settings is not None:
            self.update(settings)
        self.update({_key_name(k): v for k, v in keys.items()})

    # ---- whole-config operations ----

    def apply_preset(self, name: str) -> None:
        """Applies a preset; keys it does not mention keep their values."""
        fn.byol_config_apply_preset(self._handle, _lib.text(name))

    def parse(self, settings: str) -> None:
        """Applies "key=value" settings separated by spaces, commas or newlines
        (a value may be double-quoted, each quote inside written twice; the
        forms a value takes are byol_config_parse()'s). All or nothing: on
        error the config is unchanged."""
        fn.byol_config_parse(self._handle, _lib.text(settings))

    def update(self, settings: Mapping[str, Any] = (), **keys: Any) -> None:
        """Sets every key of a mapping, then the keyword arguments."""
        items = dict(settings)
        items.update({_key_name(k): v for k, v in keys.items()})
        for key, value in items.items():
            self[key] = value

    def copy(self) -> Config:
        """An independent copy (a new byol_config owned by the copy)."""
        out = ctypes.c_void_p()
        fn.byol_config_copy(self._handle, ctypes.byref(out))
        new = Config.__new__(Config)
        new._own(out.value, fn.byol_config_destroy)
        return new

    def serialize(self) -> str:
        """The keys that differ from their defaults as "key=value" lines,
        which parse() reads back."""
        out = ctypes.c_void_p()
        fn.byol_config_serialize(self._handle, ctypes.byref(out))
        try:
            return ctypes.string_at(out.value).decode("utf-8", "replace")
        finally:
            fn.byol_free(out)

    def changed(self) -> dict[str, Any]:
        """The keys that differ from their defaults, with their typed values
        (compared as serialize() does, by their text; not by splitting its
        lines, since a quoted value may hold line breaks)."""
        with Config() as defaults:
            return {k: self[k] for k in _KEY_INFO if self.format(k) != defaults.format(k)}

    def format(self, key: str) -> str:
        """The value of `key` as text, in the form parse() accepts."""
        handle, k = self._handle, _lib.text(key)
        need = fn.byol_config_format(handle, k, None, 0)
        if need < 0:
            _lib.raise_last(int(need))
        buf = ctypes.create_string_buffer(int(need))
        rc = fn.byol_config_format(handle, k, buf, need)
        if rc < 0:
            _lib.raise_last(int(rc))
        return buf.value.decode("utf-8", "replace")

    # ---- mapping interface ----

    def __getitem__(self, key: str) -> int | float | str | bool:
        handle, k = self._handle, _lib.text(key)
        kind = key_info(key).type
        if kind == "float":
            v = ctypes.c_double()
            fn.byol_config_get_float(handle, k, ctypes.byref(v))
            return v.value
        if kind == "string":
            s = ctypes.c_char_p()
            fn.byol_config_get_string(handle, k, ctypes.byref(s))
            return s.value.decode("utf-8", "replace")
        i = ctypes.c_int64()
        fn.byol_config_get_int(handle, k, ctypes.byref(i))
        return bool(i.value) if kind == "bool" else i.value

    def __setitem__(self, key: str, value: int | float | str | bool) -> None:
        handle, k = self._handle, _lib.text(key)
        if isinstance(value, str):
            if key_info(key).type == "string":
                fn.byol_config_set_string(handle, k, _lib.text(value))
            elif '"' in value:
                raise errors.RangeError(f"key '{key}': {value!r} is not a valid value")
            else:  # the library parses "1e-3", "true", "64" and names the key if it cannot
                fn.byol_config_parse(handle, _lib.text(f'{key}="{value}"'))
        elif isinstance(value, (bool, numbers.Integral)):
            fn.byol_config_set_int(handle, k, int(value))
        elif isinstance(value, numbers.Real):
            value = float(value)
            if value.is_integer() and key_info(key).type == "int":
                fn.byol_config_set_int(handle, k, int(value))
            else:
                fn.byol_config_set_float(handle, k, value)
        else:
            raise TypeError(
                f"key '{key}': a value must be an int, float, bool or str, "
                f"not {type(value).__name__}"
            )

    def __contains__(self, key: object) -> bool:
        return key in _KEY_INFO

    def __iter__(self) -> Iterator[str]:
        return iter(_KEY_INFO)

    def __len__(self) -> int:
        return len(_KEY_INFO)

    def keys(self) -> list[str]:
        """Every key (all keys are always present, at their defaults or set)."""
        return keys()

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self[k]) for k in _KEY_INFO]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in _KEY_INFO else default

    def to_dict(self) -> dict[str, Any]:
        """Every key with its typed value."""
        return dict(self.items())

    def __repr__(self) -> str:
        if self.closed:
            return "<byol.Config closed>"
        changed = " ".join(self.serialize().split())
        return f"<byol.Config {changed}>" if changed else "<byol.Config defaults>"


ConfigLike = Union[Config, str, Mapping[str, Any], None]


@contextmanager
def borrowed(cfg: ConfigLike, extra: Mapping[str, Any] | None = None) -> Iterator[Config]:
    """Yields the Config to pass to a call: `cfg` itself when it is a Config
    and there is nothing to add, else a temporary Config built from a copy
    of it, a preset name or a mapping (None: the defaults), plus `extra`
    (keys with dots or double underscores), closed after the call."""
    extra = {_key_name(k): v for k, v in (extra or {}).items()}
    if isinstance(cfg, Config) and not extra:
        yield cfg
        return
    if isinstance(cfg, Config):
        tmp = cfg.copy()
    elif isinstance(cfg, str):
        tmp = Config(cfg)
    elif cfg is None or isinstance(cfg, Mapping):
        tmp = Config(settings=cfg)
    else:
        raise TypeError(
            "config must be a byol.Config, a preset name, a dict or None, "
            f"not {type(cfg).__name__}"
        )
    with tmp:
        tmp.update(extra)
        yield tmp
