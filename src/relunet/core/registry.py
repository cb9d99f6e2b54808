"""One name table for every catalog (activations, losses, initialisations, optimizers,
schedules, datasets, scalers).

A :class:`Registry` maps canonical names to entries (a class or a factory) plus aliases,
and its :meth:`Registry.get` is strict, in the manner of Keras 3's ``keras.activations.get``:

* a name or alias, case-insensitive and with ``-``/``_`` read alike (see ``normalize``),
  gives a fresh instance of its entry;
* an instance of the catalog's base class is returned as it is;
* a subclass of the base class (where ``classes=True``) is instantiated;
* anything else raises: an unknown name :class:`~relunet.errors.UnknownNameError` listing
  the known names, another type :class:`~relunet.errors.ConfigError`.

There is no fallback: a misspelt name never silently becomes a default.

The registry holds the mapping it is given, not a copy, so a catalog's public dict
(``ACTIVATIONS``, ``OPTIMIZERS``, ...) and its registry are one table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Generic, TypeVar

from relunet.errors import ConfigError, UnknownNameError

__all__ = ["Registry", "kebab_case", "snake_case"]

T = TypeVar("T")


def snake_case(name: str) -> str:
    """The usual key of a name: stripped, lower case, ``-`` read as ``_``."""
    return name.strip().lower().replace("-", "_")


def kebab_case(name: str) -> str:
    """The key of a dataset-style name: stripped, lower case, ``_`` read as ``-``."""
    return name.strip().lower().replace("_", "-")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


class Registry(Generic[T]):
    """A catalog's name table with a strict :meth:`get`.

    Args:
        kind: what an entry is, for messages (``"activation"``, ``"loss"``, ...).
        entries: canonical name -> entry (a class or a callable that builds the object).
            Held, not copied.
        aliases: alias -> canonical name (keys already normalized).
        base: the catalog's base class: instances of it pass through :meth:`get`.
        classes: whether :meth:`get` also accepts a subclass of ``base`` (instantiated
            with the parameters).
        normalize: how a name becomes a key (default :func:`snake_case`).
        list_aliases: whether the unknown-name message lists the aliases too.
        others_unknown: whether a value that is neither a string nor a ``base`` instance
            (or class) raises :class:`UnknownNameError`, like an unknown name, rather than
            :class:`ConfigError` (always so without a ``base``).
    """

    def __init__(
        self,
        kind: str,
        entries: MutableMapping[str, T] | None = None,
        *,
        aliases: Mapping[str, str] | None = None,
        base: type | None = None,
        classes: bool = False,
        normalize: Callable[[str], str] = snake_case,
        list_aliases: bool = True,
        others_unknown: bool = False,
    ) -> None:
        self.kind = kind
        self.entries: MutableMapping[str, T] = {} if entries is None else entries
        self.aliases: dict[str, str] = {}
        self.base = base
        self.classes = classes
        self.normalize = normalize
        self.list_aliases = list_aliases
        self.others_unknown = others_unknown or base is None
        for alias, target in (aliases or {}).items():
            self.add_alias(alias, target)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"

    # -- building -----------------------------------------------------------

    def register(self, name: str, entry: T, aliases: Iterable[str] = ()) -> T:
        """Add ``entry`` under ``name`` (and its ``aliases``); returns the entry."""
        if name in self.entries or name in self.aliases:
            raise ConfigError(f"{self.kind} {name!r} is already registered")
        self.entries[name] = entry
        for alias in aliases:
            self.add_alias(alias, name)
        return entry

    def add_alias(self, alias: str, name: str) -> None:
        """Make ``alias`` another name of the registered ``name``."""
        if name not in self.entries:
            raise ConfigError(f"alias {alias!r} points to {name!r}, which is not a registered {self.kind}")
        if alias in self.entries:
            raise ConfigError(f"alias {alias!r} is already the name of a {self.kind}")
        self.aliases[alias] = name

    # -- listing ------------------------------------------------------------

    def names(self) -> list[str]:
        """The canonical names, sorted."""
        return sorted(self.entries)

    def known(self) -> list[str]:
        """What the unknown-name message lists: the names (and aliases, if listed), sorted."""
        return sorted([*self.entries, *self.aliases] if self.list_aliases else self.entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: object) -> bool:
        """True for a name or alias :meth:`get` accepts (in any case)."""
        return isinstance(name, str) and self._key(name) in self.entries

    # -- lookup ---------------------------------------------------------------

    def _key(self, name: str) -> str:
        key = self.normalize(name)
        return self.aliases.get(key, key)

    def unknown(self, name: object) -> UnknownNameError:
        """The error for a name this registry does not know (it lists the known ones)."""
        return UnknownNameError(self.kind, name, self.known())

    def canonical_name(self, name: object) -> str:
        """The canonical name of a name or alias.

        Raises:
            UnknownNameError: ``name`` is not a known name or alias (or not a string).
        """
        if not isinstance(name, str):
            raise self.unknown(name)
        key = self._key(name)
        if key not in self.entries:
            raise self.unknown(name)
        return key

    def lookup(self, name: object) -> T:
        """The entry (class or factory) registered under a name or alias."""
        return self.entries[self.canonical_name(name)]

    def get(self, name: Any, /, **params: Any) -> Any:
        """A fresh object for a name or alias; an instance passes through; a class (where
        allowed) is instantiated.

        Raises:
            UnknownNameError: for an unknown name (the message lists the known ones).
            ConfigError: parameters given with an instance, a parameter the entry does not
                take, or (unless ``others_unknown``) a value that is neither a name nor a
                ``base`` instance.
        """
        base = self.base
        if base is not None and isinstance(name, base):
            if params:
                raise ConfigError(f"cannot pass parameters together with {_article(base.__name__)} "
                                  f"{base.__name__} instance")
            return name
        if self.classes and base is not None and isinstance(name, type) and issubclass(name, base):
            return self._build(name, getattr(name, "name", name.__name__), params)
        if not isinstance(name, str):
            if self.others_unknown or base is None:
                raise self.unknown(name)
            raise ConfigError(f"{_article(self.kind)} {self.kind} is a name or {_article(base.__name__)} "
                              f"{base.__name__} instance, not {type(name).__name__}")
        key = self.canonical_name(name)
        return self._build(self.entries[key], key, params)

    def parameters(self, name: object) -> list[str] | None:
        """The keyword parameters :meth:`get` accepts for a name or alias, in order (None
        when the entry takes any keywords)."""
        return _parameters(self.lookup(name))

    def _build(self, entry: Any, key: str, params: dict[str, Any]) -> Any:
        try:
            return entry(**params)
        except TypeError as exc:
            known = _parameters(entry)
            bad = [k for k in params if k not in known] if known is not None else []
            if bad:  # name the catalog entry and what it takes, not Python's Class.__init__()
                takes = f"its parameters: {', '.join(known)}" if known else "it takes no parameters"
                raise ConfigError(f"{self.kind} {key!r} got an unexpected keyword argument "
                                  f"{bad[0]!r}; {takes}") from None
            raise ConfigError(f"{self.kind} {key!r}: {exc}") from None


def _parameters(entry: Any) -> list[str] | None:
    """The names ``entry(**params)`` accepts as keywords (a class: its ``__init__``'s);
    None when that is not known (no signature, or ``**kwargs``)."""
    try:
        params = inspect.signature(entry).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in kinds]
