"""A source of several files: loaded in name order, problems from every file, and the digest of them all."""

from __future__ import annotations

from controller.core.loader import parse_tenant_files, source_digest
from tests.core.loader.support import problems_of

# ---- several files -------------------------------------------------------------------------------


def test_files_load_in_sorted_name_order_and_tenants_keep_file_order() -> None:
    state = parse_tenant_files(
        {
            "tenants/us.yaml": b"tenants:\n  - {id: us-2, name: US2}\n  - {id: us-1, name: US1, parent: eu-1}\n",
            "tenants/eu.yaml": b"tenants:\n  - {id: eu-1, name: EU1}\n",
        }
    )
    assert [(t.id, t.where) for t in state.tenants] == [
        ("eu-1", "tenants/eu.yaml:2"),
        ("us-2", "tenants/us.yaml:2"),
        ("us-1", "tenants/us.yaml:3"),
    ]
    assert state.files == ("tenants/eu.yaml", "tenants/us.yaml")


def test_problems_from_several_files_are_all_reported() -> None:
    found = problems_of({"b.yaml": "tenants:\n  - {id: b}\n", "a.yaml": "", "c.yaml": "tenants: [\n"})
    assert [(p.file, p.line) for p in found] == [("a.yaml", None), ("b.yaml", 2), ("c.yaml", 2)]


def test_undeclared_parent_is_not_claimed_when_another_file_failed_to_parse() -> None:
    """The parent may be in the broken file: report only the real problem."""
    found = problems_of(
        {"a.yaml": "tenants:\n  - {id: child, name: C, parent: root}\n", "b.yaml": "tenants:\n  - {id: root\n"}
    )
    assert len(found) == 1 and found[0].file == "b.yaml" and "YAML syntax error" in found[0].message


def test_source_digest_covers_names_and_contents() -> None:
    base = {"a.yaml": b"tenants: []\n", "b.yaml": b"tenants: []\n"}
    digest = source_digest(base)
    assert digest == source_digest(dict(reversed(base.items())))  # order of the mapping does not matter
    assert len(digest) == 64
    assert digest != source_digest({**base, "b.yaml": b"tenants: [] \n"})
    assert digest != source_digest({"a.yaml": b"tenants: []\n", "c.yaml": b"tenants: []\n"})
    # the boundary between name and content is unambiguous
    assert source_digest({"ab": b"c"}) != source_digest({"a": b"bc"})
