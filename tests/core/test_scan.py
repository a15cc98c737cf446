"""Scan: regular files only, symlink safety, filters, exclusions, stable order (RELIABILITY C, A)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import unicodedata
from pathlib import Path

import pytest

from gui_app.core.plan import scan_options_for
from gui_app.core import scan as scan_module
from gui_app.core.scan import TEMP_MARKER, ScanEntry, is_own_file, natural_key, scan, sorted_in_pieces
from gui_app.core.specs import Code, Destination, OutputSpec


def _ok(entries) -> list[str]:
    return [e.relpath for e in entries if e.ok]


def _skipped(entries) -> dict[str, ScanEntry]:
    return {e.relpath: e for e in entries if not e.ok}


def _run_with_deadline(func, seconds: float = 10.0):
    """Run ``func`` in a thread; fail (instead of hanging the suite) if it blocks."""
    box: dict = {}

    def target():
        try:
            box["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "scan blocked (it must never open a FIFO)"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture
def tree(copy_corpus, tmp_path) -> Path:
    """in/ with real photos at several depths."""
    root = copy_corpus("formats/hopper.jpg", "formats/hopper.png")
    copy_corpus("camera/Canon_40D.jpg", dest=root / "sub")
    copy_corpus("formats/hopper.webp", dest=root / "sub" / "deeper")
    return root


def test_recursive_scan_finds_every_image_with_metadata(tree):
    entries = list(scan([str(tree)]))
    assert _ok(entries) == ["hopper.jpg", "hopper.png", os.path.join("sub", "Canon_40D.jpg"),
                            os.path.join("sub", "deeper", "hopper.webp")]
    first = entries[0]
    st = os.stat(tree / "hopper.jpg")
    assert first.path == str(tree / "hopper.jpg")
    assert first.root == str(tree)
    assert (first.size, first.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_non_recursive_scan_stays_in_the_folder(tree):
    assert _ok(scan([str(tree)], recursive=False)) == ["hopper.jpg", "hopper.png"]


def test_scan_is_a_lazy_generator(tree):
    gen = scan([str(tree)])
    assert next(gen).relpath == "hopper.jpg"  # yields before the whole tree is read


@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 100])
def test_sorting_in_pieces_gives_exactly_the_order_of_sorted(monkeypatch, count):
    """Big folders are sorted in pieces and merged (other threads get the
    GIL in between); the order must be sorted()'s, ties kept stable."""
    import random

    monkeypatch.setattr(scan_module, "SORT_PIECE", 8)
    rng = random.Random(count)
    names = [f"IMG_{rng.randint(1, 30)}{rng.choice(['', 'a', 'B'])}.jpg" for _ in range(count)]
    items = [(name, i) for i, name in enumerate(names)]  # equal names: the first stays first
    key = lambda item: natural_key(item[0])  # noqa: E731
    assert sorted_in_pieces(iter(items), key=key) == sorted(items, key=key)


def test_order_is_natural_and_stable(tmp_path):
    for name in ["img10.jpg", "img2.jpg", "IMG1.jpg", "b.png", "a.png"]:
        (tmp_path / name).write_bytes(b"x")
    expected = ["a.png", "b.png", "IMG1.jpg", "img2.jpg", "img10.jpg"]
    assert _ok(scan([str(tmp_path)])) == expected
    assert _ok(scan([str(tmp_path)])) == expected
    assert natural_key("img2") < natural_key("img10")


def test_only_image_extensions_unless_all_files(tmp_path):
    for name in ["a.jpg", "b.txt", "c.HEIC", "noext"]:
        (tmp_path / name).write_bytes(b"x")
    assert _ok(scan([str(tmp_path)])) == ["a.jpg", "c.HEIC"]
    assert _ok(scan([str(tmp_path)], all_files=True)) == ["a.jpg", "b.txt", "c.HEIC", "noext"]


def test_include_and_exclude_globs_case_insensitive_and_prune_folders(tree):
    assert _ok(scan([str(tree)], include=["*.JPG"])) == ["hopper.jpg", os.path.join("sub", "Canon_40D.jpg")]
    assert _ok(scan([str(tree)], exclude=["*.png", "deeper"])) == ["hopper.jpg", os.path.join("sub", "Canon_40D.jpg")]
    assert _ok(scan([str(tree)], exclude=["sub/*"])) == ["hopper.jpg", "hopper.png"]


def test_explicit_files_are_taken_as_named(tree, tmp_path):
    odd = tmp_path / "photo.data"
    shutil.copy(tree / "hopper.jpg", odd)
    entries = list(scan([str(odd), str(tree / "hopper.png")]))
    assert [(e.relpath, e.root) for e in entries] == [("photo.data", str(tmp_path)), ("hopper.png", str(tree))]


def test_missing_path_is_reported_not_raised(tmp_path):
    (entry,) = scan([str(tmp_path / "gone")])
    assert entry.skip_code == Code.READ_FAILED
    assert "cannot read" in entry.skip_reason


def test_each_real_file_once_with_overlapping_inputs_and_hard_links(tree):
    os.link(tree / "hopper.jpg", tree / "z_hardlink.jpg")  # same file: the first name wins
    entries = list(scan([str(tree), str(tree / "sub"), str(tree / "hopper.jpg")]))
    assert _ok(entries) == ["hopper.jpg", "hopper.png", os.path.join("sub", "Canon_40D.jpg"),
                            os.path.join("sub", "deeper", "hopper.webp")]


def test_hidden_temp_and_journal_files_are_ignored(tree):
    (tree / ".hidden.jpg").write_bytes(b"x")
    (tree / f".hopper.jpg{TEMP_MARKER}abc123").write_bytes(b"x")
    (tree / f"x{TEMP_MARKER}1.jpg").write_bytes(b"x")
    (tree / ".imagebatch-journal.jsonl").write_bytes(b"x")
    (tree / ".git").mkdir()
    (tree / ".git" / "a.jpg").write_bytes(b"x")
    assert _ok(scan([str(tree)], recursive=False)) == ["hopper.jpg", "hopper.png"]
    assert "x" not in "".join(_ok(scan([str(tree)], include_hidden=True)))  # temp files even then


def test_temp_marker_and_journal_name_match_the_writers():
    from gui_app.core import journal, worker

    assert worker.TEMP_MARKER == TEMP_MARKER
    assert is_own_file(journal.JOURNAL_NAME) and is_own_file(f".a.jpg{worker.TEMP_MARKER}0a1b2c3d")


# ---------------------------------------------------------------- not regular files (A, C)


def test_fifo_is_skipped_without_being_opened(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it for reading would block forever
    entries = _run_with_deadline(lambda: list(scan([str(tmp_path)])))
    assert _ok(entries) == ["a.jpg"]
    fifo = _skipped(entries)["pipe.jpg"]
    assert fifo.skip_code == Code.SKIPPED_NOT_REGULAR
    assert "FIFO" in fifo.skip_reason


def test_fifo_named_explicitly_is_skipped(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    (entry,) = _run_with_deadline(lambda: list(scan([str(tmp_path / "pipe.png")])))
    assert entry.skip_code == Code.SKIPPED_NOT_REGULAR


def test_socket_and_device_are_skipped(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = tmp_path / "s.jpg"
    try:
        sock.bind(str(path))
        os.symlink("/dev/null", tmp_path / "dev.jpg")
        entries = list(scan([str(tmp_path)], follow_symlinks=True))
        explicit = list(scan(["/dev/null"], all_files=True))
    finally:
        sock.close()
    skipped = _skipped(entries)
    assert skipped["s.jpg"].skip_code == Code.SKIPPED_NOT_REGULAR
    assert "socket" in skipped["s.jpg"].skip_reason
    # /dev/null is outside tmp_path, so the link is refused for escaping
    assert skipped["dev.jpg"].skip_code == Code.SKIPPED_NOT_REGULAR
    assert explicit[0].skip_code == Code.SKIPPED_NOT_REGULAR and "device" in explicit[0].skip_reason


def test_symlink_to_fifo_inside_root_is_skipped_when_following(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    os.symlink("pipe", tmp_path / "link.jpg")
    entries = _run_with_deadline(lambda: list(scan([str(tmp_path)], follow_symlinks=True)))
    assert _skipped(entries)["link.jpg"].skip_code == Code.SKIPPED_NOT_REGULAR
    assert "symbolic link to a named pipe" in _skipped(entries)["link.jpg"].skip_reason


# ---------------------------------------------------------------- symlinks (C)


def test_symlinks_are_not_followed_by_default(tree):
    os.symlink(tree / "sub", tree / "linkdir")
    os.symlink(tree / "hopper.jpg", tree / "linkfile.jpg")
    entries = list(scan([str(tree)]))
    assert len(_ok(entries)) == 4
    assert _skipped(entries)["linkfile.jpg"].skip_code == Code.SKIPPED_NOT_REGULAR
    assert "not followed" in _skipped(entries)["linkfile.jpg"].skip_reason
    assert not any("linkdir" in e.relpath for e in entries)


def test_symlink_loop_terminates_and_yields_each_file_once(tree):
    os.symlink("..", tree / "sub" / "up")  # sub/up -> in (a loop)
    os.symlink(".", tree / "self")
    os.symlink("loop_b", tree / "loop_a")  # a broken two-link loop
    os.symlink("loop_a", tree / "loop_b")
    entries = _run_with_deadline(lambda: list(scan([str(tree)], follow_symlinks=True)))
    ok = _ok(entries)
    assert sorted(ok) == sorted(["hopper.jpg", "hopper.png", os.path.join("sub", "Canon_40D.jpg"),
                                 os.path.join("sub", "deeper", "hopper.webp")])
    assert len(ok) == len(set(ok))


def test_followed_link_reports_the_real_path_first(tree):
    os.symlink(os.path.join("sub", "deeper"), tree / "aaa")  # sorts before the real folder
    entries = list(scan([str(tree)], follow_symlinks=True))
    assert os.path.join("sub", "deeper", "hopper.webp") in _ok(entries)
    assert not any(e.relpath.startswith("aaa") for e in entries)


def test_followed_link_to_a_folder_inside_root_is_walked(tree, tmp_path):
    shutil.move(str(tree / "sub" / "deeper"), str(tree / "elsewhere"))
    os.symlink("../elsewhere", tree / "sub" / "deeper")
    # elsewhere is walked directly too; the link adds nothing new
    assert len(_ok(scan([str(tree)], follow_symlinks=True))) == 4
    # scanning only sub: the link leads outside that root -> refused
    entries = list(scan([str(tree / "sub")], follow_symlinks=True))
    assert _ok(entries) == ["Canon_40D.jpg"]


def test_symlink_escaping_the_root_is_never_followed(tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(tree / "hopper.jpg", outside / "secret.jpg")
    os.symlink(outside, tree / "escape_dir")
    os.symlink(outside / "secret.jpg", tree / "escape.jpg")
    entries = list(scan([str(tree)], follow_symlinks=True))
    assert not any("secret" in e.path for e in entries)
    assert "outside the input folder" in _skipped(entries)["escape.jpg"].skip_reason


# ---------------------------------------------------------------- exclusions (C)


def test_output_folder_inside_input_is_never_scanned(tree):
    out = tree / "out"
    output = OutputSpec(out_dir=str(out))
    before = _ok(scan([str(tree)], **scan_options_for(output)))  # out does not exist yet
    out.mkdir()
    shutil.copy(tree / "hopper.jpg", out / "hopper.jpg")  # "outputs of the first run"
    after = _ok(scan([str(tree)], **scan_options_for(output)))
    assert before == after and not any(p.startswith("out") for p in after)


def test_output_folder_excluded_through_a_different_spelling(tree):
    (tree / "out").mkdir()
    shutil.copy(tree / "hopper.jpg", tree / "out" / "x.jpg")
    os.symlink(tree, tree.parent / "alias")
    assert not any(p.startswith("out") for p in _ok(scan([str(tree)], exclude_dirs=[str(tree.parent / "alias" / "out")])))


def test_subfolder_destination_excludes_that_name_everywhere(tree):
    (tree / "sub" / "processed").mkdir()
    shutil.copy(tree / "hopper.jpg", tree / "sub" / "processed" / "hopper.jpg")
    output = OutputSpec(destination=Destination.SUBFOLDER.value, subfolder_name="processed")
    assert not any("processed" in p for p in _ok(scan([str(tree)], **scan_options_for(output))))


# ---------------------------------------------------------------- odd names (C)


def test_unicode_nfc_nfd_dash_emoji_and_long_names(tmp_path, corpus):
    names = [
        unicodedata.normalize("NFC", "café.jpg"),
        unicodedata.normalize("NFD", "café.jpg"),
        "-rf.jpg",
        "--help.png",
        "📷 holiday 🌴.jpg",
        "x" * 250 + ".jpg",
    ]
    for name in names:
        shutil.copy(corpus / "formats" / "hopper.jpg", tmp_path / name)
    found = _ok(scan([str(tmp_path)]))
    assert sorted(found) == sorted(names)  # NFC and NFD are different files on Linux: both kept
    for entry in scan([str(tmp_path)]):
        assert os.path.isfile(entry.path) and entry.size > 0


def test_unreadable_folder_is_reported(tree, monkeypatch):
    real_scandir = os.scandir

    def failing(path):
        if str(path).endswith("deeper"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", failing)
    entries = list(scan([str(tree)]))
    bad = [e for e in entries if e.skip_code == Code.READ_FAILED]
    assert len(bad) == 1 and "Permission denied" in bad[0].skip_reason
    assert _ok(entries) == ["hopper.jpg", "hopper.png", os.path.join("sub", "Canon_40D.jpg")]


def test_output_folder_given_as_the_input_is_still_walked(tree):
    # "outputs beside the inputs" chosen as folder == input: the user asked for it
    assert len(_ok(scan([str(tree)], exclude_dirs=[str(tree)]))) == 4
