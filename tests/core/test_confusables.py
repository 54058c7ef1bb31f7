"""TR39 skeletons and mixed-script detection on the vendored Unicode data (non-ASCII written as escapes)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from controller.core.confusables import (
    UNICODE_VERSION,
    ascii_sources,
    character,
    lookalike_key,
    mixed_script_words,
    mixed_scripts,
    skeleton,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("\u0430cme", "acme"),  # Cyrillic a
        ("acme-c\u03bfrp", "acme-corp"),  # Greek omicron
        ("\u0391lpha", "Alpha"),  # Greek capital alpha
        ("ac\u200bme", "acme"),  # zero-width space: Default_Ignorable, dropped
        ("ac\u00adme", "acme"),  # soft hyphen
        ("caf\u00e9", "cafe\u0301"),  # NFC and NFD
        ("paypa1", "paypal"),  # ASCII lookalikes: TR39 confuses them (the loader skips all-ASCII pairs)
        ("rn", "m"),
        ("\u0430\u0441\u0435", "ace"),  # whole-script: all Cyrillic
    ],
)
def test_confusable_strings_share_a_skeleton(first: str, second: str) -> None:
    assert skeleton(first) == skeleton(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [("acme", "acne"), ("\u0420\u043e\u043c\u0430\u0448\u043a\u0430", "\u0420\u043e\u043c\u0430\u0448\u043a\u0438")],
)
def test_different_strings_keep_different_skeletons(first: str, second: str) -> None:
    assert skeleton(first) != skeleton(second)


def test_lookalike_key_folds_compatibility_forms_and_optionally_case() -> None:
    assert skeleton("\uff41\uff43\uff4d\uff45") != skeleton("acme")  # TR39 expects NFKC input ...
    assert lookalike_key("\uff41\uff43\uff4d\uff45") == lookalike_key("acme")  # ... so the key folds it first
    assert lookalike_key("\ufb01le") == lookalike_key("file")  # the fi ligature
    assert lookalike_key("ACME") != lookalike_key("acme")
    assert lookalike_key("ACME", ignore_case=True) == lookalike_key("\u0430cme", ignore_case=True)


def test_ascii_spellings_of_a_key_are_found_by_reading_it_back() -> None:
    assert sorted(ascii_sources(skeleton("acme"))) == ["acme", "acrne"]
    assert sorted(ascii_sources(lookalike_key("\u0430cme"))) == ["acme", "acrne"]
    assert sorted(ascii_sources(lookalike_key("T0", ignore_case=True), ignore_case=True)) == ["t0"]
    assert sorted(ascii_sources(skeleton("Ol"))) == sorted(["0l", "01", "0I", "0|", "Ol", "O1", "OI", "O|"])
    assert ascii_sources(skeleton("\u0420\u043e\u043c\u0430\u0448\u043a\u0430")) == []  # no ASCII spelling
    for text in ("acme", "Paypa1", 'say "hi"', "100%", "m|I0`"):
        assert text in (ascii_sources(skeleton(text)) or [])


@pytest.mark.parametrize(
    "text",
    [
        "acme-corp",
        "\u0420\u043e\u043c\u0430\u0448\u043a\u0430",  # all Cyrillic
        "\u6771\u4eac\u30bf\u30ef\u30fc",  # Han + Katakana (+ the prolonged sound mark, Common with kana)
        "Tokyo\u6771\u4eac\u3068\u30bf\u30ef\u30fc",  # Latin + Han + Hiragana + Katakana
        "Taipei\u53f0\u5317\u3105",  # Latin + Han + Bopomofo
        "Seoul\uc11c\uc6b8\u5e02",  # Latin + Hangul + Han
        "caf\u00e9-42",  # Latin with digits and punctuation (Common)
        "cafe\u0301",  # a combining mark (Inherited) goes with anything
        "\u0391\u03b8\u03ae\u03bd\u03b1",  # all Greek
    ],
)
def test_highly_restrictive_strings_pass(text: str) -> None:
    assert mixed_scripts(text) is None


@pytest.mark.parametrize(
    ("text", "main", "odd"),
    [
        ("\u0430cme", "Latin", ("\u0430",)),
        ("\u0420\u043e\u043c\u0430\u0448\u043a" + "a", "Cyrillic", ("a",)),
        ("acme-c\u03bfrp", "Latin", ("\u03bf",)),
        ("\u6771\u4eac\u0422", "Han", ("\u0422",)),
        ("Seoul\uc11c\ud788\u3089", "Latin", ("\uc11c", "\ud788", "\u3089")),  # Hangul with kana: no set covers it
    ],
)
def test_mixed_scripts_name_the_characters_out_of_place(text: str, main: str, odd: tuple[str, ...]) -> None:
    found = mixed_scripts(text)
    assert found is not None and (found.main, found.odd) == (main, odd)


def test_names_are_checked_word_by_word() -> None:
    assert mixed_script_words("Acme \u0420\u043e\u0441\u0441\u0438\u044f") is None
    assert mixed_script_words("Acme-\u0420\u043e\u0441\u0441\u0438\u044f") is None
    found = mixed_script_words("Big \u0410cme Corp")
    assert found is not None and found.odd == ("\u0410",)


def test_characters_are_named_as_a_reviewer_looks_them_up() -> None:
    assert character("\u0430") == "U+0430 CYRILLIC SMALL LETTER A"
    assert character("\U000e0100") == "U+E0100 VARIATION SELECTOR-17"


def test_the_vendored_data_is_one_unicode_release_and_ships_in_the_package() -> None:
    data = resources.files("controller.core").joinpath("unicode")
    for name in ("confusables.txt", "Scripts.txt", "ScriptExtensions.txt", "PropertyValueAliases.txt"):
        head = data.joinpath(name).read_text(encoding="utf-8-sig")[:400]
        assert f"Version: {UNICODE_VERSION}" in head or f"-{UNICODE_VERSION}.txt" in head, name
    assert "UNICODE LICENSE V3" in data.joinpath("LICENSE").read_text(encoding="utf-8")
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "unicode/*" in package_data["controller.core"]  # the wheel (and so the image) carries the files
