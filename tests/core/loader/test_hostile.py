"""Hostile or runaway input is refused quickly with a clear message, within the bounds of LoadLimits."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from controller.core import yaml_events
from controller.errors import Problem
from tests.core.loader.support import assert_problems, load, problems, problems_of, tenant

# ---- hostile input: refused quickly, with a clear message ----------------------------------------

BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "tenants: [*i]\n"
)


def refused_fast(text: str | bytes, **limits: int) -> list[Problem]:
    started = time.perf_counter()
    found = problems(text, **limits)
    assert time.perf_counter() - started < 2.0, "hostile input took too long to refuse"
    return found


def test_alias_bomb_is_refused(backend: str) -> None:
    found = refused_fast(BILLION_LAUGHS)
    assert_problems(found, [(7, "alias *f expands the document beyond 5,000,000 nodes; aliases that multiply content")])


def test_alias_expansion_counts_against_a_lower_limit() -> None:
    text = "tenants:\n  - &t {id: a, name: A, defaultRoles: [r1, r2, r3]}\n" + "  - *t\n" * 20
    assert_problems(problems(text, max_nodes=50), [(6, "alias *t expands the document beyond 50 nodes")])


def test_recursive_alias_is_refused() -> None:
    assert_problems(problems("tenants: &x [*x]\n"), [(1, "alias *x refers to its own enclosing node")])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("tenants: " + "[" * 100_000 + "]" * 100_000 + "\n", id="flow-sequences"),
        pytest.param("tenants: " + "{a: " * 100_000 + "x" + "}" * 100_000 + "\n", id="flow-mappings"),
        pytest.param("tenants:\n" + "- " * 100_000 + "x\n", id="block-sequences"),
    ],
)
def test_deep_nesting_is_refused_without_recursion(backend: str, text: str) -> None:
    found = refused_fast(text)
    assert_problems(found, [(found[0].line, "nesting is deeper than 32 levels")])


def test_a_parser_that_bounds_nesting_itself_gets_the_loaders_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML 6.0.4's libyaml refuses deep flow nesting before the loader's own check: same message."""

    class RefusingLoader(yaml.SafeLoader):
        def get_event(self) -> Any:
            event = super().get_event()
            if isinstance(event, yaml.SequenceStartEvent) and event.start_mark.column > 10:
                mark = yaml.Mark("tenants.yaml", 0, 2, 0, None, None)  # as libyaml reports it: line 3
                raise yaml.parser.ParserError(
                    "while increasing flow level", None, "exceeded maximum nesting depth", mark
                )
            return event

    monkeypatch.setattr(yaml_events, "_LOADER", RefusingLoader)
    assert_problems(problems("tenants: [[[]]]\n", max_depth=8), [(3, "nesting is deeper than 8 levels")])


def test_nesting_limit_is_configurable() -> None:
    text = tenant("    customAttributes: {tags: [a]}\n")
    assert load(text, max_depth=5).tenants  # root, tenants, tenant, attributes, list
    assert_problems(problems(text, max_depth=4), [(4, "nesting is deeper than 4 levels")])


def test_oversized_file_is_refused_before_parsing() -> None:
    big = b"tenants: [" + b"{id: a, name: A}," * 2_000_000 + b"]\n"  # 34 MB of valid YAML
    found = refused_fast(big)
    assert_problems(found, [(None, f"file is {len(big):,} bytes, over the limit of 33,554,432 bytes; not parsed")])


def test_total_size_limit_across_files() -> None:
    files = {f"{i}.yaml": "tenants: []\n" + "#" * 100 for i in range(5)}
    found = problems_of(files, max_total_bytes=300)
    assert_problems(found, [(None, "the tenants files add up to more than the limit of 300 bytes")])
    assert found[0].file == "2.yaml"


def test_tenant_count_limit() -> None:
    text = "tenants:\n" + "".join(f"  - {{id: t{i}, name: N{i}}}\n" for i in range(11))
    assert len(load(text, max_tenants=11).tenants) == 11
    assert_problems(
        problems(text, max_tenants=10), [(12, "more than 10 tenants in the tenants files; refusing to load them")]
    )


def test_python_tags_construct_nothing(tmp_path: Any) -> None:
    marker = tmp_path / "owned"
    text = f"tenants:\n  - !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]\n"
    found = problems(text)
    assert "!!python/object/apply:pathlib.Path.touch is not allowed" in found[0].message
    assert not marker.exists()


def test_problem_collection_stops_at_max_problems() -> None:
    text = "tenants:\n" + "".join(f"  - {{id: t{i}, name: N{i}, enforceSSO: nope}}\n" for i in range(150))
    found = problems(text, max_problems=100)
    assert len(found) == 101
    assert all("enforceSSO must be true or false" in p.message for p in found[:100])
    assert found[-1].message == "stopped after 100 problems; fix these and validate again"


@pytest.mark.parametrize("count", [99, 100, 101])
def test_problem_limit_boundary(count: int) -> None:
    text = "tenants:\n" + "".join(f"  - {{id: t{i}, name: N{i}, disabled: 0}}\n" for i in range(count))
    found = problems(text, max_problems=100)
    if count <= 100:
        assert [p.line for p in found] == list(range(2, count + 2))
    else:
        assert len(found) == 101 and found[-1].message.startswith("stopped after 100 problems")


def test_hostile_long_key_is_clipped_in_the_message() -> None:
    found = problems(tenant(f"    {'k' * 1000}: 1\n"))
    assert len(found) == 1 and len(found[0].message) < 400
    assert "unknown tenant key 'kkkk" in found[0].message and "...'" in found[0].message


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("1" + "0" * 5000, id="5000-digit-decimal"),
        pytest.param("!!int 1" + "0" * 5000, id="5000-digit-tagged"),
        pytest.param("0x" + "f" * 5000, id="5000-digit-hex"),
        pytest.param("9223372036854775808", id="just-over-int64"),
        pytest.param("-9223372036854775809", id="just-under-int64"),
    ],
)
@pytest.mark.parametrize("where", ["settings: {sessionTokenExpiration: N}", "customAttributes: {seats: N}"])
def test_a_huge_number_is_a_problem_on_its_line_not_a_crash(backend: str, number: str, where: str) -> None:
    text = "tenants:\n  - id: a\n    name: A\n    " + where.replace("N", number) + "\n"
    found = refused_fast(text)
    assert_problems(found, [(4, "too large to read (the limit is 64 bits)")])


def test_the_largest_64_bit_number_is_accepted() -> None:
    state = load("tenants:\n  - id: a\n    name: A\n    customAttributes: {seats: 9223372036854775807}\n")
    assert state.tenants[0].fields["customAttributes"] == {"seats": 2**63 - 1}


def test_anything_unforeseen_while_loading_refuses_the_revision_naming_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a loader bug")

    monkeypatch.setattr(yaml_events, "_resolve_plain", broken)
    found = problems_of({"a.yaml": "tenants: []\n", "b.yaml": "tenants:\n  - id: x\n    name: X\n"})
    assert len(found) == 1
    assert found[0].file == "a.yaml" and "could not be loaded (RuntimeError: a loader bug)" in found[0].message
