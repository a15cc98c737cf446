"""Path helpers for output names: sanitising, shortening, containment, comparison keys.

Output names are made portable on purpose: the Windows rules (reserved device
names, illegal characters, trailing dots and spaces) are applied on every
platform, so a batch planned on Linux can be copied to a Windows or macOS disk
unchanged, and the rules are testable anywhere (tests use ``ntpath``).

Nothing here touches the file system except :func:`is_inside` (``realpath``).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata

#: Longest file name (one path component) in bytes of UTF-8 on common file systems.
MAX_COMPONENT_BYTES = 255

#: Device names Windows reserves in every folder, with or without an extension
#: (``NUL.txt`` is the NUL device too). Superscript digits count as digits there.
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in list("123456789") + ["¹", "²", "³"]]
)

#: Characters never allowed in a component: separators of every platform,
#: characters Windows forbids, and ASCII control characters (incl. NUL, DEL).
_ILLEGAL = re.compile(r'[/\\<>:"|?*\x00-\x1f\x7f]')

#: Characters Windows strips from the end of a name (so "a." and "a" clash).
_TRAILING = ". "


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(text: str) -> str:
    """Undecodable bytes in a Linux file name arrive as lone surrogates; they
    cannot be written to UTF-8 reports or other platforms, so replace them."""
    return _SURROGATE.sub("_", text)


def is_reserved_windows_name(name: str) -> bool:
    """True for ``CON``, ``nul.txt``, ``Com1.tar.gz``… (Windows ignores the
    extension and trailing spaces when it matches device names)."""
    base = name.split(".", 1)[0].rstrip(" ").upper()
    return base in _RESERVED


def sanitize_component(text: str, *, placeholder: str = "_", allow_leading_dot: bool = False) -> str:
    """Turn any text into ONE safe path component (a file or folder name).

    - separators (``/`` and ``\\``), NUL, control characters and the
      characters Windows forbids (``<>:"|?*``) become ``_``;
    - trailing dots and spaces are removed (Windows drops them silently);
    - a leading dot becomes ``_`` unless ``allow_leading_dot``: outputs are
      never hidden files and never ``.`` / ``..``;
    - Windows device names (``CON``, ``NUL.txt``, ``LPT1``…) get a ``_`` prefix;
    - an empty result becomes ``placeholder``;
    - the result is at most :data:`MAX_COMPONENT_BYTES` bytes of UTF-8
      (shortened with :func:`shorten_component`).
    """
    text = _without_surrogates(str(text))
    text = _ILLEGAL.sub("_", text)
    text = text.rstrip(_TRAILING)
    if not allow_leading_dot and text.startswith("."):
        text = "_" + text[1:]
    if not text:
        text = placeholder
    if is_reserved_windows_name(text):
        text = "_" + text
    return shorten_component(text)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` of UTF-8,
    never splitting a character."""
    data = text.encode("utf-8", "surrogateescape")[:max(0, max_bytes)]
    return data.decode("utf-8", "ignore")


def shorten_component(name: str, max_bytes: int = MAX_COMPONENT_BYTES, keep_suffix: str = "") -> str:
    """Fit ``name + keep_suffix`` into ``max_bytes`` bytes of UTF-8, deterministically.

    A name that fits is returned unchanged (plus the suffix). Otherwise the
    name is cut at a character boundary and ``~`` plus 8 hex digits of a hash
    of the whole original name are appended, so two long names that share a
    prefix still get different short names, and the same name always gets
    the same short name. ``keep_suffix`` (an extension like ``.webp``) is
    kept intact at the end.
    """
    if utf8_len(name) + utf8_len(keep_suffix) <= max_bytes:
        return name + keep_suffix
    digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    marker = "~" + digest
    room = max_bytes - utf8_len(keep_suffix) - len(marker)
    head = _cut_utf8(name, room).rstrip(_TRAILING)
    return head + marker + keep_suffix


def split_name(name: str) -> tuple[str, str]:
    """``("photo", ".jpg")`` for ``photo.jpg``; a leading dot is not an extension."""
    stem, ext = os.path.splitext(name)
    return stem, ext


def compare_key(path: str) -> str:
    """Key under which two paths name the same file on a case-insensitive,
    normalising file system (Windows, macOS): NFC-normalised and casefolded."""
    return unicodedata.normalize("NFC", _without_surrogates(path)).casefold()


def is_inside(path: str, root: str) -> bool:
    """True if ``path`` (which need not exist) stays inside ``root`` once
    ``..`` and symlinks of existing parents are resolved."""
    real_root = os.path.realpath(root)
    real_path = os.path.realpath(path)
    try:
        return os.path.commonpath([real_root, real_path]) == real_root and real_path != real_root
    except ValueError:  # different drives on Windows
        return False
