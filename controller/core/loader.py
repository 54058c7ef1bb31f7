"""Turn the bytes of tenants.yaml file(s) into a validated DesiredState, or every problem with file:line.

The loader is pure (bytes in, data out) and treats its input as hostile:

- sizes are checked before any parsing (``LoadLimits``);
- the document is composed from the parser's events with bounds on nesting, alias expansion, nodes and
  numbers, scalars mean what they mean in YAML 1.1 and duplicate keys are reported
  (``controller.core.yaml_events``);
- each tenant is checked against the field catalogue, ids are unique and names unique whatever their
  case (``controller.core.schema``);
- ids and names a reviewer could not tell apart are refused (``controller.core.cross_file``).

Each tenant is validated as soon as its mapping ends, so a large file is never held as a whole
tree; the cyclic garbage collector is paused during a load (it only slows down building millions
of small acyclic objects).

A valid, plainly written file is read by ``controller.core.loader_fast`` first (yaml-rs into plain data,
the same checks, the same result in about half the time); whatever that cannot vouch for is read as above,
so every problem is reported from this path, with its file:line.

A file that fails is rejected whole: ``parse_tenant_files`` either returns the complete state or
raises ``TenantsFileInvalid`` with all the problems found (up to ``LoadLimits.max_problems``),
sorted by file and line. Cross-file rules (unique ids, unique names whatever their case, declared parents, no parent
cycles) run over all files together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextlib import suppress

from controller.core.gc_pause import paused_gc
from controller.core.loader_fast import ItemCache, fast_state, fast_state_reusing
from controller.core.model import DesiredState, DesiredTenant
from controller.core.problems import LoadLimits, _clip, _Problems, _Stop, suggest
from controller.core.schema import TENANT_KEYS, TOP_LEVEL_KEYS, _Validator
from controller.core.yaml_events import _compose_file
from controller.core.yaml_tree import _FAILED
from controller.descope_api import AttributeDefinition
from controller.errors import Problem, TenantsFileInvalid

__all__ = [
    "TENANT_KEYS",
    "TOP_LEVEL_KEYS",
    "ItemCache",
    "LoadLimits",
    "parse_revision",
    "parse_tenant_files",
    "source_digest",
    "suggest",
]


# --------------------------------------------------------------------------------------------
# Public helpers


def source_digest(files: Mapping[str, bytes]) -> str:
    """A sha256 over the sorted file names and contents: the revision id of a local source."""
    digest = hashlib.sha256()
    for name in sorted(files):
        encoded = name.encode("utf-8")
        content = files[name]
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
        digest.update(len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.hexdigest()


def parse_tenant_files(
    files: Mapping[str, bytes],
    *,
    limits: LoadLimits = LoadLimits(),  # noqa: B008 - frozen, so one shared default is safe
    attributes: Mapping[str, AttributeDefinition] | None = None,
    fast: bool = True,
) -> DesiredState:
    """Parse and validate every tenants file (in sorted name order) into one DesiredState.

    ``attributes``, the project's custom attribute definitions when known, makes an undefined key or a
    value of the wrong type a problem here, as Descope would refuse it at apply time.
    Raises ``TenantsFileInvalid`` listing every problem found; never returns a partial state.
    ``fast`` first tries ``core.loader_fast`` (the same result in about half the time, for a valid
    plainly written file); whatever it cannot vouch for, and every problem, comes from the line-numbered
    load below. ``fast=False`` is that load alone (the tests compare the two).
    """
    # the loaded trees hold no reference cycles (recursive aliases are refused): counting frees them
    if fast:
        with paused_gc():
            state = fast_state(files, limits, attributes)
        if state is not None:
            return state
    names = sorted(files)
    problems = _Problems(limits.max_problems, names)
    tenants: list[DesiredTenant] = []
    try:
        with paused_gc(), suppress(_Stop):
            tenants = _load(files, names, limits, problems, attributes)
    except Exception as exc:  # whatever breaks, this revision is refused, never half-loaded
        # An input no check foresaw must make the revision invalid (the last good one stays enforced),
        # not crash a cycle or a command with a traceback.
        where = problems.current or (names[0] if names else "<no file>")
        problems.items.append(
            Problem(where, None, f"could not be loaded ({type(exc).__name__}: {_clip(str(exc), 200)})")
        )
    if problems.items:
        raise TenantsFileInvalid(problems.sorted())
    return DesiredState(tenants=tuple(tenants), files=tuple(names))


def parse_revision(
    files: Mapping[str, bytes],
    reuse: ItemCache | None,
    *,
    keep: bool = True,
    limits: LoadLimits = LoadLimits(),  # noqa: B008 - frozen, so one shared default is safe
    attributes: Mapping[str, AttributeDefinition] | None = None,
) -> tuple[DesiredState, ItemCache | None]:
    """``parse_tenant_files`` for a source read again and again (the daemon): the same state or problems.

    ``reuse`` is what the previous call returned (None at first): every tenant item whose text has not
    changed is taken from it instead of being parsed and checked again, so a one-tenant change of a
    100k-tenant file costs a fraction of a load. Returns the state and what to pass next time (None
    when the fast path could not read this revision). With ``keep`` false (a command that parses once)
    nothing is kept: the items' texts are 34 MB at the peak of a 100k-tenant ``plan``."""
    if not keep:
        return parse_tenant_files(files, limits=limits, attributes=attributes), None
    with paused_gc():
        loaded = fast_state_reusing(files, limits, attributes, reuse)
    if loaded is not None:
        return loaded
    return parse_tenant_files(files, limits=limits, attributes=attributes, fast=False), None


def _load(
    files: Mapping[str, bytes],
    names: list[str],
    limits: LoadLimits,
    problems: _Problems,
    attributes: Mapping[str, AttributeDefinition] | None,
) -> list[DesiredTenant]:
    """The tenants of every file; problems are collected (``_Stop`` ends collection early)."""
    total = 0
    for name in names:
        total += len(files[name])
        if total > limits.max_total_bytes:
            problems.add(
                name,
                None,
                f"the tenants files add up to more than the limit of {limits.max_total_bytes:,} bytes "
                "(reached at this file); nothing was parsed",
            )
            raise _Stop
    validator = _Validator(problems, limits, attributes)
    for name in names:
        problems.current = name
        validator.file_name = name
        validator.held = []
        root = _compose_file(name, files[name], limits, problems, validator.tenant)
        held, validator.held = validator.held, None
        if root is _FAILED:
            validator.incomplete = True  # its tenants' problems would only be noise beside the real one
        else:
            for problem in held or ():  # None when they were already passed on at the problem limit
                problems.add(problem.file, problem.line, problem.message)
            validator.file(name, root)
    validator.finish()
    return validator.tenants
