"""The checks of a tenant's sub-resources in tenants.yaml: ``roles``, ``sso`` and ``passwordPolicy``.

Apart from ``core.schema`` because they are a vocabulary of their own (Descope's role, SAML, OIDC and password
settings names, from ``descope_api``) and would double that module. ``schema._Validator`` mixes them in, so a
problem reads like every other one: file:line and what to write instead.

What the planner gets, in ``DesiredTenant.fields`` (plain JSON values, as written after validation):

- ``roles``: a list of ``{"name", "description"?, "permissionNames"?: [str], "default"?: bool, "private"?: bool}``,
  names unique in the tenant ignoring case;
- ``sso``: a list of ``{"ssoId": str, "displayName"?, "domains"?: [str], "saml": {...} | "oidc": {...}}``, one
  protocol each, ``ssoId`` unique in the tenant. An entry without ``ssoId`` (or ``ssoId: ""``) is the tenant's
  default SSO configuration, which Descope addresses with no ssoId (``descope_api.SSO_DEFAULT_ID``): it is kept
  as ``"ssoId": ""``, at most one per tenant, and takes no ``displayName`` (only ``settings/new``, which makes
  the further configurations, sets one). A secret (``descope_api.SSO_SECRET_KEYS``) is the reference
  ``{"env": NAME}`` or ``{"file": /absolute/path}``, never a value: the engine reads it at write time, so no
  secret is ever in tenants.yaml, in a plan or in a message (a literal is refused without being repeated);
- ``passwordPolicy``: a mapping of ``descope_api.PASSWORD_SETTINGS_DEFAULTS`` keys (booleans, and whole numbers
  within ``model.PASSWORD_POLICY_BOUNDS``).

A key left out is not managed; ``roles: []`` and ``sso: []`` manage the list and want it empty. A sub-tenant
(``parent:``) may set its own ``sso`` and ``passwordPolicy``: Descope keeps them per tenant, and a tenant with
no password settings of its own reads its parent's, then the project's, so leaving the key out keeps inheriting.
A ``roleName`` or ``defaultSSORoles`` entry may name a role of the tenant or of the project (which tenants.yaml
does not declare); only a name that differs from one of the tenant's declared roles by case alone is refused,
as a typo Descope would not forgive (role names are looked up exactly).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from controller.core.config_keys import (
    _WHITESPACE,
    BOOL_KEYS,
    OBJECT_KEYS,
    OPTIONAL_STRING_KEYS,
    PASSWORD_POLICY_TYPES,
    SAML_KEYS,
    SAML_MANUAL,
    SAML_NOT_WITH_METADATA,
    STRING_LIST_KEYS,
    STRING_MAP_KEYS,
    URL_KEYS,
    _plain,
    secret_problem,
    url_problem,
)
from controller.core.model import (
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    ROLE_KEYS,
    SSO_KEYS,
    JSONValue,
)
from controller.core.problems import _clip, _q, unknown_key
from controller.core.yaml_tree import _BAD, _kind_of, _Map, _Seq
from controller.descope_api import (
    SSO_DEFAULT_ID,
    SSO_OIDC_KEYS,
    SSO_SECRET_KEYS,
)


class _ConfigChecks:
    """The sub-resource checks ``schema._Validator`` runs; each returns the plain value, or ``_BAD`` after reporting."""

    # set by schema._Validator
    add: Callable[[int | None, str], None]
    check_domains: Callable[[str, Any, int], Any]
    role_references: list[tuple[str, int, str]]  # (role name, line, where) named by this tenant's SSO

    # -- roles ---------------------------------------------------------------------------------

    def check_roles(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Seq):
            self.add(line, f"{key} must be a list of roles (`- name: Tenant Admin`), found {_kind_of(value)}")
            return _BAD
        out: list[JSONValue] = []
        seen: dict[str, tuple[str, int]] = {}  # casefolded name -> (name, line)
        ok = True
        for index, (item, item_line) in enumerate(zip(value.items, value.lines, strict=True)):
            if item is _BAD:
                ok = False
                continue
            if not isinstance(item, _Map):
                self.add(item_line, f"each role must be a mapping (`- name: ...`), found {_kind_of(item)}")
                ok = False
                continue
            role = self._role(item, item_line, index)
            if role is _BAD:
                ok = False
                continue
            name = str(role["name"])
            first = seen.get(name.casefold())
            if first is not None:
                case = "" if first[0] == name else f" as {_q(first[0])}"
                self.add(
                    item.entries["name"][2],
                    f"duplicate role {_q(name)}: also declared at line {first[1]}{case} "
                    "(role names are unique in a tenant whatever their case)",
                )
                ok = False
                continue
            seen[name.casefold()] = (name, item.entries["name"][2])
            out.append(role)
        return out if ok else _BAD

    def _role(self, item: _Map, line: int, index: int) -> Any:
        out: dict[str, JSONValue] = {}
        ok = True
        raw_name = item.entries.get("name", (None,))[0]
        where = f"role {_q(raw_name)}" if isinstance(raw_name, str) and raw_name.strip() else f"role #{index + 1}"
        for name, (field, key_line, value_line, _raw) in item.entries.items():
            if field is _BAD:
                ok = False
            elif name not in ROLE_KEYS:
                self.add(key_line, unknown_key("role key", name, ROLE_KEYS))
                ok = False
            elif name == "name":
                if not isinstance(field, str) or not field.strip():
                    self.add(value_line, f"a role's name must be a non-empty string, found {_kind_of(field)}")
                    ok = False
                elif len(field) > MAX_NAME_LENGTH:
                    self.add(
                        value_line, f"role name is {len(field)} characters long, over the limit of {MAX_NAME_LENGTH}"
                    )
                    ok = False
                else:
                    out[name] = field
            elif name == "description":
                ok = (
                    self._put(out, name, _string(field), value_line, f"{where}: description must be a string", field)
                    and ok
                )
            elif name == "permissionNames":
                ok = (
                    self._put(out, name, self._strings(f"{where}: permissionNames", field, value_line), None, "") and ok
                )
            else:  # default, private
                ok = (
                    self._put(out, name, _boolean(field), value_line, f"{where}: {name} must be true or false", field)
                    and ok
                )
        if "name" not in item.entries:
            self.add(line, f"{where} has no `name:` (required: roles are keyed by name)")
            ok = False
        return out if ok else _BAD

    # -- sso -----------------------------------------------------------------------------------

    def check_sso(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Seq):
            self.add(line, f"{key} must be a list of SSO configurations (`- ssoId: okta`), found {_kind_of(value)}")
            return _BAD
        out: list[JSONValue] = []
        seen: dict[str, int] = {}
        ok = True
        for index, (item, item_line) in enumerate(zip(value.items, value.lines, strict=True)):
            if item is _BAD:
                ok = False
                continue
            if not isinstance(item, _Map):
                self.add(
                    item_line, f"each SSO configuration must be a mapping (`- ssoId: ...`), found {_kind_of(item)}"
                )
                ok = False
                continue
            entry = self._sso_entry(item, item_line, index)
            if entry is _BAD:
                ok = False
                continue
            sso_id = str(entry["ssoId"])
            if sso_id in seen:
                at = item.entries["ssoId"][2] if "ssoId" in item.entries else item_line
                what = f"ssoId {_q(sso_id)}" if sso_id else "the default SSO configuration (no ssoId)"
                self.add(at, f"duplicate {what}: also declared at line {seen[sso_id]} (one entry per configuration)")
                ok = False
                continue
            seen[sso_id] = item.entries["ssoId"][2] if "ssoId" in item.entries else item_line
            out.append(entry)
        return out if ok else _BAD

    def _sso_entry(self, item: _Map, line: int, index: int) -> Any:
        entries = item.entries
        ok = True
        sso_id: str | None = SSO_DEFAULT_ID
        if "ssoId" in entries:
            sso_id = self._sso_id(entries["ssoId"][0], entries["ssoId"][2])
            ok = sso_id is not None
        if sso_id is None:
            where = f"SSO configuration #{index + 1}"
        else:
            where = f"SSO configuration {_q(sso_id)}" if sso_id else "the default SSO configuration (no ssoId)"
        out: dict[str, JSONValue] = {"ssoId": sso_id or SSO_DEFAULT_ID}
        protocols = [name for name in entries if name in ("saml", "oidc")]  # in the order written
        for name, (field, key_line, value_line, _raw) in entries.items():
            if field is _BAD:
                ok = False
            elif name not in SSO_KEYS:
                self.add(key_line, unknown_key("SSO key", name, SSO_KEYS))
                ok = False
            elif name == "ssoId":
                continue
            elif name == "displayName":
                if sso_id == SSO_DEFAULT_ID:
                    self.add(
                        key_line,
                        f"{where} takes no displayName: Descope names only the further configurations it "
                        "creates (give this entry an ssoId to make one)",
                    )
                    ok = False
                elif not isinstance(field, str) or not field.strip():
                    self.add(value_line, f"{where}: displayName must be a non-empty string, found {_kind_of(field)}")
                    ok = False
                else:
                    out[name] = field
            elif name == "domains":
                domains = self.check_domains("domains", field, value_line)
                ok = self._put(out, name, domains, None, "") and ok
            elif name == "saml" or name == "oidc":
                if len(protocols) > 1 and name == protocols[1]:
                    self.add(
                        key_line,
                        f"{where} has both saml and oidc; a configuration is one or the other (Descope keeps the "
                        "protocol last written): split it into two entries with their own ssoId",
                    )
                    ok = False
                    continue
                check = self._saml if name == "saml" else self._oidc
                ok = self._put(out, name, check(f"{where}: {name}", field, value_line), None, "") and ok
        if not protocols:
            self.add(line, f"{where} needs `saml:` or `oidc:` (exactly one)")
            ok = False
        return out if ok else _BAD

    def _sso_id(self, value: Any, line: int) -> str | None:
        if not isinstance(value, str):
            quote = "; quote it" if isinstance(value, bool | int | float) else ""
            self.add(line, f"ssoId must be a string, found {_kind_of(value)}{quote}")
            return None
        if len(value) > MAX_ID_LENGTH:
            self.add(line, f"ssoId is {len(value)} characters long, over the limit of {MAX_ID_LENGTH}")
            return None
        if not value.isprintable() or _WHITESPACE.search(value):
            self.add(line, f"ssoId {_q(value)} contains whitespace or control characters")
            return None
        return value

    def _saml(self, where: str, value: Any, line: int) -> Any:
        fields = self._settings(where, value, line, SAML_KEYS, "SAML key")
        if fields is None:
            return _BAD
        out, present, ok = fields
        if "idpMetadataUrl" in present:
            both = [k for k in SAML_NOT_WITH_METADATA if k in present]
            if both:
                self.add(
                    present[both[0]],
                    f"{where} has idpMetadataUrl and {', '.join(both)}: give either idpMetadataUrl (the IdP's "
                    "fields come from its metadata) or idpUrl + entityId + idpCert, not both",
                )
                ok = False
        else:
            missing = [k for k in SAML_MANUAL if k not in present]
            if missing:
                self.add(
                    line if not present else min(present.values()),
                    f"{where} needs idpMetadataUrl, or all of idpUrl + entityId + idpCert (missing: "
                    f"{', '.join(missing)})",
                )
                ok = False
        return out if ok else _BAD

    def _oidc(self, where: str, value: Any, line: int) -> Any:
        fields = self._settings(where, value, line, SSO_OIDC_KEYS, "OIDC key")
        if fields is None:
            return _BAD
        out, _present, ok = fields
        return out if ok else _BAD

    def _settings(
        self, where: str, value: Any, line: int, keys: tuple[str, ...], what: str
    ) -> tuple[dict[str, JSONValue], dict[str, int], bool] | None:
        """The keys of a ``saml:`` or ``oidc:`` mapping, each checked by its kind; None if it is not a mapping."""
        if not isinstance(value, _Map):
            self.add(line, f"{where} must be a mapping of its settings, found {_kind_of(value)}")
            return None
        out: dict[str, JSONValue] = {}
        present: dict[str, int] = {}  # key -> line of the key
        ok = True
        for name, (field, key_line, value_line, _raw) in value.entries.items():
            if field is _BAD:
                ok = False
                continue
            if name not in keys:
                self.add(key_line, unknown_key(what, name, keys))
                ok = False
                continue
            present[name] = key_line
            path = f"{where}.{name}"
            if name in SSO_SECRET_KEYS:
                problem = secret_problem(path, field)
                if problem is not None:
                    self.add(value_line, problem)
                    ok = False
                else:
                    out[name] = _plain(field)
            elif name in URL_KEYS:
                problem = url_problem(field)
                if problem is not None:
                    self.add(
                        value_line,
                        f"{path} must be an http(s) URL with a host, e.g. https://idp.example.com/x; {problem}",
                    )
                    ok = False
                else:
                    out[name] = field
            elif name in STRING_LIST_KEYS:
                items = self._strings(path, field, value_line)
                if items is not _BAD and name == "defaultSSORoles":
                    self.role_references.extend((role, value_line, path) for role in items)
                ok = self._put(out, name, items, None, "") and ok
            elif name in STRING_MAP_KEYS:
                ok = self._put(out, name, self._string_map(path, field, value_line), None, "") and ok
            elif name == "roleMappings":
                ok = self._put(out, name, self._role_mappings(path, field, value_line), None, "") and ok
            elif name in BOOL_KEYS:
                ok = self._put(out, name, _boolean(field), value_line, f"{path} must be true or false", field) and ok
            elif name in OBJECT_KEYS:
                plain = _plain(field) if isinstance(field, _Map) else _BAD
                shown = value_line if not isinstance(field, _Map) else None  # else: a part of it was reported
                ok = self._put(out, name, plain, shown, f"{path} must be a mapping", field) and ok
            elif name in OPTIONAL_STRING_KEYS:
                ok = self._put(out, name, _string(field), value_line, f"{path} must be a string", field) and ok
            else:  # names, ids, certificates: non-empty text
                text = field if isinstance(field, str) and field.strip() else _BAD
                ok = self._put(out, name, text, value_line, f"{path} must be a non-empty string", field) and ok
        return out, present, ok

    def _role_mappings(self, path: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Seq):
            self.add(line, f"{path} must be a list of `{{groups: [...], roleName: ...}}`, found {_kind_of(value)}")
            return _BAD
        out: list[JSONValue] = []
        ok = True
        for index, (item, item_line) in enumerate(zip(value.items, value.lines, strict=True)):
            where = f"{path}[{index}]"
            if item is _BAD:
                ok = False
                continue
            if not isinstance(item, _Map):
                self.add(
                    item_line, f"{where} must be a mapping `{{groups: [...], roleName: ...}}`, found {_kind_of(item)}"
                )
                ok = False
                continue
            mapping: dict[str, JSONValue] = {}
            for name, (field, key_line, value_line, _raw) in item.entries.items():
                if field is _BAD:
                    ok = False
                elif name == "groups":
                    groups = self._strings(f"{where}.groups", field, value_line)
                    if groups is not _BAD and not groups:
                        self.add(value_line, f"{where}.groups is empty; list the IdP groups that get the role")
                        groups = _BAD
                    ok = self._put(mapping, name, groups, None, "") and ok
                elif name == "roleName":
                    if isinstance(field, str) and field.strip():
                        mapping[name] = field
                        self.role_references.append((field, value_line, f"{where}.roleName"))
                    else:
                        self.add(value_line, f"{where}.roleName must be a role's name, found {_kind_of(field)}")
                        ok = False
                else:
                    self.add(key_line, unknown_key("role mapping key", name, ("groups", "roleName")))
                    ok = False
            missing = [k for k in ("groups", "roleName") if k not in item.entries]
            if missing:
                self.add(item_line, f"{where} needs {' and '.join(missing)}")
                ok = False
            out.append(mapping)
        return out if ok else _BAD

    # -- password policy ---------------------------------------------------------------------

    def check_password_policy(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Map):
            self.add(line, f"{key} must be a mapping of password settings, found {_kind_of(value)}")
            return _BAD
        out: dict[str, JSONValue] = {}
        ok = True
        for name, (field, key_line, value_line, _raw) in value.entries.items():
            expected = PASSWORD_POLICY_TYPES.get(name)
            if field is _BAD:
                ok = False
            elif expected is None:
                self.add(key_line, unknown_key(f"{key} key", name, PASSWORD_POLICY_TYPES))
                ok = False
            elif expected is bool:
                ok = (
                    self._put(out, name, _boolean(field), value_line, f"{key}.{name} must be true or false", field)
                    and ok
                )
            else:
                assert isinstance(expected, tuple)
                low, high = expected
                if isinstance(field, int) and not isinstance(field, bool) and low <= field <= high:
                    out[name] = field
                else:
                    self.add(
                        value_line, f"{key}.{name} must be a whole number from {low} to {high}, found {_kind_of(field)}"
                    )
                    ok = False
        return out if ok else _BAD

    # -- across the tenant's keys ------------------------------------------------------------------

    def check_role_references(self, fields: Mapping[str, JSONValue]) -> bool:
        """A role the tenant's SSO names that differs only by case from one it declares is a typo: refuse it."""
        roles = fields.get("roles")
        if not isinstance(roles, list):
            return True  # no roles declared (or refused already): any name may be a project role
        declared = {str(role["name"]) for role in roles}
        folded = {name.casefold(): name for name in declared}
        ok = True
        for name, line, where in self.role_references:
            meant = folded.get(name.casefold())
            if name not in declared and meant is not None:
                self.add(
                    line,
                    f"{where} names the role {_q(name)}, but this tenant declares {_q(meant)}; role names are "
                    "matched exactly: write it as declared",
                )
                ok = False
        return ok

    # -- helpers -----------------------------------------------------------------------------------

    def _put(
        self, out: dict[str, JSONValue], name: str, value: Any, line: int | None, message: str, field: Any = None
    ) -> bool:
        """Keep ``value`` under ``name``; for ``_BAD``, report ``message`` and what ``field`` was at ``line``.

        ``line`` None: the problem was already reported."""
        if value is _BAD:
            if line is not None:
                self.add(line, f"{message}, found {_kind_of(field)}")
            return False
        out[name] = value
        return True

    def _strings(self, path: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Seq):
            self.add(line, f"{path} must be a list of strings, e.g. [a, b], found {_kind_of(value)}")
            return _BAD
        out: list[str] = []
        for item, item_line in zip(value.items, value.lines, strict=True):
            if isinstance(item, str) and item:
                out.append(item)
            elif item is not _BAD:
                self.add(item_line, f"{path} items must be non-empty strings, found {_kind_of(item)}")
        return out if len(out) == len(value.items) else _BAD

    def _string_map(self, path: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Map):
            self.add(
                line, f"{path} must be a mapping of attribute names, e.g. {{email: email}}, found {_kind_of(value)}"
            )
            return _BAD
        out: dict[str, JSONValue] = {}
        ok = True
        for name, (field, key_line, value_line, _raw) in value.entries.items():
            if field is _BAD:
                ok = False
            elif not name:
                self.add(key_line, f"{path}: a key cannot be empty")
                ok = False
            elif isinstance(field, str):
                out[name] = field
            else:
                self.add(value_line, f"{path}.{_clip(name)} must be a string, found {_kind_of(field)}")
                ok = False
        return out if ok else _BAD


def _string(value: Any) -> Any:
    return value if isinstance(value, str) else _BAD


def _boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else _BAD
