"""Window size and the input table's columns on a small laptop screen."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import QApplication

from gui_app.qt.views.main_window import first_run_size, fit_rect

LAPTOP = QRect(0, 0, 1366, 768 - 32)  # available area under a 32 px panel


def test_first_run_size_fits_a_1366x768_laptop():
    size = first_run_size(LAPTOP)
    assert size.width() <= 0.9 * 1366 and size.height() <= 0.9 * LAPTOP.height()
    assert first_run_size(QRect(0, 0, 2560, 1440)) == QSize(1400, 860), "big screens get the full size"


def test_the_window_can_be_as_small_as_the_laptop_default(window):
    size = first_run_size(LAPTOP)
    minimum = window.minimumSize().expandedTo(window.minimumSizeHint()) if window.minimumSize().isEmpty() \
        else window.minimumSize()
    assert minimum.width() <= size.width() and minimum.height() <= size.height()


def test_fit_rect_shrinks_and_moves_inside_the_screen():
    assert fit_rect(QRect(5000, 5000, 3000, 2000), LAPTOP) == LAPTOP
    assert fit_rect(QRect(-300, 100, 800, 600), LAPTOP) == QRect(0, 100, 800, 600)
    assert fit_rect(QRect(1000, 500, 800, 600), LAPTOP) == QRect(566, 136, 800, 600)
    inside = QRect(10, 20, 800, 600)
    assert fit_rect(inside, LAPTOP) == inside


def test_restored_geometry_from_a_bigger_monitor_is_clamped_on_screen(make_window, qtbot):
    big = make_window()
    big.setGeometry(4000, 3000, 3800, 2400)  # saved on a 4K monitor that is gone now
    big.save_settings()
    saved = big.settings
    big.close()
    window = make_window(settings=saved)
    available = (QApplication.screenAt(window.frameGeometry().center()) or window.screen()).availableGeometry()
    frame = window.frameGeometry()
    assert available.contains(frame), (frame, available)


def test_fixed_columns_show_their_text_in_full_and_the_name_gets_the_spare_width(window, qtbot, corpus, load):
    from gui_app.qt.widgets.input_list import COL_DIMS, COL_FORMAT, COL_NAME, COL_SIZE, COL_STATUS, COLUMN_SAMPLES, COLUMNS

    assert window._split_when_shown is False, "a first run splits the width when the window shows"
    window.resize(first_run_size(LAPTOP))
    window.split_evenly()  # as on a first run at this size
    sizes = window.splitter.sizes()
    assert sizes[0] == max(sizes) and sizes[0] >= 0.4 * sum(sizes), "the image list gets the most"
    load(window, [corpus / "formats"])
    qtbot.waitUntil(lambda: not window.model.details_pending(), timeout=30_000)
    assert "HEIF/HEIC" in {r.format for r in window.model.rows}
    heic = next(i for i, r in enumerate(window.model.rows) if r.format == "HEIF/HEIC")
    assert window.model.index(heic, COL_FORMAT).data() == "HEIC"
    assert "HEIF/HEIC" in window.model.index(heic, COL_NAME).data(Qt.ItemDataRole.ToolTipRole)
    view, header = window.input_view, window.input_view.header()
    assert view.isColumnHidden(COL_STATUS), "no batch yet, nothing skipped: the names get the status width"
    assert header.sectionSize(COL_NAME) >= 200, "file names need room on a 1366-px laptop"
    window.model.reset_status({r.path for r in window.model.rows})  # a batch starts
    assert not view.isColumnHidden(COL_STATUS)
    header_metrics = header.fontMetrics()
    for col in (COL_DIMS, COL_FORMAT, COL_SIZE, COL_STATUS):
        assert view.sizeHintForColumn(col) <= header.sectionSize(col), f"column {col} cuts its text"
        assert header_metrics.horizontalAdvance(COLUMNS[col]) + 8 <= header.sectionSize(col), \
            f"header of column {col} is cut"
        header.setSortIndicator(col, Qt.SortOrder.AscendingOrder)  # sorted by it: its arrow shows too
        assert header.sectionSizeHint(col) <= header.sectionSize(col), f"header of sorted column {col} is cut"
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    metrics = view.fontMetrics()
    assert header.sectionSize(COL_FORMAT) > metrics.horizontalAdvance("HEIC") + 8
    assert all(header.sectionSize(c) > metrics.horizontalAdvance(max(t, key=len)) for c, t in COLUMN_SAMPLES.items())
    others = sum(header.sectionSize(c) for c in (COL_DIMS, COL_FORMAT, COL_SIZE, COL_STATUS))
    assert header.sectionSize(COL_NAME) >= view.viewport().width() - others - 1, "the name column gets the spare width"
    window.model.clear()
    assert view.isColumnHidden(COL_STATUS)


def test_plan_columns_share_the_width_and_labels_fit(window, qtbot, corpus, load):
    from gui_app.core.specs import OutputSpec

    window.resize(first_run_size(LAPTOP))
    window.split_evenly()
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(corpus.parent / "no-such-output")))
    window.center_tabs.setCurrentWidget(window.plan_panel)
    load(window, [corpus / "camera"])
    view = window.plan_panel.view
    header = view.header()
    assert abs(header.sectionSize(0) - header.sectionSize(1)) <= 1, "input and output share the spare width"
    assert view.sizeHintForColumn(2) <= header.sectionSize(2)
    assert header.sectionSizeHint(2) <= header.sectionSize(2), "the 'What happens' header is cut"


def test_status_column_shows_when_the_plan_will_skip_a_file(window):
    from gui_app.core.scan import ScanEntry
    from gui_app.qt.widgets.input_list import COL_STATUS, WILL_SKIP

    view, model = window.input_view, window.model
    model.add_entries([ScanEntry("/in/a.jpg", "/in", "a.jpg", 10, 1)])
    assert view.isColumnHidden(COL_STATUS)
    model.add_entries([ScanEntry("/in/pipe.jpg", "/in", "pipe.jpg", 0, 1, skip_code="SKIPPED_NOT_REGULAR",
                                 skip_reason="not a regular file")])
    assert not view.isColumnHidden(COL_STATUS)
    assert model.index(1, COL_STATUS).data() == WILL_SKIP
    model.remove_rows([1])
    assert view.isColumnHidden(COL_STATUS)
