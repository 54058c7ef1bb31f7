"""The composed tree checked against the field catalogue, one tenant at a time, into DesiredTenants.

The checks of the sub-resources (roles, SSO, password policy) are in ``core.schema_config``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from controller.core.cross_file import _CrossFileRules
from controller.core.model import (
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    SETTINGS_FIELDS,
    TENANT_FIELDS,
    DesiredTenant,
    JSONValue,
    Kind,
)
from controller.core.problems import LoadLimits, _clip, _Problems, _q, _Stop, suggest, unknown_key
from controller.core.schema_config import _ConfigChecks
from controller.core.yaml_tree import _BAD, _DONE, _EMPTY, _kind_of, _Map, _Seq
from controller.descope_api import AttributeDefinition, attribute_value_problem
from controller.errors import Problem

TOP_LEVEL_KEYS: Final[tuple[str, ...]] = ("tenants",)
"""The keys a tenants file may have at its top level."""

TENANT_KEYS: Final[tuple[str, ...]] = ("id", *TENANT_FIELDS)
"""The keys a tenant mapping may have: ``id`` plus every managed field."""

_EMPTY_HINT: Final = "write `tenants: []` to declare that there are no tenants"


_HOSTNAME_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_MAX_DOMAIN_LENGTH: Final = 253
_DOMAIN: Final = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")
_WHITESPACE: Final = re.compile(r"\s")

_Check = Callable[["_Validator", str, Any, int], Any]


class _Validator(_CrossFileRules, _ConfigChecks):
    """Checks composed files against the catalogue and collects the tenants of all files."""

    def __init__(
        self, problems: _Problems, limits: LoadLimits, attributes: Mapping[str, AttributeDefinition] | None = None
    ) -> None:
        self.problems = problems
        self.limits = limits
        self.attributes = attributes  # the project's definitions, when known
        self.tenants: list[DesiredTenant] = []
        self.ids: dict[str, tuple[str, int, int]] = {}  # id -> (file, line of its tenant, line of the id)
        # casefolded name -> (file, line of its tenant, name as written, line of the name): Descope's names are
        # unique whatever the case
        self.names: dict[str, tuple[str, int, str, int]] = {}
        # the ids, and the keys of self.names, that are not all ASCII: the only ones the TR39 checks start from
        self.unusual_ids: list[str] = []
        self.unusual_names: list[str] = []
        self.parents: list[tuple[str, str, str, int]] = []  # (id, parent, file, line)
        self.all_ids: set[str] = set()
        self.incomplete = False  # some file failed to compose: undeclared parents may be declared there
        self.count = 0
        self.file_name = ""
        self.held: list[Problem] | None = None  # problems found while the file is still being parsed
        self.role_references: list[tuple[str, int, str]] = []  # the roles the current tenant's SSO names

    def add(self, line: int | None, message: str) -> None:
        """Report a problem; while the file is being parsed it is held until the parse succeeds."""
        held = self.held
        if held is None:
            self.problems.add(self.file_name, line, message)
            return
        held.append(Problem(self.file_name, line, message))
        if len(held) >= self.problems.limit:  # enough to fix already, whatever follows
            self.held = None
            for problem in held:
                self.problems.add(problem.file, problem.line, problem.message)

    # -- files -------------------------------------------------------------------------------

    def file(self, name: str, root: Any) -> None:
        self.file_name = name
        if root is _EMPTY or root is None:
            self.add(None, f"file is empty (no tenants list); {_EMPTY_HINT}")
            return
        if root is _BAD:
            return
        if not isinstance(root, _Map):
            hint = "; did you forget `tenants:` above the list?" if isinstance(root, _Seq) else ""
            self.add(
                getattr(root, "line", 1),
                f"the top level must be a mapping with the key `tenants:`, found {_kind_of(root)}{hint}",
            )
            return
        for key, (_value, key_line, _vl, _raw) in root.entries.items():
            if key not in TOP_LEVEL_KEYS:
                self.add(key_line, unknown_key("top-level key", key, TOP_LEVEL_KEYS))
        entry = root.entries.get("tenants")
        if entry is None:
            self.add(root.line, f"missing the top-level key `tenants:`; {_EMPTY_HINT}")
            return
        tenants, key_line, value_line, _raw = entry
        if tenants is _BAD:
            return
        if tenants is None:
            self.add(key_line, f"`tenants:` has no value; list the tenants under it, or {_EMPTY_HINT}")
            return
        if not isinstance(tenants, _Seq):
            self.add(value_line, f"`tenants:` must be a list of tenants (`- id: ...`), found {_kind_of(tenants)}")
            return
        for item, line in zip(tenants.items, tenants.lines, strict=True):
            if item is _DONE:
                continue
            if isinstance(item, _Map):
                self.tenant(item, line)
            elif item is not _BAD:
                self.add(line, f"each tenant must be a mapping (`- id: ...` then `name: ...`), found {_kind_of(item)}")

    def tenant(self, tenant: _Map, item_line: int) -> None:
        """Validate one tenant mapping; ``item_line`` is where the list names it (an alias may reuse one)."""
        self.count += 1
        if self.count > self.limits.max_tenants:
            message = f"more than {self.limits.max_tenants:,} tenants in the tenants files; refusing to load them"
            self.problems.add(self.file_name, item_line, message)  # not held: loading stops here
            raise _Stop
        entries = tenant.entries
        aliased = item_line != tenant.line
        fields: dict[str, JSONValue] = {}
        ok = True
        tenant_id: str | None = None
        self.role_references = []
        for key, (value, key_line, value_line, raw) in entries.items():
            if value is _BAD:
                ok = False
                continue
            if key == "id":
                tenant_id = self.tenant_id(value, value_line, raw)
                continue
            check = _CHECKS.get(key)
            if check is None:
                self.add(key_line, unknown_key("tenant key", key, TENANT_KEYS))
                ok = False
                continue
            if value is None:
                self.add(key_line, f"{key} has no value; give it one or remove the key")
                ok = False
                continue
            out = check(self, key, value, value_line)
            if out is _BAD:
                ok = False
            else:
                fields[key] = out
        ok = self.check_role_references(fields) and ok
        if "id" not in entries:
            self.add(tenant.line, "tenant has no `id:` (the stable Descope tenant id, e.g. `id: acme-corp`)")
            ok = False
        if "name" not in entries:
            shown = f" {_q(tenant_id)}" if tenant_id else ""
            self.add(tenant.line, f"tenant{shown} has no `name:` (required, unique per project)")
            ok = False
        place: dict[str, int] = {k: item_line if aliased else entries[k][2] for k in ("id", "name") if k in entries}
        if "parent" in entries:
            place["parent"] = entries["parent"][2]
        self.record(tenant_id, fields, tenant.line, place, ok)

    def record(
        self, tenant_id: str | None, fields: dict[str, JSONValue], line: int, place: Mapping[str, int], ok: bool
    ) -> None:
        """Keep a tenant whose keys are checked (``ok``: without a problem) and note it for the cross-file rules.

        ``line`` is where its mapping starts, ``place`` where its id, name and parent are written. The fast
        path records its tenants a slice at a time instead (``core.loader_columns.record_all``), which
        ``tests/core/loader/test_columns.py`` proves keeps the same tenants and finds the same duplicates."""
        where = (self.file_name, line)
        if tenant_id is not None:
            self.all_ids.add(tenant_id)
            first = self.ids.get(tenant_id)
            if first is not None:
                self.add(place["id"], f"duplicate tenant id {_q(tenant_id)}: also declared at {first[0]}:{first[1]}")
                ok = False
            else:
                self.ids[tenant_id] = (*where, place["id"])
                if not tenant_id.isascii():
                    self.unusual_ids.append(tenant_id)
        name = fields.get("name")
        if isinstance(name, str):
            folded = name.casefold()
            first_name = self.names.get(folded)
            if first_name is not None:
                case = "" if first_name[2] == name else f" as {_q(first_name[2])}"
                self.add(
                    place["name"],
                    f"duplicate tenant name {_q(name)}: also used at {first_name[0]}:{first_name[1]}{case} "
                    f"(names are unique per project{', whatever the case' if case else ''})",
                )
                ok = False
            else:
                self.names[folded] = (*where, name, place["name"])
                if not name.isascii():
                    self.unusual_names.append(folded)
        parent = fields.get("parent")
        if tenant_id is not None and isinstance(parent, str) and parent:
            self.parents.append((tenant_id, parent, self.file_name, place["parent"]))
        if ok and tenant_id is not None:
            self.tenants.append(DesiredTenant(id=tenant_id, fields=fields, file=self.file_name, line=line))

    def tenant_id(self, value: Any, line: int, raw: str | None) -> str | None:
        if isinstance(value, bool | int | float) or value is None:
            shown = _clip(raw) if raw else "..."
            self.add(
                line,
                f'id must be a string, but YAML reads {shown!r} as {_kind_of(value)}; quote it: id: "{shown}"'
                if value is not None
                else "id is empty; give the tenant a stable id, e.g. `id: acme-corp`",
            )
            return None
        if not isinstance(value, str):
            self.add(line, f"id must be a string, found {_kind_of(value)}")
            return None
        if not value:
            self.add(line, "id is empty; give the tenant a stable id, e.g. `id: acme-corp`")
            return None
        if len(value) > MAX_ID_LENGTH:
            self.add(line, f"id is {len(value)} characters long, over the limit of {MAX_ID_LENGTH}")
            return None
        if not value.isprintable() or _WHITESPACE.search(value):
            self.add(
                line, f"id {_q(value)} contains whitespace or control characters; use e.g. letters, digits and '-'"
            )
            return None
        return value

    # -- field checks (return the plain value, or _BAD after reporting) -------------------------

    def string(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, str):
            self.add(line, f"{key} must be a string, found {_kind_of(value)}; quote it if it is meant as text")
            return _BAD
        return value

    def check_name(self, key: str, value: Any, line: int) -> Any:
        if self.string(key, value, line) is _BAD:
            return _BAD
        if not value.strip():
            self.add(line, "name is empty; every tenant needs a name (unique per project)")
            return _BAD
        if len(value) > MAX_NAME_LENGTH:
            self.add(line, f"name is {len(value)} characters long, over the limit of {MAX_NAME_LENGTH}")
            return _BAD
        return value

    def check_choice(self, key: str, value: Any, line: int) -> Any:
        choices = TENANT_FIELDS[key].choices
        if not isinstance(value, str) or value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            guess = suggest(value, choices) if isinstance(value, str) and value else None
            hint = f"; did you mean {guess!r}?" if guess else ""
            self.add(line, f"{key} must be one of {allowed}, found {_kind_of(value)}{hint}")
            return _BAD
        return value

    def check_parent(self, key: str, value: Any, line: int) -> Any:
        if isinstance(value, bool | int | float):
            self.add(line, f"parent must be a tenant id (a string), found {_kind_of(value)}; quote it")
            return _BAD
        return self.string(key, value, line)

    def check_bool(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, bool):
            self.add(line, f"{key} must be true or false, found {_kind_of(value)}")
            return _BAD
        return value

    def seq(self, key: str, value: Any, line: int, example: str) -> _Seq | None:
        if isinstance(value, _Seq):
            return value
        self.add(line, f"{key} must be a list, e.g. `{key}: [{example}]`, found {_kind_of(value)}")
        return None

    def check_strings(self, key: str, value: Any, line: int) -> Any:
        items = self.seq(key, value, line, "a, b")
        if items is None:
            return _BAD
        out: list[str] = []
        for item, item_line in zip(items.items, items.lines, strict=True):
            if isinstance(item, str) and item:
                out.append(item)
            elif item is not _BAD:
                self.add(item_line, f"{key} items must be non-empty strings, found {_kind_of(item)}")
        return out if len(out) == len(items.items) else _BAD

    def check_domains(self, key: str, value: Any, line: int) -> Any:
        items = self.seq(key, value, line, "acme.com")
        if items is None:
            return _BAD
        out: list[str] = []
        seen: dict[str, int] = {}
        for item, item_line in zip(items.items, items.lines, strict=True):
            if item is _BAD:
                continue
            if not _is_domain(item):
                reason = _domain_problem(item) or f"{_q(item)} is not a valid domain name"
                self.add(item_line, f"{key}: {reason}")
                continue
            folded = item.lower()
            if folded in seen:
                self.add(
                    item_line,
                    f"{key}: duplicate domain {_q(item)} (already listed at line {seen[folded]}; domains ignore case)",
                )
                continue
            seen[folded] = item_line
            out.append(item)
        return out if len(out) == len(items.items) else _BAD

    def check_attributes(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Map):
            self.add(line, f"{key} must be a mapping of attribute name to value, found {_kind_of(value)}")
            return _BAD
        out: dict[str, JSONValue] = {}
        ok = True
        for name, (attr, key_line, value_line, _raw) in value.entries.items():
            if attr is _BAD:
                ok = False
            elif not name:
                self.add(key_line, f"{key}: an attribute name cannot be empty")
                ok = False
            elif isinstance(attr, _Seq):
                bad = [(i, ln) for i, ln in zip(attr.items, attr.lines, strict=True) if not isinstance(i, str)]
                for item, item_line in bad:
                    if item is not _BAD:
                        self.add(
                            item_line,
                            f"{key}.{_clip(name)}: list values must be strings (a multi-select), "
                            f"found {_kind_of(item)}",
                        )
                ok = ok and not bad
                out[name] = list(attr.items)
                if not bad:
                    ok = self.defined_attribute(key, name, out[name], key_line, value_line) and ok
            elif isinstance(attr, _Map):
                self.add(
                    value_line,
                    f"{key}.{_clip(name)} must be a string, number, boolean, null or list of strings, not a mapping",
                )
                ok = False
            elif isinstance(attr, float) and not math.isfinite(attr):
                self.add(value_line, f"{key}.{_clip(name)} must be a finite number, found {attr!r}")
                ok = False
            else:
                out[name] = attr
                ok = self.defined_attribute(key, name, attr, key_line, value_line) and ok
        return out if ok else _BAD

    def defined_attribute(self, key: str, name: str, value: Any, key_line: int, value_line: int) -> bool:
        """With the project's definitions known: is ``name`` defined, and does its type take ``value``?"""
        if self.attributes is None:
            return True
        definition = self.attributes.get(name)
        if definition is None:
            guess = suggest(name, self.attributes)
            known = f"did you mean {guess!r}?" if guess else "defined: " + (", ".join(self.attributes) or "none")
            self.add(
                key_line,
                f"{key}.{_clip(name)} is not a custom attribute of the Descope project ({known}); "
                "define it in the console (Project → Tenants → Custom attributes) and in [descope] "
                "attributes_file (or attributes), or remove it",
            )
            return False
        problem = attribute_value_problem(definition, value)
        if problem is not None:
            guess = suggest(value, definition.values) if isinstance(value, str) and definition.values else None
            hint = f"; did you mean {guess!r}?" if guess else ""
            self.add(value_line, f"{key}.{_clip(name)} ({definition.type}) {problem}{hint}")
            return False
        return True

    def check_settings(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Map):
            self.add(line, f"{key} must be a mapping of session settings, found {_kind_of(value)}")
            return _BAD
        out: dict[str, JSONValue] = {}
        ok = True
        for name, (setting, key_line, value_line, _raw) in value.entries.items():
            expected = SETTINGS_FIELDS.get(name)
            if setting is _BAD:
                ok = False
            elif expected is None:
                self.add(key_line, unknown_key("settings key", name, SETTINGS_FIELDS))
                ok = False
            elif expected is bool:
                if isinstance(setting, bool):
                    out[name] = setting
                else:
                    self.add(value_line, f"settings.{name} must be true or false, found {_kind_of(setting)}")
                    ok = False
            elif expected is int:
                if isinstance(setting, int) and not isinstance(setting, bool) and setting > 0:
                    out[name] = setting
                else:
                    self.add(value_line, f"settings.{name} must be a positive whole number, found {_kind_of(setting)}")
                    ok = False
            elif isinstance(expected, tuple):
                if isinstance(setting, str) and setting in expected:
                    out[name] = setting
                else:
                    guess = suggest(setting, expected) if isinstance(setting, str) and setting else None
                    hint = f"; did you mean {guess!r}?" if guess else ""
                    self.add(
                        value_line,
                        f"settings.{name} must be one of {', '.join(expected)}, found {_kind_of(setting)}{hint}",
                    )
                    ok = False
            else:  # pragma: no cover - the catalogue has only these types
                raise AssertionError(f"unhandled settings type for {name}: {expected!r}")
        return out if ok else _BAD


_CHECK_BY_KIND: Final[dict[Kind, _Check]] = {
    Kind.STRING: _Validator.string,
    Kind.BOOL: _Validator.check_bool,
    Kind.STRING_SET: _Validator.check_strings,
    Kind.DOMAIN_SET: _Validator.check_domains,
    Kind.ATTRIBUTES: _Validator.check_attributes,
    Kind.SETTINGS: _Validator.check_settings,
    Kind.ROLES: _Validator.check_roles,
    Kind.SSO: _Validator.check_sso,
    Kind.PASSWORD_POLICY: _Validator.check_password_policy,
}


def _check_for(name: str) -> _Check:
    if name == "name":
        return _Validator.check_name
    if name == "parent":
        return _Validator.check_parent
    if TENANT_FIELDS[name].choices:
        return _Validator.check_choice
    return _CHECK_BY_KIND[TENANT_FIELDS[name].kind]


_CHECKS: Final[dict[str, _Check]] = {name: _check_for(name) for name in TENANT_FIELDS}


def _is_domain(item: Any) -> bool:
    """A domain name as used in e-mail addresses (``_domain_problem`` says why not)."""
    return (
        type(item) is str
        and len(item) <= _MAX_DOMAIN_LENGTH
        and _DOMAIN.fullmatch(item) is not None
        and not item.rpartition(".")[2].isdigit()
    )


def _domain_problem(value: Any) -> str | None:
    """Why ``value`` is not a domain name (as used in e-mail addresses), or None."""
    if not isinstance(value, str):
        return f"a domain must be a string, found {_kind_of(value)}"
    if not value:
        return "a domain cannot be empty"
    if not value.isascii():
        return f"{_q(value)} is not an ASCII domain name; write internationalised domains in punycode (xn--...)"
    if "@" in value:
        return f"{_q(value)} looks like an e-mail address; write only the domain after '@'"
    if len(value) > 253:
        return f"{_q(value)} is longer than 253 characters"
    labels = value.lower().split(".")
    if len(labels) < 2 or not all(_HOSTNAME_LABEL.fullmatch(label) for label in labels):
        return (
            f"{_q(value)} is not a valid domain name (dot-separated labels of letters, digits and '-', e.g. acme.com)"
        )
    if labels[-1].isdigit():
        return f"{_q(value)} is not a domain name (the last label is all digits)"
    return None
