"""What the planner needs of one revision, computed once per revision instead of once per cycle.

A daemon cycle on an unchanged revision plans the same desired state against a fresh read of
Descope, and nearly every tenant is unchanged. ``prepare`` turns each desired tenant into a
check that answers "is this live tenant certainly unchanged?" with a few C-level lookups and
comparisons (``operator.itemgetter`` over the managed keys, one tuple compare of the values and
one of their types). The check is conservative: when it says no, or cannot tell (a key missing
live, a value of another type, a list holding more than strings), the planner compares the tenant
the full way, so the plan is the same with or without it; ``tests/core/test_plan_prepared.py``
compares both ways table-driven.

``PreparedDesired.attention`` goes one step further for the idle cycle: tenants whose check reads the
same keys are checked together, each step a C-level ``map`` over all of them, and the planner's loop
visits only the tenants that fail (or that the batch cannot tell about), in file order.

``revise`` prepares a new revision from the previous one's prepared form: only the tenants whose
fields the loader parsed again get a new check, so the first plan after a commit is as cheap as
an idle cycle's (at 100k tenants and a one-tenant edit, ~0.05 s instead of ~0.4 s for ``prepare``).
"""

from __future__ import annotations

__all__ = [
    "FIELD_ROLES",
    "ROLE_ATTRIBUTES",
    "ROLE_SETTINGS",
    "ROLE_SKIP",
    "ROLE_TOP",
    "PreparedDesired",
    "TenantCheck",
    "prepare",
    "revise",
]

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import attrgetter, is_, is_not, itemgetter, ne
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from controller.core.gc_pause import paused_gc
from controller.core.model import SETTINGS_FIELDS, TENANT_FIELDS, DesiredState, DesiredTenant, JSONValue, WritePath
from controller.core.normalize import canonical

_PLAIN: Final = frozenset({str, int, float, bool, type(None), list})
_STRINGS: Final = frozenset({str})
_SAFE: Final = frozenset({str, type(None), list})  # of lists only lists of strings reach a batch
_NONE: Final[Mapping[str, JSONValue]] = MappingProxyType({})
ROLE_TOP, ROLE_ATTRIBUTES, ROLE_SETTINGS, ROLE_SKIP = "top", "attributes", "settings", "skip"
FIELD_ROLES: Final[Mapping[str, str]] = {
    name: ROLE_ATTRIBUTES
    if name == "customAttributes"
    else ROLE_SETTINGS
    if spec.write is WritePath.SETTINGS
    else ROLE_SKIP
    if spec.write is WritePath.SUBRESOURCE
    else ROLE_TOP
    for name, spec in TENANT_FIELDS.items()
}
"""How the check reads each field of the catalogue: compared top-level, a managed map, or not the tenant's."""

Getter = Callable[[Any], tuple[JSONValue, ...]]
Getters = dict[tuple[tuple[str, ...], tuple[str, ...]], Getter]  # one per shape: (top keys, attribute keys)


class TenantCheck(NamedTuple):  # a tuple: 100k are built per revision, and a frozen dataclass is slower to build
    """One desired tenant's managed fields as the live record must hold them for the tenant to need nothing.

    ``get`` reads the compared values from a live record as one tuple (the top-level fields, then the
    ``customAttributes`` keys written in YAML); it is shared by all tenants that write the same keys.
    """

    get: Getter | None
    want: tuple[JSONValue, ...]
    types: tuple[type, ...]
    defaulted: tuple[tuple[str, JSONValue], ...]  # fields written as their default: absent live matches too
    settings: tuple[Getter, tuple[JSONValue, ...], tuple[type, ...]] | None  # the same, for ``settings``

    def unchanged(self, current: Mapping[str, JSONValue], settings: Mapping[str, JSONValue] | None) -> bool:
        """True only when the full comparison would find no change and no parent conflict."""
        try:
            if self.get is not None:
                values = self.get(current)
                if values != self.want or tuple(map(type, values)) != self.types:
                    return False
            for name, want in self.defaulted:
                have = current.get(name)
                if have is not None and (type(have) is not type(want) or have != want):
                    return False
            if self.settings is not None:
                get, want, types = self.settings
                if settings is None:
                    return False
                values = get(settings)
                if values != want or tuple(map(type, values)) != types:
                    return False
        except (KeyError, TypeError, IndexError):  # a key missing live, or not a map: the full way decides
            return False
        return True


@dataclass(frozen=True, slots=True, eq=False)
class PreparedDesired:
    """A desired state with its lookups and per-tenant checks; build it with ``prepare``, reuse it per revision."""

    desired: DesiredState
    by_id: Mapping[str, DesiredTenant]
    checks: tuple[TenantCheck | None, ...]  # one per desired tenant, in order; None: always the full way
    batches: tuple[Batch, ...] = ()
    alone: tuple[int, ...] | None = None  # positions the batches do not cover; None: no batches, visit all
    getters: Mapping[tuple[tuple[str, ...], tuple[str, ...]], Getter] = field(default_factory=dict)  # by shape

    def attention(self, live_by_id: Mapping[str, Mapping[str, Any]], inventory: Set[str]) -> Iterable[int]:
        """Positions (in file order) of the tenants the planner must look at; the others are certainly unchanged.

        A tenant is left out only when it is live, in the inventory and its batch finds its values and
        their types equal: exactly the case in which the planner's loop would skip it.
        """
        if self.alone is None:
            return range(len(self.checks))
        wanted = [*self.alone]
        for batch in self.batches:
            wanted.extend(batch.attention(live_by_id, inventory))
        wanted.sort()  # small unless much differs: batches and the tenants alone interleave in the file
        return wanted


@dataclass(frozen=True, slots=True, eq=False)
class Batch:
    """The tenants whose checks read the same keys and nothing else (no defaulted fields, no settings).

    Checked column by column (one key of all of them at a time): one C-level list compare when the
    column is equal, and the value types compared only in columns that hold numbers or booleans
    (elsewhere equal JSON values have equal types: a string, None, a list of strings).
    """

    keys: tuple[str, ...]
    attribute_keys: tuple[str, ...]
    ids: tuple[str, ...]
    positions: tuple[int, ...]
    columns: tuple[list[JSONValue], ...]  # the wanted values, one list per key (top keys, then attribute keys)
    types: tuple[list[type] | None, ...]  # their types, where a column holds numbers or booleans

    def attention(self, live_by_id: Mapping[str, Mapping[str, Any]], inventory: Set[str]) -> Iterator[int]:
        currents: list[Any] = list(map(live_by_id.get, self.ids))  # None for a tenant not live: TypeError below
        try:
            got = [list(map(itemgetter(key), currents)) for key in self.keys]
            if self.attribute_keys:
                attributes = list(map(itemgetter("customAttributes"), currents))
                got += [list(map(itemgetter(key), attributes)) for key in self.attribute_keys]
        except (KeyError, TypeError, IndexError):  # a tenant not live, a key missing: each the full way
            return iter(self.positions)
        flagged: set[int] = set()
        for have, want, types in zip(got, self.columns, self.types, strict=True):
            if have != want:
                flagged.update(compress(range(len(have)), map(ne, have, want)))
            if types is not None and list(map(type, have)) != types:
                flagged.update(compress(range(len(have)), map(is_not, map(type, have), types)))
        if not all(map(inventory.__contains__, self.ids)):
            flagged.update(i for i, tenant_id in enumerate(self.ids) if tenant_id not in inventory)
        return map(self.positions.__getitem__, sorted(flagged))


def prepare(desired: DesiredState) -> PreparedDesired:
    """The per-revision part of planning ``desired``; pure: it depends on ``desired`` alone."""
    getters: Getters = {}  # one per shape of tenant
    with paused_gc():
        return _assembled(desired, tuple(_check(t, getters) for t in desired.tenants), getters)


_ID: Final = attrgetter("id")
_FIELDS: Final = attrgetter("fields")
_WANT: Final = attrgetter("want")
_FEW_SHAPES: Final = 8


def revise(previous: PreparedDesired, desired: DesiredState) -> PreparedDesired:
    """``prepare(desired)``, reusing the checks ``previous`` (another revision's) holds for the tenants both share.

    A check depends on its tenant's fields alone, and the loader hands an unchanged tenant's very
    ``fields`` object to the next revision (``core.loader.parse_revision``): a tenant with the same id
    and the same fields object keeps its check, and only the edited tenants are prepared. When no
    tenant moved and each edited one stays in its batch, the batches are patched at those places;
    otherwise they are regrouped from the checks. Plans the same as ``prepare(desired)``
    (``tests/core/test_plan_revised.py``).
    """
    if previous.desired is desired:
        return previous
    if previous.alone is None:  # no checks to reuse (``make_plan``'s form of a single plan)
        return prepare(desired)
    getters: Getters = dict(previous.getters)
    old, new = previous.desired.tenants, desired.tenants
    with paused_gc():
        ids = list(map(_ID, new))
        by_id = dict(zip(ids, new, strict=True))
        if len(ids) == len(previous.by_id) == len(old) and list(previous.by_id) == ids:  # no tenant moved
            edited = list(compress(range(len(new)), map(is_not, map(_FIELDS, old), map(_FIELDS, new))))
            checks = list(previous.checks)
            for position in edited:
                checks[position] = _check(new[position], getters)
            patched = _patched(previous, edited, checks, getters)
            if patched is not None:
                return PreparedDesired(desired, by_id, tuple(checks), patched, previous.alone, getters)
            return _assembled(desired, tuple(checks), getters, by_id)
        # tenants added, deleted or moved: each check found by id, kept when its fields are the same object
        was = map(getattr, map(previous.by_id.get, ids), repeat("fields"), repeat(None))
        checks = list(map(dict(zip(map(_ID, old), previous.checks, strict=True)).get, ids))
        for position in compress(range(len(new)), map(is_not, was, map(_FIELDS, new))):
            checks[position] = _check(new[position], getters)
        return _assembled(desired, tuple(checks), getters, by_id)


def _assembled(
    desired: DesiredState,
    checks: tuple[TenantCheck | None, ...],
    getters: Getters,
    by_id: Mapping[str, DesiredTenant] | None = None,
) -> PreparedDesired:
    """The prepared form around ``checks`` (one per tenant of ``desired``): its lookups and its batches."""
    keys = list(map(_batch_key, checks))
    seen = dict.fromkeys(keys)  # the shapes, in file order; None: the checks alone
    grouped: dict[Getter | None, list[int]] = {}
    if len(seen) <= _FEW_SHAPES:  # the usual file: one pass of C over all tenants per shape
        grouped = {key: list(compress(range(len(keys)), map(is_, keys, repeat(key)))) for key in seen}
    else:
        for position, key in enumerate(keys):
            grouped.setdefault(key, []).append(position)
    alone = grouped.pop(None, [])
    shapes = {get: shape for shape, get in getters.items()}
    return PreparedDesired(
        desired,
        desired.by_id() if by_id is None else by_id,
        checks,
        tuple(_batch(shapes[get], positions, desired, checks) for get, positions in grouped.items() if get is not None),
        tuple(alone),
        getters,
    )


def _batch_key(check: TenantCheck | None) -> Getter | None:
    """The batch a check belongs to (the getter of its shape); None: checked alone."""
    if check is None or check.get is None or check.defaulted or check.settings is not None:
        return None
    return check.get


def _patched(
    previous: PreparedDesired, edited: Sequence[int], checks: Sequence[TenantCheck | None], getters: Getters
) -> tuple[Batch, ...] | None:
    """``previous.batches`` with the wanted values of the ``edited`` positions replaced by those of ``checks``.

    Valid when the tenants are the same ids in the same order; None when an edited tenant leaves its
    batch (checked alone now, or of another shape): the batches are then regrouped.
    """
    index = {getters[(b.keys, b.attribute_keys)]: i for i, b in enumerate(previous.batches)}
    changes: dict[int, list[tuple[int, TenantCheck]]] = {}
    for position in edited:
        key, new = _batch_key(previous.checks[position]), checks[position]
        if _batch_key(new) is not key:
            return None
        if key is not None and new is not None:
            batch = previous.batches[index[key]]
            changes.setdefault(index[key], []).append((bisect_left(batch.positions, position), new))
    batches = list(previous.batches)
    for i, edits in changes.items():
        batch = batches[i]
        columns = [list(column) for column in batch.columns]
        types = [None if column is None else list(column) for column in batch.types]
        for at, check in edits:
            for column, value in zip(columns, check.want, strict=True):
                column[at] = value
        for k, column in enumerate(columns):
            kinds = types[k]
            if kinds is not None:
                for at, check in edits:
                    kinds[at] = type(check.want[k])
            elif not _SAFE.issuperset(type(check.want[k]) for _at, check in edits):
                types[k] = list(map(type, column))
        batches[i] = Batch(batch.keys, batch.attribute_keys, batch.ids, batch.positions, tuple(columns), tuple(types))
    return tuple(batches)


def _batch(
    shape: tuple[tuple[str, ...], tuple[str, ...]],
    positions: list[int],
    desired: DesiredState,
    checks: tuple[TenantCheck | None, ...],
) -> Batch:
    mine = map(checks.__getitem__, positions)  # a batch's checks are never None
    columns = tuple(map(list, zip(*map(_WANT, mine), strict=True)))
    types = tuple(None if _SAFE.issuperset(map(type, column)) else list(map(type, column)) for column in columns)
    ids = tuple(map(_ID, map(desired.tenants.__getitem__, positions)))
    return Batch(*shape, ids, tuple(positions), columns, types)


def _check(tenant: DesiredTenant, getters: Getters) -> TenantCheck | None:
    keys: list[str] = []
    wants: list[JSONValue] = []
    defaulted: list[tuple[str, JSONValue]] = []
    attributes: Mapping[str, JSONValue] = _NONE
    settings: Mapping[str, JSONValue] = _NONE
    for name, value in tenant.fields.items():
        role = FIELD_ROLES.get(name)
        if role is None:
            return None
        if role is ROLE_TOP:
            if not value and canonical(name, value) == canonical(name, None):
                # written as the default: Descope may leave such a field out of its answer
                defaulted.append((name, value))
            else:
                keys.append(name)
                wants.append(value)
        elif role is ROLE_SKIP:
            continue  # a sub-resource, planned apart from the tenant record
        elif type(value) is not dict:
            return None
        elif role is ROLE_ATTRIBUTES:
            attributes = value
        elif SETTINGS_FIELDS.keys() >= value.keys():
            settings = value
        else:
            return None
    wants.extend(attributes.values())
    types = tuple(map(type, wants))
    if not _plain(types, wants):
        return None
    if defaulted and not _plain(tuple(type(v) for _k, v in defaulted), [v for _k, v in defaulted]):
        return None
    get = _getter(tuple(keys), tuple(attributes), getters) if wants else None
    settings_check = None
    if settings:
        setting_types = tuple(map(type, settings.values()))
        if not _plain(setting_types, settings.values()):
            return None
        settings_check = (_getter(tuple(settings), (), getters), tuple(settings.values()), setting_types)
    return TenantCheck(get, tuple(wants), types, tuple(defaulted), settings_check)


def _getter(
    keys: tuple[str, ...],
    attribute_keys: tuple[str, ...],
    getters: Getters,
) -> Getter:
    shape = (keys, attribute_keys)
    found = getters.get(shape)
    if found is None:
        getters[shape] = found = _new_getter(keys, attribute_keys)
    return found


def _new_getter(keys: tuple[str, ...], attribute_keys: tuple[str, ...]) -> Getter:
    top, attributes = _tuple_getter(keys), _tuple_getter(attribute_keys)
    if not attribute_keys:
        return top

    def get(current: Any) -> tuple[JSONValue, ...]:
        return top(current) + attributes(current["customAttributes"])

    return get


def _tuple_getter(keys: tuple[str, ...]) -> Getter:
    """``itemgetter`` that always returns a tuple (of one key it returns the value itself)."""
    if len(keys) > 1:
        return itemgetter(*keys)
    if not keys:
        return lambda _have: ()
    key = keys[0]
    return lambda have: (have[key],)


def _plain(types: tuple[type, ...], values: Iterable[JSONValue]) -> bool:
    """Scalars and lists of strings: equal with equal types is then equal the planner's way too.

    (A list holding numbers or booleans is not: ``[1] == [True]`` in Python, not in Descope.)
    """
    if not _PLAIN.issuperset(types):
        return False
    return list not in types or all(_STRINGS.issuperset(map(type, v)) for v in values if type(v) is list)
