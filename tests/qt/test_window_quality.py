"""Issue 4 quality bar: shortcuts, accessible names, tooltips, status bar,
drag highlight, and worker settings."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
)

from gui_app.qt.compat import make_drag_enter, make_drag_move
from gui_app.qt.views.main_window import MainWindow


def test_start_and_cancel_have_the_documented_shortcuts(window):
    assert QKeySequence("Ctrl+Return") in window.start_action.shortcuts()
    assert window.cancel_action.shortcut() == QKeySequence(Qt.Key.Key_Escape)
    assert window.add_files_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert "Ctrl+Return" in window.run_bar.start_button.toolTip() or not window.run_bar.start_button.isEnabled()


def test_every_control_has_an_accessible_name_or_label(window):
    unnamed = []
    checked = 0
    for widget in window.findChildren(QAbstractButton) + window.findChildren(QLineEdit) + \
            window.findChildren(QComboBox) + window.findChildren(QAbstractSpinBox):
        if widget.window() is not window or not widget.isVisibleTo(window):
            continue
        if type(widget).__name__ in ("QLineEdit",) and isinstance(widget.parent(), (QComboBox, QAbstractSpinBox)):
            continue  # the inner editor of a combo/spin box
        checked += 1
        named = widget.accessibleName() or (isinstance(widget, QAbstractButton) and widget.text()) or widget.toolTip()
        if not named and widget.objectName() not in ("qt_toolbar_ext_button",):
            unnamed.append(f"{type(widget).__name__} {widget.objectName()}")
    assert checked > 15
    assert unnamed == []


def test_drag_over_a_loaded_window_shows_the_drop_target(window, qtbot, corpus, load):
    load(window, [corpus / "formats" / "hopper.png"])
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(corpus / "camera"))])
    pos = QPoint(50, 50)
    enter = make_drag_enter(pos, mime)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted() and window.drop_overlay.isVisible()
    move = make_drag_move(pos, mime)
    QApplication.sendEvent(window, move)
    assert move.isAccepted()
    window.dragLeaveEvent(None)
    assert not window.drop_overlay.isVisible()
    remote = QMimeData()
    remote.setUrls([QUrl("https://example.com/a.jpg")])
    refused = make_drag_enter(pos, remote)
    QApplication.sendEvent(window, refused)
    assert not refused.isAccepted()


def test_worker_settings_show_the_scheduler_only_for_dask(window):
    settings = window.run_settings
    settings.set_values("processes", 4, None)
    assert settings.values() == ("processes", 4, None)
    assert not settings.scheduler.isVisibleTo(settings)
    settings.set_values("dask", None, "tcp://10.0.0.5:8786")
    assert settings.scheduler.isVisibleTo(settings)
    assert settings.values() == ("dask", None, "tcp://10.0.0.5:8786")


def test_window_has_icon_title_and_status_messages(window, qtbot, corpus):
    assert window.windowTitle() == "ImageBatch" and not window.windowIcon().isNull()
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.add_paths([str(corpus / "camera")])
    assert window.statusBar().currentMessage().startswith("Added 9 images")
    assert isinstance(window, MainWindow)
