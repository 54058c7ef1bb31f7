"""Live tenants (and their session settings) → the text of tenants.yaml: the pure half of ``export``.

Why it is built this way:

- **It round-trips.** Each field is written with Descope's own key and the value the planner would read
  as equal to the live one; a value equal to its default is left out (a key not written is not managed,
  so leaving it out can never plan a change). ``plan`` on the output shows no changes.
- **The loader is the judge.** Rather than restate what ``controller.core.schema`` refuses (ids, names,
  look-alikes, domains, attribute types with the project's catalogue, ...), the output is run through
  ``parse_tenant_files`` itself. Each problem it reports is traced, by its line, to the tenant or field
  written there: a refused ``id`` or ``name`` turns the whole tenant into a comment (``Export.skipped``:
  the command warns and exits partial), any other refused value becomes a comment naming the field and
  the loader's reason (``Export.unexported``). Then the text is built and checked again (a commented
  parent makes its children's ``parent:`` refused, and so on) until the loader accepts it.
- **Nothing is dropped silently.** Fields Descope keeps that tenants.yaml cannot manage (``authType``,
  SSO ``domains``, a changed ``ssoSetupSuiteSettings``, a field this build does not know) are named in a
  comment under the tenant. ``createdTime`` and ``successors`` are derived by Descope and not named.
- **Stable.** Tenants sorted by id (a tree file: the root, then its descendants depth first), lists and
  attribute keys sorted, settings in the catalogue's order; the only varying line is the header's time.

Plain data in, text out: the engine reads Descope, the CLI writes files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from controller.core.export_config import ExportConfig, config_entries
from controller.core.export_yaml import comment_text, string_text, value_text
from controller.core.loader import LoadLimits, parse_tenant_files
from controller.core.model import (
    SETTINGS_FIELDS,
    SUBRESOURCE_FIELDS,
    TENANT_FIELDS,
    JSONValue,
    Kind,
    LiveTenant,
    WritePath,
)
from controller.core.normalize import canonical, canonical_scalar
from controller.descope_api import SESSION_SETTINGS_DEFAULTS, SETTINGS_TENANT_KEYS, AttributeDefinition
from controller.errors import Problem, TenantsFileInvalid

Split = Literal["none", "tenant", "tree"]

DERIVED_FIELDS: Final = frozenset({"id", "createdTime", "successors"})
"""Live fields that are the tenant's key or that Descope derives: not exported and not named."""

_LIMITS: Final = LoadLimits(max_problems=10**9)  # every problem at once: each is traced to its line
_MAX_ROUNDS: Final = 12
_INDENT: Final = "    "


@dataclass(frozen=True)
class ExportOptions:
    project_id: str
    exported_at: str  # RFC 3339, UTC
    version: str
    split: Split = "none"
    file_name: str = "tenants.yaml"  # the one file's name when split is "none"
    attributes: Mapping[str, AttributeDefinition] | None = None  # the project's catalogue, when known


@dataclass(frozen=True)
class Skipped:
    """A live tenant the loader would refuse (its id or name): written only as a comment."""

    tenant_id: str
    reason: str


@dataclass(frozen=True)
class Unexported:
    """A field of a live tenant that is not written as a value, only named in a comment."""

    tenant_id: str
    field: str  # a top-level key, or ``customAttributes.<key>`` / ``settings.<key>``
    reason: str
    lost: bool = False  # True: its value could not even be read (settings unreadable): the export is partial


@dataclass(frozen=True)
class Export:
    files: dict[str, str]  # file name -> YAML text
    tenants: int  # tenants written as YAML (not as comments)
    skipped: tuple[Skipped, ...] = ()
    unexported: tuple[Unexported, ...] = ()
    problems: tuple[Problem, ...] = ()  # what the loader still refuses and no line explains (a size limit)

    @property
    def partial(self) -> bool:
        """Some live data is not in the output as YAML values: CI should notice (exit 4)."""
        return bool(self.skipped or self.problems or any(u.lost for u in self.unexported))


@dataclass
class _Doc:
    """One tenant, ready to write: each entry is (key, text); a map's entries follow its header."""

    tenant_id: str
    entries: list[tuple[str, str, int]] = field(default_factory=list)  # (owner key, "key: value", depth)
    notes: list[Unexported] = field(default_factory=list)


def build_export(
    live: Sequence[LiveTenant],
    options: ExportOptions,
    *,
    settings_by_id: Mapping[str, Mapping[str, JSONValue]] | None = None,
    unreadable_settings: Mapping[str, str] | None = None,
    config: ExportConfig | None = None,
) -> Export:
    """The tenants.yaml text(s) for ``live``; ``settings_by_id`` None: session settings are not exported.

    ``config`` None: roles, SSO configurations and password policy are not exported (``export_config``).
    """
    docs = {str(t.get("id")): _doc(t, settings_by_id, unreadable_settings or {}) for t in live}
    if config is not None:
        for tenant in live:
            _config(docs[str(tenant.get("id"))], str(tenant.get("parent") or ""), config)
    groups = _group(live, options)
    refused: dict[str, str] = {}
    off: dict[tuple[str, str], str] = {}
    untraced: list[Problem] = []
    for _round in range(_MAX_ROUNDS):
        files, owners = _render(docs, groups, refused, off, options, len(live))
        try:
            parse_tenant_files({n: t.encode() for n, t in files.items()}, limits=_LIMITS, attributes=options.attributes)
        except TenantsFileInvalid as exc:
            untraced, found = [], False
            for problem in exc.problems:
                owner = owners.get((problem.file, problem.line))
                if owner is None:
                    untraced.append(problem)
                elif owner[1] in ("id", "name"):
                    found = found or owner[0] not in refused
                    refused.setdefault(owner[0], problem.message)
                elif owner not in off:
                    off[owner] = problem.message
                    found = True
            if found:
                continue
        break
    unexported = [n for d in docs.values() if d.tenant_id not in refused for n in d.notes]
    unexported += [Unexported(tid, key, f"the loader refuses it: {why}") for (tid, key), why in off.items()]
    return Export(
        files=files,
        tenants=len(docs) - len(refused),
        skipped=tuple(Skipped(tid, why) for tid, why in sorted(refused.items())),
        unexported=tuple(sorted(unexported, key=lambda u: (u.tenant_id, u.field))),
        problems=tuple(untraced),
    )


# -- one tenant -------------------------------------------------------------------------------------------


def _doc(
    tenant: LiveTenant, settings_by_id: Mapping[str, Mapping[str, JSONValue]] | None, unreadable: Mapping[str, str]
) -> _Doc:
    tid = str(tenant.get("id"))
    doc = _Doc(tid)
    doc.entries.append(("id", f"id: {string_text(tid)}", 0))
    name = tenant.get("name")
    doc.entries.append(("name", f"name: {value_text(name if name is not None else '')}", 0))
    for key, spec in TENANT_FIELDS.items():
        if key in ("name", "settings") or spec.write is WritePath.SUBRESOURCE:
            continue  # sub-resources (roles, SSO, password policy) are not part of the tenant record
        value = tenant.get(key)
        if value is None or _is_default(key, value):
            continue
        if spec.kind is Kind.ATTRIBUTES and isinstance(value, Mapping):
            items = sorted((str(k), _tidy(v)) for k, v in value.items() if v is not None)
            if not items:
                continue
            doc.entries.append((key, f"{key}:", 0))
            doc.entries.extend((f"{key}.{k}", f"{string_text(k)}: {value_text(v)}", 1) for k, v in items)
        else:
            doc.entries.append((key, f"{key}: {value_text(_tidy(value, sort_case=spec.kind is Kind.DOMAIN_SET))}", 0))
    for key, value in sorted(tenant.items()):
        managed = key in TENANT_FIELDS and key not in SUBRESOURCE_FIELDS
        if not managed and key not in DERIVED_FIELDS and not _empty(key, value):
            doc.notes.append(Unexported(tid, key, _descope_only(key, value)))
    if tid in unreadable:
        doc.notes.append(Unexported(tid, "settings", f"not read from Descope: {unreadable[tid]}", lost=True))
    elif settings_by_id is not None and tid in settings_by_id:
        _settings(doc, settings_by_id[tid])
    return doc


def _config(doc: _Doc, parent: str, config: ExportConfig) -> None:
    tid = doc.tenant_id
    if tid in config.unreadable:
        reason = f"not read from Descope: {config.unreadable[tid]}"
        doc.notes.append(Unexported(tid, "roles, sso, passwordPolicy", reason, lost=True))
        return
    entries, notes = config_entries(tid, parent, config)
    doc.entries.extend(entries)
    doc.notes.extend(Unexported(tid, name, why) for name, why in notes)


def _settings(doc: _Doc, settings: Mapping[str, JSONValue]) -> None:
    kept = [
        (k, _tidy(settings[k]))
        for k in SETTINGS_FIELDS
        if settings.get(k) is not None
        and canonical_scalar(settings[k]) != canonical_scalar(SESSION_SETTINGS_DEFAULTS[k])
    ]
    if kept:
        doc.entries.append(("settings", "settings:", 0))
        doc.entries.extend((f"settings.{k}", f"{k}: {value_text(v)}", 1) for k, v in kept)
    for key, value in sorted(settings.items()):
        if key in SETTINGS_FIELDS or key in SETTINGS_TENANT_KEYS or key == "tenantId":
            continue  # the tenant keys are the tenant's own fields, read from it
        if value != SESSION_SETTINGS_DEFAULTS.get(key) and not _empty(key, value):
            doc.notes.append(Unexported(doc.tenant_id, f"settings.{key}", _descope_only(key, value)))


def _is_default(key: str, value: JSONValue) -> bool:
    try:
        return bool(canonical(key, value) == canonical(key, TENANT_FIELDS[key].default))
    except (TypeError, ValueError, AttributeError):
        return False  # not of the field's type: written as it is, and the loader says what is wrong


def _tidy(value: Any, *, sort_case: bool = False) -> Any:
    """Integral floats as ints (JSON numbers), lists sorted (they are sets everywhere they are managed)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        items = [_tidy(v) for v in value]
        try:
            return sorted(items, key=(lambda s: (str(s).lower(), str(s))) if sort_case else None)
        except TypeError:
            return items
    return value


def _empty(key: str, value: JSONValue) -> bool:
    """Descope omits false, empty and zero fields; ``authType`` "none" is its way of saying no SSO."""
    if key == "authType" and value == "none":
        return True
    return value is None or value is False or (not isinstance(value, bool) and value in ("", 0, [], {}))


def _descope_only(key: str, value: JSONValue) -> str:
    shown = value_text(value) if not isinstance(value, Mapping) else "{...}"
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return f"tenants.yaml cannot manage it; Descope has {key}: {shown}"


# -- files ------------------------------------------------------------------------------------------------


def _group(live: Sequence[LiveTenant], options: ExportOptions) -> dict[str, list[str]]:
    """File name -> the ids it holds, in the order they are written."""
    ids = sorted(str(t.get("id")) for t in live)
    if options.split == "none":
        return {options.file_name: ids}
    names = file_names(ids)
    if options.split == "tenant":
        return {names[tid]: [tid] for tid in ids}
    parent_of = {str(t.get("id")): str(t.get("parent") or "") for t in live}
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for tid in ids:
        root, seen = tid, {tid}
        while parent_of.get(root, "") in parent_of and parent_of[root] not in seen:
            root = parent_of[root]
            seen.add(root)
        if root == tid:
            roots.append(tid)
        else:
            children.setdefault(parent_of[tid], []).append(tid)
    groups: dict[str, list[str]] = {}
    for root in roots:
        order: list[str] = []
        stack = [root]
        while stack:
            current = stack.pop()
            order.append(current)
            stack.extend(reversed(children.get(current, [])))
        groups[names[root]] = order
    return groups


def file_names(ids: Sequence[str]) -> dict[str, str]:
    """A safe ``.yaml`` file name per id: the id itself when it is tame, else a tame form plus a short hash."""
    import hashlib
    import re

    names: dict[str, str] = {}
    taken: set[str] = set()
    for tid in sorted(ids):
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", tid).lstrip(".-")[:80] or "tenant"
        if stem != tid or stem.lower() in taken:  # case-insensitive file systems: Acme and acme would collide
            stem = f"{stem}-{hashlib.sha256(tid.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"
        taken.add(stem.lower())
        names[tid] = stem + ".yaml"
    return names


def _render(
    docs: Mapping[str, _Doc],
    groups: Mapping[str, list[str]],
    refused: Mapping[str, str],
    off: Mapping[tuple[str, str], str],
    options: ExportOptions,
    total: int,
) -> tuple[dict[str, str], dict[tuple[str, int | None], tuple[str, str]]]:
    files: dict[str, str] = {}
    owners: dict[tuple[str, int | None], tuple[str, str]] = {}
    for name, ids in groups.items():
        lines = _header(options, total, len(ids))
        active = [tid for tid in ids if tid not in refused]
        lines.append("tenants:" if active else "tenants: []")
        for tid in ids:
            for text, key in _tenant_lines(docs[tid], refused.get(tid), off):
                lines.append(text)
                if key is not None:
                    owners[(name, len(lines))] = (tid, key)
        files[name] = "\n".join(lines) + "\n"
    return files, owners


def _header(options: ExportOptions, total: int, here: int) -> list[str]:
    count = f"{here} of the project's {total} tenants" if here != total else f"{total} tenants"
    return [
        f"# Exported by descope-gitops {comment_text(options.version)} from Descope project "
        f"{comment_text(options.project_id)} at {comment_text(options.exported_at)}: {count}.",
        "# Only the keys written here are managed; values equal to Descope's defaults are left out.",
        "# `descope-gitops plan` on this file shows no changes until tenants.yaml or Descope change.",
    ]


def _tenant_lines(doc: _Doc, refused: str | None, off: Mapping[tuple[str, str], str]) -> list[tuple[str, str | None]]:
    """(line, owner key or None for a comment) for one tenant; a refused one is all comment."""
    tid = doc.tenant_id
    if refused is not None:
        out: list[tuple[str, str | None]] = [
            (
                f"  # NOT MANAGED: tenant {comment_text(repr(tid))} is written as a comment because the loader "
                f"refuses it: {comment_text(refused)}. Fix it in the Descope console and export again.",
                None,
            )
        ]
        for i, (_key, text, depth) in enumerate(doc.entries):
            out.append((f"  # {'- ' if i == 0 else '  '}{'  ' * depth}{comment_text(text)}", None))
        return out
    groups: list[tuple[str, str, list[tuple[str, str]]]] = []
    for key, text, depth in doc.entries:
        if depth == 0:
            groups.append((key, text, []))
        else:
            groups[-1][2].append((key, text))
    out = []
    for key, text, subs in groups:
        why = off.get((tid, key))
        if why is not None:
            out.append((f"{_INDENT}# not exported, the loader refuses {key}: {comment_text(why)}", None))
            out.append((f"{_INDENT}# {comment_text(text)}", None))
            out.extend((f"{_INDENT}#   {comment_text(sub)}", None) for _k, sub in subs)
            continue
        if not subs or any((tid, k) not in off for k, _t in subs):  # a map with every key refused has no header
            out.append((("  - " if key == "id" else _INDENT) + text, key))
        for sub_key, sub in subs:
            sub_why = off.get((tid, sub_key))
            if sub_why is None:
                out.append((f"{_INDENT}  {sub}", sub_key))
            else:
                out.append((f"{_INDENT}  # not exported, the loader refuses {sub_key}: {comment_text(sub_why)}", None))
                out.append((f"{_INDENT}  # {comment_text(sub)}", None))
        if key == "name":
            out.extend(
                (f"{_INDENT}# not exported: {comment_text(n.field)}: {comment_text(n.reason)}", None) for n in doc.notes
            )
    return out
