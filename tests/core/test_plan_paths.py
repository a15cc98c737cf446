"""Path sanitising (RELIABILITY F): Windows rules checked with ntpath on any platform."""

from __future__ import annotations

import ntpath
import os
import posixpath
import random
import unicodedata

import pytest

from gui_app.core.paths import (
    MAX_COMPONENT_BYTES,
    compare_key,
    is_inside,
    is_reserved_windows_name,
    sanitize_component,
    shorten_component,
    utf8_len,
)

# Written out independently of paths.py on purpose.
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{d}{n}" for d in ("COM", "LPT") for n in "123456789¹²³"
}


def assert_one_safe_component(name: str) -> None:
    """Everything Windows and POSIX need for ``name`` to be one harmless file name."""
    assert name, "empty name"
    assert ntpath.split(name) == ("", name) and posixpath.split(name) == ("", name)
    assert ntpath.splitdrive(name)[0] == "" and not ntpath.isabs(name) and not posixpath.isabs(name)
    assert name not in (".", "..") and not name.startswith(".")
    assert not name.endswith((".", " ")), name
    assert not set(name) & set('<>:"|?*\\/'), name
    assert all(ord(c) >= 32 and ord(c) != 127 for c in name)
    assert name.split(".")[0].rstrip(" ").upper() not in WINDOWS_DEVICES, name
    assert utf8_len(name) <= MAX_COMPONENT_BYTES
    base = "C:\\out"
    assert ntpath.normpath(ntpath.join(base, name)).startswith(base + "\\")
    assert posixpath.normpath(posixpath.join("/out", name)).startswith("/out/")


HOSTILE = [
    "CON", "con", "con.txt", "NUL.tar.gz", "nul .jpg", "com1", "LPT9.jpg", "Com¹", "CONIN$",
    'a<b>c:d"e|f?g*h', "trailing. . ", "..", ".", "...", "../../evil", "..\\..\\evil",
    "C:\\Windows\\system32", "C:", "\\\\server\\share", "/etc/passwd", "\x00nul\x01\x1f\x7f",
    "a/b", "", "   ", " . ", "x" * 300, "é" * 200, "📷" * 100, "-rf", ".hidden",
    "name\udcff with a bad byte",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_becomes_one_safe_component(text):
    assert_one_safe_component(sanitize_component(text))


def test_random_hostile_text_is_always_safe():
    rng = random.Random(20261122)
    alphabet = list('./\\:*?"<>| \x00\x01\x7f') + ["CON", "nul", "LPT1", "é", "📷", "a", "-", "\u0301"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert_one_safe_component(sanitize_component(text))


def test_ordinary_names_are_unchanged():
    for name in ["IMG_0001", "café", "📷 holiday", "-rf", "a.b.c", "résumé (1)", "CONSOLE", "com10", "nullable"]:
        assert sanitize_component(name) == name


def test_specific_replacements():
    assert sanitize_component("CON") == "_CON"
    assert sanitize_component("nul.txt") == "_nul.txt"
    assert sanitize_component("a:b") == "a_b"
    assert sanitize_component("name. ") == "name"
    assert sanitize_component("../../evil") == "_._.._evil"
    assert sanitize_component("") == "_"
    assert sanitize_component(".config", allow_leading_dot=True) == ".config"
    assert is_reserved_windows_name("Aux.tar.gz") and not is_reserved_windows_name("auxiliary")


def test_long_names_shortened_deterministically_within_255_bytes():
    long_a = "ä" * 200 + "A"
    long_b = "ä" * 200 + "B"
    a1 = shorten_component(long_a, keep_suffix=".webp")
    a2 = shorten_component(long_a, keep_suffix=".webp")
    b = shorten_component(long_b, keep_suffix=".webp")
    assert a1 == a2 and a1 != b
    assert a1.endswith(".webp") and utf8_len(a1) <= 255
    unicodedata.normalize("NFC", a1)  # still valid text (no split characters)
    a1.encode("utf-8")
    assert shorten_component("short", keep_suffix=".jpg") == "short.jpg"
    emoji = sanitize_component("📷" * 100)  # 4 bytes each
    assert utf8_len(emoji) <= 255 and emoji.startswith("📷" * 60)


def test_compare_key_is_case_and_normalisation_insensitive():
    assert compare_key("Photo.JPG") == compare_key("photo.jpg")
    assert compare_key(unicodedata.normalize("NFD", "Café")) == compare_key(unicodedata.normalize("NFC", "café"))


def test_is_inside_resolves_dotdot_and_symlinks(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, root / "link")
    assert is_inside(str(root / "a" / "b.jpg"), str(root))
    assert not is_inside(str(root / ".." / "x.jpg"), str(root))
    assert not is_inside(str(root / "link" / "x.jpg"), str(root))
    assert not is_inside(str(root), str(root))
