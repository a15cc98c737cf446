"""Issue 4, item 1: adding inputs by drag and drop, dialogs' code path,
filters, lazy details, remove and clear."""

from __future__ import annotations

import shutil

from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtWidgets import QApplication

from gui_app.qt.compat import make_drag_enter, make_drop
from gui_app.qt.widgets.input_list import COL_DIMS, COL_FORMAT, COL_NAME, FOLDER_ROLE


def _drop(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    target = window.centralWidget()
    pos = QPoint(target.width() // 2, target.height() // 2)
    enter = make_drag_enter(pos, mime)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window should accept a drag of local files"
    drop = make_drop(pos, mime)
    QApplication.sendEvent(window, drop)
    return drop


def test_empty_state_invites_a_drop(window):
    assert window.input_stack.currentWidget() is window.empty_state
    assert "Drop" in window.empty_state.accessibleName()
    assert not window.start_action.isEnabled()


def test_dropping_a_real_corpus_folder_lists_its_images_with_details(window, qtbot, corpus):
    folder = corpus / "camera"
    expected = sorted(p.name for p in folder.iterdir() if p.suffix.lower() == ".jpg")
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        drop = _drop(window, [folder])
    assert drop.isAccepted()
    assert sorted(r.name for r in window.model.rows) == expected
    assert window.input_stack.currentIndex() == 1  # the list replaced the empty state
    assert window.count_label.text().startswith(f"{len(expected)} images")
    # Details are read lazily off the UI thread; wait for all of them.
    view = window.input_view
    view.resize(900, 2000)  # every row visible -> every row asks for details
    qtbot.waitUntil(lambda: all(r.details == 2 for r in window.model.rows), timeout=20_000)
    model = window.model
    for i, row in enumerate(model.rows):
        with Image.open(row.path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
        if orientation in (5, 6, 7, 8):
            w, h = h, w
        assert model.data(model.index(i, COL_DIMS)) == f"{w} × {h}"
        assert model.data(model.index(i, COL_FORMAT)) == "JPEG"
        assert model.data(model.index(i, COL_NAME), FOLDER_ROLE) == "camera"
        assert row.thumb is not None and max(row.thumb.width(), row.thumb.height()) <= 88


def test_drop_of_files_and_hostile_folder_never_raises(window, qtbot, corpus):
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        _drop(window, [corpus / "hostile", corpus / "formats" / "hopper.png"])
    names = {r.name for r in window.model.rows}
    assert "hopper.png" in names and "truncated_jpeg.jpg" in names
    window.input_view.resize(900, 3000)
    qtbot.waitUntil(lambda: not window.model.details_pending(), timeout=30_000)
    broken = [r for r in window.model.rows if r.details == 3]
    assert broken, "damaged files are marked unreadable"
    for row in broken:
        assert row.details_error and "Traceback" not in row.details_error


def test_filters_recursive_remove_and_clear(window, qtbot, tmp_path, corpus):
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for name in ("Landscape_1.jpg", "Landscape_2.jpg", "Portrait_1.jpg"):
        shutil.copy(corpus / "orientation" / name, root / name)
    shutil.copy(corpus / "orientation" / "Portrait_3.jpg", root / "sub" / "Portrait_3.jpg")
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.add_paths([str(root)])
    assert len(window.model.rows) == 4
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.recursive.setChecked(False)
    assert sorted(r.name for r in window.model.rows) == ["Landscape_1.jpg", "Landscape_2.jpg", "Portrait_1.jpg"]
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.include.setText("landscape_*")
        window.include.editingFinished.emit()
    assert sorted(r.name for r in window.model.rows) == ["Landscape_1.jpg", "Landscape_2.jpg"]
    window.input_view.setCurrentIndex(window.filter_model.index(0, 0))
    window.input_view.selectionModel().select(
        window.filter_model.index(0, 0),
        window.input_view.selectionModel().SelectionFlag.ClearAndSelect | window.input_view.selectionModel().SelectionFlag.Rows)
    window.remove_selected()
    assert [r.name for r in window.model.rows] == ["Landscape_2.jpg"]
    window.clear_inputs()
    assert window.model.rows == []
    assert window.input_stack.currentWidget() is window.empty_state


def test_app_opens_with_the_samples_or_the_given_paths(qtbot, qloop, corpus):
    from gui_app.qt.app import create_application, create_window

    create_application()
    window = create_window(None)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        pass
    assert len(window.model.rows) >= 5  # the bundled sample photos
    window.controller.shutdown()

    window = create_window([str(corpus / "formats" / "hopper.jpg"), "/no/such/file.jpg"])
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        pass
    assert [r.name for r in window.model.rows] == ["hopper.jpg"]
    assert any("/no/such/file.jpg does not exist" in line for line in window.log.lines())
    window.controller.shutdown()


def test_thumbnail_memory_is_bounded(window, qtbot, copy_corpus, monkeypatch):
    from gui_app.qt.widgets import input_list

    monkeypatch.setattr(input_list, "MAX_THUMBNAILS", 2)
    folder = copy_corpus("camera/Canon_40D.jpg", "camera/Nikon_D70.jpg", "camera/Pentax_K10D.jpg",
                         "formats/hopper.png")
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.add_paths([str(folder)])
    model = window.model
    for i in range(len(model.rows)):  # paint every row once
        model.data(model.index(i, 0), input_list.Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: not model.details_pending(), timeout=20_000)
    assert sum(r.thumb is not None for r in model.rows) <= 2
    assert all(r.width for r in model.rows)  # dimensions are kept
    assert model.total_size() == sum(p.stat().st_size for p in folder.iterdir())


def test_clicking_a_column_header_sorts_and_the_selection_follows_its_file(window, qtbot, tmp_path):
    """Sort by size (click), reversed (click), back to the order of adding
    (third click); the selected file stays selected; new files end the sort."""
    from PySide6.QtCore import QItemSelectionModel

    from gui_app.qt.widgets.input_list import COL_SIZE

    src = tmp_path / "in"
    src.mkdir()
    sizes = {"a.png": 300, "b.png": 40, "c.png": 120}
    for name, side in sizes.items():
        Image.effect_noise((side, side), 60).convert("RGB").save(src / name)
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.add_paths([str(src)])
    view, header = window.input_view, window.input_view.header()
    names = lambda: [r.name for r in window.model.rows]  # noqa: E731
    assert names() == ["a.png", "b.png", "c.png"] and header.sortIndicatorSection() == -1
    picked = window.filter_model.index(window.model.row_of(str(src / "c.png")), 0)
    view.selectionModel().setCurrentIndex(picked, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                          | QItemSelectionModel.SelectionFlag.Rows)
    by_size = sorted(sizes, key=lambda n: (src / n).stat().st_size)

    def click_size_header():
        x = header.sectionViewportPosition(COL_SIZE) + header.sectionSize(COL_SIZE) // 2
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))

    click_size_header()
    assert names() == by_size
    click_size_header()
    assert names() == by_size[::-1]
    current = view.currentIndex()
    assert window.model.rows[window.filter_model.mapToSource(current).row()].name == "c.png"
    assert [window.model.rows[window.filter_model.mapToSource(i).row()].name
            for i in view.selectionModel().selectedRows()] == ["c.png"]
    assert [window.model.row_of(str(src / n)) for n in by_size[::-1]] == [0, 1, 2], "lookups follow the rows"

    click_size_header()  # third click: back to the order of adding
    assert names() == ["a.png", "b.png", "c.png"] and header.sortIndicatorSection() == -1

    click_size_header()
    Image.new("RGB", (9, 9)).save(src / "d.png")
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.add_paths([str(src / "d.png")])
    assert names() == ["a.png", "b.png", "c.png", "d.png"], "adding files ends the sort"
    assert header.sortIndicatorSection() == -1
