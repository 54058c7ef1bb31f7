"""Ids and names a reviewer cannot tell apart are refused (Unicode TR39), naming both places.

Non-ASCII characters are written as Python escapes so this file shows what each case holds; the
loader sees the real characters, as a user's editor would save them.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import confusables
from controller.core.loader import parse_tenant_files
from controller.errors import TenantsFileInvalid

CYRILLIC_A = "\u0430"
GREEK_OMICRON = "\u03bf"
ROMASHKA = "\u0420\u043e\u043c\u0430\u0448\u043a\u0430"  # a Russian word, all Cyrillic
TOKYO_TOWER = "\u6771\u4eac\u30bf\u30ef\u30fc"  # Han, then Katakana and the prolonged sound mark


def load(text: str, name: str = "tenants.yaml") -> list[str]:
    """The ids of a file that loads."""
    return [t.id for t in parse_tenant_files({name: text.encode()}).tenants]


def problems(files: dict[str, str] | str) -> list[str]:
    """Every problem of files that do not load, as a user reads them."""
    given_files = {"tenants.yaml": files} if isinstance(files, str) else files
    with pytest.raises(TenantsFileInvalid) as info:
        parse_tenant_files({k: v.encode() for k, v in given_files.items()})
    return [str(p) for p in info.value.problems]


def tenants(*pairs: tuple[str, str]) -> str:
    """A file with one tenant per line from line 2: ``- {id: ..., name: ...}``."""
    return "tenants:\n" + "".join(f'  - {{id: "{i}", name: "{n}"}}\n' for i, n in pairs)


ACCEPTED = [
    pytest.param(tenants(("tokyo-tower", TOKYO_TOWER + "\u682a\u5f0f\u4f1a\u793e")), id="japanese-name"),
    pytest.param(tenants(("tokyo", "Tokyo \u6771\u4eac\u30bf\u30ef\u30fc 2")), id="japanese-with-latin-and-digits"),
    pytest.param(tenants(("jp", "Tokyo\u6771\u4eac\u30bf\u30ef\u30fc")), id="latin-han-katakana-in-one-word"),
    pytest.param(tenants(("alibaba", "\u963f\u91cc\u5df4\u5df4 Alibaba")), id="chinese-name"),
    pytest.param(tenants(("bopomofo", "\u53f0\u5317\u3105\u3106")), id="han-with-bopomofo"),
    pytest.param(tenants(("samsung", "\uc0bc\uc131\uc804\uc790 Samsung")), id="korean-name"),
    pytest.param(tenants(("romashka", "\u0420\u043e\u043c\u0430\u0448\u043a\u0430")), id="all-cyrillic-name"),
    pytest.param(tenants(("\u0440\u043e\u043c\u0430\u0448\u043a\u0430", "R")), id="all-cyrillic-id"),
    pytest.param(tenants(("athina", "\u0391\u03b8\u03ae\u03bd\u03b1")), id="all-greek-name"),
    pytest.param(tenants(("acme-ru", "Acme \u0420\u043e\u0441\u0441\u0438\u044f")), id="latin-and-cyrillic-words"),
    pytest.param(tenants(("cafe", "Caf\u00e9 Z\u00fcrich \u2014 K\u00f8benhavn")), id="accented-latin"),
    pytest.param(tenants(("fullwidth-alone", "\uff21\uff23\uff2d\uff25")), id="full-width-name-alone"),
    pytest.param(
        tenants(("r1", ROMASHKA), ("r2", ROMASHKA[:-1] + "\u0438")),
        id="two-different-cyrillic-names",
    ),
    # two all-ASCII strings are never compared, though TR39 would confuse them (loader docstring)
    pytest.param(
        tenants(("tenant-l", "A"), ("tenant-1", "B"), ("tenant-I", "C"), ("acme", "D"), ("acrne", "E")),
        id="ascii-pairs-are-left-alone",
    ),
    pytest.param(tenants(("team-0", "Team 0"), ("team-O", "Team O")), id="ascii-zero-and-o"),
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_legitimate_ids_and_names_load(text: str) -> None:
    assert load(text)


REFUSED = [
    pytest.param(
        tenants(("acme", "A"), (f"{CYRILLIC_A}cme", "B")),
        [
            f"tenants.yaml:3: id '{CYRILLIC_A}cme' looks the same as id 'acme' at tenants.yaml:2 "
            "(confusable characters: U+0430 CYRILLIC SMALL LETTER A); reviewers cannot tell them apart, "
            "so rename one"
        ],
        id="cyrillic-a-id-beside-latin-id",
    ),
    pytest.param(
        tenants((f"{CYRILLIC_A}cme", "B"), ("acme", "A")),
        [
            f"tenants.yaml:2: id '{CYRILLIC_A}cme' mixes scripts: U+0430 CYRILLIC SMALL LETTER A (Cyrillic) "
            "among Latin; reviewers cannot see the difference, so write it in one script",
            f"tenants.yaml:3: id 'acme' looks the same as id '{CYRILLIC_A}cme' at tenants.yaml:2 "
            "(confusable characters: U+0430 CYRILLIC SMALL LETTER A); reviewers cannot tell them apart, "
            "so rename one",
        ],
        id="cyrillic-first-both-lines",
    ),
    pytest.param(
        tenants((f"{CYRILLIC_A}cme", "A")),
        [
            f"tenants.yaml:2: id '{CYRILLIC_A}cme' mixes scripts: U+0430 CYRILLIC SMALL LETTER A (Cyrillic) "
            "among Latin; reviewers cannot see the difference, so write it in one script"
        ],
        id="mixed-script-id-alone",
    ),
    pytest.param(
        tenants(("acme", "\u0410cme Corp")),
        [
            "tenants.yaml:2: name '\u0410cme Corp' mixes scripts within a word: U+0410 CYRILLIC CAPITAL LETTER A "
            "(Cyrillic) among Latin; reviewers cannot see the difference, so write it in one script"
        ],
        id="mixed-script-name-alone",
    ),
    pytest.param(
        tenants(("x", "\u0420\u043e\u043c\u0430\u0448\u043a" + "a")),  # a Latin a ending a Cyrillic word
        ["U+0061 LATIN SMALL LETTER A (Latin) among Cyrillic"],
        id="latin-letter-in-a-cyrillic-word",
    ),
    pytest.param(
        tenants(("jp", "\u6771\u4eac\u30bf\u0422\u30ef\u30fc")),  # a Cyrillic Te among Han and Katakana
        ["U+0422 CYRILLIC CAPITAL LETTER TE (Cyrillic) among"],
        id="cyrillic-in-a-japanese-word",
    ),
    pytest.param(
        tenants(("acme-corp", "A"), (f"acme-c{GREEK_OMICRON}rp", "B")),
        [
            f"tenants.yaml:3: id 'acme-c{GREEK_OMICRON}rp' looks the same as id 'acme-corp' at tenants.yaml:2 "
            "(confusable characters: U+03BF GREEK SMALL LETTER OMICRON)"
        ],
        id="greek-omicron",
    ),
    pytest.param(
        tenants(("acme", "A"), ("\uff41\uff43\uff4d\uff45", "B")),  # full-width: NFKC folds it to acme
        [
            "tenants.yaml:3: id '\uff41\uff43\uff4d\uff45' looks the same as id 'acme' at tenants.yaml:2 "
            "(confusable characters: U+FF41 FULLWIDTH LATIN SMALL LETTER A, U+FF43 FULLWIDTH LATIN SMALL LETTER C, "
            "U+FF45 FULLWIDTH LATIN SMALL LETTER E, U+FF4D FULLWIDTH LATIN SMALL LETTER M)"
        ],
        id="full-width-letters",
    ),
    pytest.param(
        tenants(("a", "ACME Corp"), ("b", f"{CYRILLIC_A}cme corp")),  # names compare ignoring case
        [
            f"tenants.yaml:3: name '{CYRILLIC_A}cme corp' looks the same as name 'ACME Corp' at tenants.yaml:2 "
            "(confusable characters: U+0430 CYRILLIC SMALL LETTER A)"
        ],
        id="case-folded-names",
    ),
    pytest.param(
        tenants(("a", "Acme"), ("b", "Ac\u200bme")),
        [
            "tenants.yaml:3: name 'Ac\\u200bme' looks the same as name 'Acme' at tenants.yaml:2 "
            "(confusable characters: U+200B ZERO WIDTH SPACE)"
        ],
        id="zero-width-space",
    ),
    pytest.param(
        tenants(("a", "Caf\u00e9"), ("b", "Cafe\u0301")),  # precomposed é and e + combining acute
        ["tenants.yaml:3: name 'Cafe\u0301' looks the same as name 'Caf\u00e9' at tenants.yaml:2"],
        id="nfc-beside-nfd",
    ),
    pytest.param(
        tenants(("ace", "A"), ("\u0430\u0441\u0435", "B")),  # all Cyrillic: one script, still a lookalike
        [
            "tenants.yaml:3: id '\u0430\u0441\u0435' looks the same as id 'ace' at tenants.yaml:2 "
            "(confusable characters: U+0430 CYRILLIC SMALL LETTER A, U+0435 CYRILLIC SMALL LETTER IE, "
            "U+0441 CYRILLIC SMALL LETTER ES)"
        ],
        id="whole-script-lookalike",
    ),
    pytest.param(
        tenants(("paypal", "A"), (f"p{CYRILLIC_A}ypa1", "B")),  # with a non-ASCII one, ASCII lookalikes count
        [
            f"tenants.yaml:3: id 'p{CYRILLIC_A}ypa1' looks the same as id 'paypal' at tenants.yaml:2 "
            "(confusable characters: U+0430 CYRILLIC SMALL LETTER A, U+0031 DIGIT ONE, U+006C LATIN SMALL LETTER L)"
        ],
        id="non-ascii-against-ascii-lookalikes",
    ),
]


@pytest.mark.parametrize(("text", "expected"), REFUSED)
def test_lookalikes_are_refused_naming_both_places(text: str, expected: list[str]) -> None:
    found = problems(text)
    assert len(found) == len(expected), "\n".join(found)
    for problem, fragment in zip(found, expected, strict=True):
        assert fragment in problem, f"{fragment!r} not in {problem!r}"


def test_a_key_with_too_many_ascii_spellings_is_still_compared() -> None:
    """'l' reads back as l, 1, I or |: past 256 spellings every ASCII id is keyed instead, same answer."""
    assert confusables.ascii_sources("a" + "l" * 8) is None
    found = problems(tenants(("a" + "l" * 8, "A"), (CYRILLIC_A + "l" * 8, "B")))
    assert [p.split(" (")[0] for p in found] == [
        f"tenants.yaml:3: id '{CYRILLIC_A}llllllll' looks the same as id 'allllllll' at tenants.yaml:2"
    ]


def test_lookalikes_across_files_name_both_files() -> None:
    found = problems(
        {
            "tenants/a.yaml": "tenants:\n  - id: acme\n    name: ACME\n",
            "tenants/b.yaml": f"tenants:\n  - id: other\n    name: Other\n  - id: {CYRILLIC_A}cme\n    name: B\n",
        }
    )
    assert [p.split(" (")[0] for p in found] == [
        f"tenants/b.yaml:4: id '{CYRILLIC_A}cme' looks the same as id 'acme' at tenants/a.yaml:2"
    ]


def test_a_lookalike_tenant_keeps_the_whole_revision_out() -> None:
    """Like any problem: nothing of that revision is applied (the last good one stays in force)."""
    with pytest.raises(TenantsFileInvalid):
        parse_tenant_files({"tenants.yaml": tenants(("acme", "A"), ("ok", "B"), (f"{CYRILLIC_A}cme", "C")).encode()})


ASCII_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
ASCII_IDS = st.lists(ASCII_ID, min_size=1, max_size=30, unique=True)


@settings(max_examples=50, deadline=None)
@given(ASCII_IDS)
def test_an_all_ascii_file_never_reads_the_unicode_data(ids: list[str]) -> None:
    """ASCII ids and names are never compared (tenant-1 beside tenant-l loads) and cost no Unicode data."""
    confusables._tables.cache_clear()
    text = tenants(*((i, f"Tenant {n}") for n, i in enumerate(ids)))
    assert load(text) == ids
    assert confusables._tables.cache_info().currsize == 0
