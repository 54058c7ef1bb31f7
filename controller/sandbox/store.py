"""The sandbox's tenants and their settings, with Descope's rules for changing them, behind one lock.

Records are never changed in place: a change builds a new dict (copy-on-write). That lets readers and
the state-file writer take a cheap list of references under the lock and do the slow work (rendering,
JSON) outside it, which matters with 100k tenants.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

from controller.core.gc_pause import paused_gc

from .attributes import Catalogue, catalogue_wire, checked, parse_catalogue
from .fields import (
    parse_bool,
    parse_required_string,
    parse_string,
    parse_strings,
    patch_fields,
    settings_overwrite,
    tenant_fields,
)
from .persist import SandboxStateError, read_state, write_state
from .records import (
    DEFAULT_SETTINGS,
    FIELD_ORDER,
    ID_ALPHABET,
    ID_LENGTH,
    copy_snapshot_entry,
    effective_settings,
    ordered,
    render,
    seed_entry,
)
from .search import SearchFilter
from .tenant_config import EMPTY, Outcome, Scope, TenantConfig, config_dump, parse_config_entry
from .wire import ApiError, conflict, invalid, refused, tenant_not_found

Record = dict[str, Any]
T = TypeVar("T")
ScopeOf = Callable[[str], Scope]
PROJECT: Final = ""  # the configuration key of the project's own roles and password settings
# re-exported: the server and routes take a record's shapes from here
__all__ = ["DEFAULT_SETTINGS", "FIELD_ORDER", "PROJECT", "TenantStore", "copy_snapshot_entry", "paused_gc", "render"]


class TenantStore:
    """All tenants of the sandbox project; each public write validates, applies, then saves the state file."""

    def __init__(
        self,
        *,
        state_file: Path | None,
        id_random: random.Random,
        clock: Callable[[], float] = time.time,
        attributes: Catalogue | None = None,
    ) -> None:
        """``attributes``, when given, replaces the catalogue kept in the state file."""
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()  # serialises file writes; taken before (never inside) _lock
        self._tenants: dict[str, Record] = {}
        self._names: dict[str, str] = {}  # casefolded name -> tenant id
        self._settings: dict[str, dict[str, Any]] = {}  # only what was configured, per tenant id
        self._config: dict[str, TenantConfig] = {}  # SSO, roles, password settings; PROJECT: the project's
        self._generation = 0
        self._saved_generation = 0
        self._path = state_file
        self._id_random = id_random
        self._clock = clock
        self._catalogue: Catalogue | None = None  # replaced whole (never changed in place): read without the lock
        if state_file is not None:
            self._load(state_file)
        if attributes is not None:
            self._catalogue = attributes
            self._persist(self._changed())

    # ----- reads -----------------------------------------------------------------------------------
    def all(self) -> list[Record]:
        with self._lock:
            return list(self._tenants.values())

    def get(self, tenant_id: str) -> Record:
        with self._lock:
            return self._existing(tenant_id)

    def search(self, wanted: SearchFilter) -> list[Record]:
        return [record for record in self.all() if wanted.matches(record)]

    def settings(self, tenant_id: str) -> dict[str, Any]:
        with self._lock:
            record = self._existing(tenant_id)
            own = self._settings.get(tenant_id, {})
        return effective_settings(record, own)

    def snapshot(self) -> list[Record]:
        """Full records including effective settings (the shapes are shared: callers must not mutate them)."""
        with self._lock:
            records = list(self._tenants.values())
            settings = dict(self._settings)
            configs = dict(self._config)
        return [
            {
                **record,
                "settings": effective_settings(record, settings.get(record["id"], {})),
                **config_dump(configs.get(record["id"], EMPTY)),
            }
            for record in records
        ]

    def project_dump(self) -> Record:
        """The project's own roles and password settings, as ``config_dump`` gives them (empty: none)."""
        with self._lock:
            return config_dump(self._config.get(PROJECT, EMPTY))

    def read_config(self, fn: Callable[[ScopeOf, Iterable[str]], T]) -> T:
        """Run ``fn`` under the lock with a way to get any tenant's ``Scope`` (PROJECT: the project's)
        and the tenant ids in creation order.

        ``fn`` must not keep what it reads beyond its return value; an unknown tenant is the tenant 404.
        """
        with self._lock:
            return fn(self._scope, self._tenants.keys())

    def write_config(self, tenant_id: str, change: Callable[[Scope], Outcome]) -> object:
        """Apply one configuration write of a tenant (PROJECT: the project) and return its answer."""
        with self._lock:
            outcome = change(self._scope(tenant_id))
            self._config[tenant_id] = outcome.config
            if outcome.tenant_changes:
                self._put({**self._tenants[tenant_id], **outcome.tenant_changes})
            generation = self._changed()
        self._persist(generation)
        return outcome.answer

    def __len__(self) -> int:
        with self._lock:
            return len(self._tenants)

    # ----- writes ----------------------------------------------------------------------------------
    def create(self, body: Mapping[str, Any]) -> str:
        fields = tenant_fields(body)
        wanted_id = parse_string(body.get("id"), "id")
        parent = parse_string(body.get("parent"), "parent")
        who = wanted_id or f"named {fields['name']!r}"
        fields["customAttributes"] = checked(self._catalogue, who, fields["customAttributes"])
        with self._lock:
            tenant_id = wanted_id or self._new_id()
            if tenant_id in self._tenants:
                raise conflict(f"A tenant with id {tenant_id} already exists")
            self._check_name_free(fields["name"], tenant_id)
            if parent:
                self._link_child(parent, tenant_id)
            record = {"id": tenant_id, **fields, "createdTime": int(self._clock()), "authType": "none"}
            record.update(domains=[], defaultRoles=[], parent=parent, successors=[])
            self._put(ordered(record))
            generation = self._changed()
        self._persist(generation)
        return tenant_id

    def update(self, body: Mapping[str, Any]) -> None:
        """Full overwrite of the create fields; parent, default roles, SSO fields and settings are kept."""
        tenant_id = parse_required_string(body.get("id"), "id")
        fields = tenant_fields(body)
        fields["customAttributes"] = checked(self._catalogue, tenant_id, fields["customAttributes"])
        self._modify(tenant_id, fields)

    def patch(self, body: Mapping[str, Any]) -> None:
        tenant_id = parse_required_string(body.get("id"), "id")
        fields = patch_fields(body)
        if "customAttributes" in fields:
            fields["customAttributes"] = checked(self._catalogue, tenant_id, fields["customAttributes"])
        self._modify(tenant_id, fields)

    def set_default_roles(self, body: Mapping[str, Any]) -> None:
        tenant_id = parse_required_string(body.get("id"), "id")
        self._modify(tenant_id, {"defaultRoles": parse_strings(body.get("defaultRoles"), "defaultRoles")})

    def delete(self, body: Mapping[str, Any]) -> None:
        tenant_id = parse_required_string(body.get("id"), "id")
        parse_bool(body.get("cascade"), "cascade")  # about users and keys, which the sandbox does not have
        with self._lock:
            record = self._existing(tenant_id)
            if record["successors"]:
                children = ", ".join(record["successors"])
                raise refused(f"Tenant {tenant_id} still has child tenants ({children}); delete them first")
            del self._tenants[tenant_id]
            del self._names[record["name"].casefold()]
            self._settings.pop(tenant_id, None)
            self._config.pop(tenant_id, None)
            parent = self._tenants.get(record["parent"])
            if parent is not None:
                successors = [child for child in parent["successors"] if child != tenant_id]
                self._put({**parent, "successors": successors})
            generation = self._changed()
        self._persist(generation)

    def set_settings(self, body: Mapping[str, Any]) -> None:
        """Overwrite every setting, as Descope does: an omitted key is reset, domains and authType included."""
        tenant_id = parse_required_string(body.get("tenantId"), "tenantId")
        shared, own = settings_overwrite(body)
        with self._lock:
            record = self._existing(tenant_id)
            self._put({**record, **shared})
            self._settings[tenant_id] = own
            generation = self._changed()
        self._persist(generation)

    def seed(self, entries: Iterable[object], *, replace: bool, project: object = None) -> int:
        """Add or replace whole records by id (``replace`` drops all others first); returns how many.

        ``project``, when given, replaces the project's own roles and password settings.
        """
        now = int(self._clock())
        catalogue = self._catalogue
        with paused_gc():
            parsed = [seed_entry(entry, now, self._new_config_id) for entry in entries]
            for record, _own, _config in parsed:  # fresh records, not shared yet: set in place
                record["customAttributes"] = checked(catalogue, record["id"], record["customAttributes"])
        project_config = self._project_entry(project, now)
        with self._lock:
            self._install(parsed, replace=replace, project=project_config)
            generation = self._changed()
        self._persist(generation)
        return len(parsed)

    def save(self) -> None:
        """Write the state file now if anything changed since the last write."""
        with self._lock:
            generation = self._generation
        self._persist(generation)

    def attributes(self) -> Catalogue | None:
        """The project's custom attribute definitions; None: there are none and any key is accepted."""
        return self._catalogue

    def set_attributes(self, catalogue: Catalogue | None) -> None:
        """Replace the catalogue; values already stored stay as they are, later writes are checked."""
        with self._lock:
            self._catalogue = catalogue
            generation = self._changed()
        self._persist(generation)

    # ----- internals (callers hold _lock unless said otherwise) ------------------------------------
    def _existing(self, tenant_id: str) -> Record:
        record = self._tenants.get(tenant_id)
        if record is None:
            raise tenant_not_found(tenant_id)
        return record

    def _modify(self, tenant_id: str, fields: Mapping[str, Any]) -> None:
        with self._lock:
            record = self._existing(tenant_id)
            if "name" in fields:
                self._check_name_free(fields["name"], tenant_id)
            self._put({**record, **fields})
            generation = self._changed()
        self._persist(generation)

    def _check_name_free(self, name: str, tenant_id: str) -> None:
        holder = self._names.get(name.casefold())
        if holder is not None and holder != tenant_id:
            raise conflict(f"A tenant with name {name!r} already exists ({holder})")

    def _link_child(self, parent_id: str, child_id: str) -> None:
        parent = self._tenants.get(parent_id)
        if parent is None:
            raise refused(f"Parent tenant {parent_id} does not exist")
        self._put({**parent, "successors": [*parent["successors"], child_id]})

    def _put(self, record: Record) -> None:
        old = self._tenants.get(record["id"])
        if old is not None and old["name"] != record["name"]:
            del self._names[old["name"].casefold()]
        self._tenants[record["id"]] = record
        self._names[record["name"].casefold()] = record["id"]

    def _scope(self, tenant_id: str) -> Scope:
        tenant = None if tenant_id == PROJECT else self._existing(tenant_id)
        project = self._config.get(PROJECT, EMPTY)
        config = self._config.get(tenant_id, EMPTY)
        return Scope(tenant, config, project, self._new_config_id, int(self._clock()))

    def _new_config_id(self, prefix: str) -> str:
        # Role and SSO ids: a prefix and random letters and digits, 28 characters in all, like tenant ids.
        return prefix + "".join(self._id_random.choices(ID_ALPHABET, k=ID_LENGTH + 1 - len(prefix)))

    def _project_entry(self, project: object, now: int) -> TenantConfig | None:
        if project is None:
            return None
        if not isinstance(project, dict):
            raise invalid("project", "an object")
        return parse_config_entry(project, PROJECT, now, self._new_config_id)

    def _new_id(self) -> str:
        while True:
            tenant_id = "T" + "".join(self._id_random.choices(ID_ALPHABET, k=ID_LENGTH))
            if tenant_id not in self._tenants:
                return tenant_id

    def _changed(self) -> int:
        self._generation += 1
        return self._generation

    def _install(
        self,
        parsed: list[tuple[Record, dict[str, Any], TenantConfig]],
        *,
        replace: bool,
        project: TenantConfig | None = None,
    ) -> None:
        """Validate the merged result as a whole, then swap it in, so a bad seed changes nothing."""
        tenants = {} if replace else dict(self._tenants)
        settings = {} if replace else dict(self._settings)
        configs = {} if replace else dict(self._config)
        for record, own, config in parsed:
            tenants[record["id"]] = record
            settings.pop(record["id"], None)
            configs.pop(record["id"], None)
            if own:
                settings[record["id"]] = own
            if not config.is_empty():
                configs[record["id"]] = config
        if replace and project is None and PROJECT in self._config:
            configs[PROJECT] = self._config[PROJECT]  # a replacing seed of tenants keeps the project's own
        if project is not None:
            configs[PROJECT] = project
        names = _name_index(tenants.values())
        _link_successors(tenants)
        self._tenants, self._names, self._settings, self._config = tenants, names, settings, configs

    def _load(self, path: Path) -> None:
        document = read_state(path)
        if document is None:
            return
        now = int(self._clock())
        try:
            catalogue = parse_catalogue(document.attributes)
            with paused_gc():
                parsed = [seed_entry(entry, now, self._new_config_id) for entry in document.tenants]
                for record, _own, _config in parsed:  # the sandbox's own record: not checked, only nulls dropped
                    record["customAttributes"] = checked(None, record["id"], record["customAttributes"])
            project = self._project_entry(document.project, now)
            with self._lock:
                self._install(parsed, replace=True, project=project or EMPTY)
                self._catalogue = catalogue
        except ApiError as exc:
            raise SandboxStateError(f"sandbox state file {path} is corrupt: {exc.message}") from exc

    def _persist(self, generation: int) -> None:
        """Write the state file unless a later write already covered ``generation`` (not holding _lock).

        Concurrent writers coalesce: whoever gets the save lock writes the newest state, and the ones
        queued behind it find their change already on disk.
        """
        if self._path is None:
            return
        with self._save_lock:
            if self._saved_generation >= generation:
                return
            with self._lock:
                latest = self._generation
                records = list(self._tenants.values())
                settings = dict(self._settings)
                configs = dict(self._config)
                catalogue = self._catalogue
            # The compact answer shape keeps a 100k-tenant file small; loading fills the omitted fields back in.
            entries = [
                _file_entry(record, settings.get(record["id"]), configs.get(record["id"], EMPTY)) for record in records
            ]
            project = config_dump(configs.get(PROJECT, EMPTY))
            write_state(self._path, entries, catalogue_wire(catalogue), project or None)
            self._saved_generation = latest


def _file_entry(record: Record, settings: dict[str, Any] | None, config: TenantConfig) -> Record:
    entry = render(record)
    entry.pop("successors", None)  # derived from the parents when the file is loaded
    if settings:
        entry["settings"] = settings
    entry.update(config_dump(config))
    return entry


def _name_index(records: Iterable[Record]) -> dict[str, str]:
    names: dict[str, str] = {}
    for record in records:
        key = record["name"].casefold()
        if key in names:
            raise conflict(f"Tenants {names[key]} and {record['id']} have the same name {record['name']!r}")
        names[key] = record["id"]
    return names


def _link_successors(tenants: dict[str, Record]) -> None:
    children: dict[str, list[str]] = {}
    for record in tenants.values():
        parent = record["parent"]
        if not parent:
            continue
        if parent not in tenants or parent == record["id"]:
            raise refused(f"Parent tenant {parent} of {record['id']} does not exist")
        children.setdefault(parent, []).append(record["id"])
    for tenant_id, record in list(tenants.items()):
        successors = children.get(tenant_id, [])
        if record["successors"] != successors:
            tenants[tenant_id] = {**record, "successors": successors}
