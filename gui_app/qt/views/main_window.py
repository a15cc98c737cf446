"""The main window: inputs on the left, preview/plan/log in the middle,
pipeline and output settings on the right, the run bar at the bottom.

The window arranges widgets and wires them together; the work is done by the
core (scan, plan, engine preview, runner) through helper threads and the
BatchController, so no slot here ever blocks the UI thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import html
import itertools
import os
import time

from PySide6.QtCore import QRect, QSize, QStandardPaths, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QApplication,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui_app import APP_NAME
from gui_app.core import registry
from gui_app.core.specs import Limits, OpSpec, OutputSpec, Pipeline, SpecError, Status

from .. import pacing, tasks
from ..compat import human_duration, human_size
from ..controller import BatchController, plan_tasks
from ..icons import app_icon, bind, icon
from ..settings import Settings
from ..widgets.drop_zone import DropOverlay, EmptyState, local_paths
from ..widgets.input_list import COL_STATUS, FAILED, InputModel, InputView, StatusFilter
from ..widgets.output_settings import OutputSettings
from ..widgets.pipeline_editor import PipelineEditor
from ..widgets.plan_table import PlanPanel
from ..widgets.preset_bar import CUSTOM, PresetBar
from ..widgets.preview import PreviewPanel
from ..widgets.run_panel import LogPane, RunBar, RunSettings, unfinished_counts
from ..widgets.variants_dialog import VariantsDialog, describe_variants

#: The pipeline a first-time user starts with (DESIGN.md §1's example).
DEFAULT_PIPELINE = Pipeline(steps=(
    OpSpec.make("auto_orient"),
    OpSpec.make("resize", mode="long_edge", long_edge=2048),
    OpSpec.make("metadata", mode="strip_gps"),
    OpSpec.make("encode", format="webp", quality=80),
))
SCAN_BATCH = 400
#: How long closing waits for a cancelled batch before killing its workers.
CLOSE_DEADLINE_MS = 20_000
RECENT_MAX = 8


def default_output_folder() -> str:
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return os.path.join(pictures or os.path.expanduser("~"), "ImageBatch")


def reports_folder() -> str:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return os.path.join(base or os.path.expanduser("~/.imagebatch"), "reports")


#: A change of the worker settings warms the new pool up after this quiet time
#: (typing "12" workers must not start a pool of 1 first).
WARM_UP_DEBOUNCE_MS = 1000
#: First-run shares of the width: image list, settings (at least
#: SETTINGS_MIN_WIDTH); the preview gets the rest.
SPLIT_FRACTIONS = (0.42, 0.26)
#: The settings forms need this much to show without a horizontal scroll bar.
SETTINGS_MIN_WIDTH = 370


def first_run_size(available: QRect, preferred: QSize = QSize(1400, 860), fraction: float = 0.9) -> QSize:
    """The preferred window size, but at most ``fraction`` of the available
    screen area (the window frame and a panel must fit too)."""
    return QSize(min(preferred.width(), int(available.width() * fraction)),
                 min(preferred.height(), int(available.height() * fraction)))


def fit_rect(rect: QRect, available: QRect) -> QRect:
    """``rect`` shrunk to fit in ``available`` and moved inside it."""
    width, height = min(rect.width(), available.width()), min(rect.height(), available.height())
    x = min(max(rect.x(), available.left()), available.left() + available.width() - width)
    y = min(max(rect.y(), available.top()), available.top() + available.height() - height)
    return QRect(x, y, width, height)


def human_error(path: str, message: str) -> str:
    """'photo.heic: this file is damaged (truncated)'."""
    return f"{os.path.basename(path)}: {message or 'failed'}"


def _section(title: str) -> QLabel:
    label = QLabel(title)
    label.setProperty("role", "section")
    return label


class MainWindow(QMainWindow):
    """Signals: ``plan_ready`` after the plan table is refreshed,
    ``scan_finished`` after a background scan has listed its files,
    ``batch_done(summary)`` after a batch's summary is shown."""

    plan_ready = Signal()
    scan_finished = Signal()
    batch_done = Signal(object)
    example_ready = Signal()

    def __init__(self, settings: Settings | None = None, limits: Limits | None = None, parent=None):
        super().__init__(parent)
        self.settings = settings or Settings()
        self.limits = limits or Limits()
        self.controller = BatchController(self, self.limits)
        self.model = InputModel(self, self.limits)
        self.filter_model = StatusFilter(self)
        self.filter_model.setSourceModel(self.model)
        self._roots: list[str] = []
        self._scans = 0
        self._scan_generation = 0
        self._close_after_batch = False
        self._quit_without_asking = False  # SIGTERM / SIGINT
        self._split_when_shown = False
        self._warm_up_on_change = False  # set once the app has warmed the first pool
        self._example_generation = 0
        self._example_running = False
        self._check_on_screen_when_shown = False
        self._starting = False  # planning before the runner starts
        self._closing_confirmed = False
        self._last_output_root: str | None = None
        self._last_summary = None
        self._variant_steps: tuple = ()  # (suffix, extra steps) of a fan-out preset
        self._results_since_settle = 0
        self._applying_preset = False
        self.summary_box: QMessageBox | None = None

        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setMinimumSize(QSize(720, 480))
        self._build_actions()
        self._build_ui()
        self._connect()
        self._restore()
        self._update_inputs_state()
        self._update_run_state()

    # ================================================================ build
    def _action(self, icon_name: str | None, text: str, tip: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if icon_name:
            bind(action, icon_name)
        action.setToolTip(tip + (f" ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})" if shortcut else ""))
        action.setStatusTip(tip)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.add_folder_action = self._action("add-folder", "Add folder…", "Add a folder of images",
                                              self.choose_folder, QKeySequence("Ctrl+Shift+O"))
        self.add_files_action = self._action("add-files", "Add files…", "Add image files",
                                             self.choose_files, QKeySequence.StandardKey.Open)
        self.remove_action = self._action("remove", "Remove", "Remove the selected inputs from the list",
                                          self.remove_selected)
        self.clear_action = self._action("clear", "Clear", "Remove every input from the list", self.clear_inputs)
        self.start_action = self._action(None, "Start", "Process every input", self.start_batch,
                                         QKeySequence("Ctrl+Return"))
        self.start_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.cancel_action = self._action(None, "Cancel", "Stop the batch", self.cancel_batch,
                                          QKeySequence(Qt.Key.Key_Escape))
        self.retry_action = self._action("retry", "Retry failed", "Run the failed files again", self.retry_failed)
        self.open_output_action = self._action("open-folder", "Open output folder", "Show the outputs in the file manager",
                                               self.open_output_folder)
        self.quit_action = self._action(None, "Quit", "Close ImageBatch", self.close, QKeySequence.StandardKey.Quit)

    def _build_ui(self) -> None:
        # Menus (File / Batch / Help) mirror the toolbar for keyboard users.
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.add_folder_action)
        menu.addAction(self.add_files_action)
        self.recent_menu = menu.addMenu("Recent folders")
        menu.addSeparator()
        menu.addAction(self.quit_action)
        batch = self.menuBar().addMenu("&Batch")
        for a in (self.start_action, self.cancel_action, self.retry_action, self.open_output_action):
            batch.addAction(a)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("About ImageBatch", self.show_about)

        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.add_folder_action, self.add_files_action):
            toolbar.addAction(a)
        toolbar.addSeparator()
        for a in (self.remove_action, self.clear_action):
            toolbar.addAction(a)
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding, spacer.sizePolicy().verticalPolicy())
        toolbar.addWidget(spacer)
        toolbar.addAction(self.retry_action)
        toolbar.addAction(self.open_output_action)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

        # ---- left: inputs
        self.empty_state = EmptyState()
        self.input_view = InputView()
        self.input_view.setModel(self.filter_model)
        self.input_view.setColumnHidden(COL_STATUS, not self.model.status_visible())
        self.model.status_visible_changed.connect(lambda on: self.input_view.setColumnHidden(COL_STATUS, not on))
        self.recursive = QCheckBox("Include sub-folders")
        self.recursive.setChecked(True)
        self.recursive.setToolTip("Search the sub-folders of added folders too")
        self.include = QLineEdit()
        self.include.setPlaceholderText("Only: *.jpg")
        self.include.setToolTip("Only files matching these patterns (separate with spaces or commas)")
        self.include.setAccessibleName("Include filter")
        self.exclude = QLineEdit()
        self.exclude.setPlaceholderText("Except: *_small.*")
        self.exclude.setToolTip("Leave out files matching these patterns")
        self.exclude.setAccessibleName("Exclude filter")
        for edit in (self.include, self.exclude):
            edit.setClearButtonEnabled(True)
        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.recursive)
        filters.addWidget(self.include, 1)
        filters.addWidget(self.exclude, 1)
        self.count_label = QLabel("")
        self.count_label.setAccessibleName("Input count and size")
        self.failed_only = QCheckBox("Show failed only")
        self.failed_only.setToolTip("List only the files that failed in the last batch")
        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addWidget(self.count_label, 1)
        footer.addWidget(self.failed_only)
        list_page = QWidget()
        list_layout = QVBoxLayout(list_page)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addLayout(filters)
        list_layout.addWidget(self.input_view, 1)
        list_layout.addLayout(footer)
        self.input_stack = QStackedWidget()
        self.input_stack.addWidget(self.empty_state)
        self.input_stack.addWidget(list_page)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(10, 8, 4, 4)
        left_layout.addWidget(_section("Images"))
        left_layout.addWidget(self.input_stack, 1)

        # ---- middle: preview / plan / log
        self.preview = PreviewPanel(limits=self.limits)
        self.plan_panel = PlanPanel()
        self.log = LogPane()
        self.center_tabs = QTabWidget()
        self.center_tabs.setDocumentMode(True)
        self.center_tabs.addTab(self.preview, icon("split"), "Preview")
        self.center_tabs.addTab(self.plan_panel, icon("plan"), "Plan")
        self.center_tabs.addTab(self.log, icon("log"), "Log")
        self.center_tabs.setAccessibleName("Preview, plan and log")
        self._center_tab_icons = ("split", "plan", "log")

        # ---- right: preset, steps, output, workers
        self.pipeline_editor = PipelineEditor()
        self.preset_bar = PresetBar(self._preset_from_editor)
        self.output_settings = OutputSettings()
        self.run_settings = RunSettings()
        steps_page = QWidget()
        steps_layout = QVBoxLayout(steps_page)
        steps_layout.setContentsMargins(8, 8, 8, 8)
        steps_layout.addWidget(self.preset_bar)
        self.variant_note = QLabel("")
        self.variant_note.setWordWrap(True)
        self.variant_note.setProperty("role", "hint")
        self.variant_note.hide()
        steps_layout.addWidget(self.variant_note)
        self.variants_button = QToolButton()
        self.variants_button.setText("Several outputs…")
        bind(self.variants_button, "outputs")
        self.variants_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.variants_button.setAutoRaise(True)
        self.variants_button.setAccessibleName("Outputs per image")
        self.variants_button.setToolTip("Write each image several times, e.g. in several sizes or formats")
        self.variants_button.clicked.connect(self.edit_variants)
        self.pipeline_editor.add_tool(self.variants_button)
        steps_layout.addWidget(self.pipeline_editor, 1)
        output_page = QWidget()
        output_layout = QVBoxLayout(output_page)
        output_layout.setContentsMargins(8, 8, 8, 8)
        output_layout.addWidget(_section("Output"))
        output_layout.addWidget(self.output_settings)
        output_layout.addSpacing(10)
        output_layout.addWidget(_section("Processing"))
        output_layout.addWidget(self.run_settings)
        output_layout.addStretch(1)
        output_scroll = QScrollArea()
        output_scroll.setWidgetResizable(True)
        output_scroll.setFrameShape(QFrame.Shape.NoFrame)
        output_scroll.setWidget(output_page)
        self.settings_tabs = QTabWidget()
        self.settings_tabs.setDocumentMode(True)
        self.settings_tabs.addTab(steps_page, icon("settings"), "Steps")
        self.settings_tabs.addTab(output_scroll, icon("open-folder"), "Output")
        self.settings_tabs.setAccessibleName("Settings")
        self._settings_tab_icons = ("settings", "open-folder")

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.center_tabs)
        self.splitter.addWidget(self.settings_tabs)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setStretchFactor(2, 3)
        self.splitter.setSizes([540, 480, 380])  # until shown; then split_evenly()

        self.run_bar = RunBar()
        self.run_bar.start_button.clicked.connect(self.start_batch)
        self.run_bar.cancel_button.clicked.connect(self.cancel_batch)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self.splitter, 1)
        central_layout.addWidget(line)
        central_layout.addWidget(self.run_bar)
        self.setCentralWidget(central)
        self.drop_overlay = DropOverlay(central)
        self.statusBar().showMessage("Ready", 3000)

        self._plan_timer = QTimer(self)
        self._plan_timer.setSingleShot(True)
        self._plan_timer.setInterval(300)
        self._plan_timer.timeout.connect(self.refresh_plan)
        self._warm_up_timer = QTimer(self)
        self._warm_up_timer.setSingleShot(True)
        self._warm_up_timer.setInterval(WARM_UP_DEBOUNCE_MS)
        self._warm_up_timer.timeout.connect(self.warm_up_workers)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(500)
        self._save_timer.timeout.connect(self._save_when_idle)
        self._save_pending = False
        self._plan_generation = 0

    def _connect(self) -> None:
        self.empty_state.add_folder.connect(self.choose_folder)
        self.empty_state.add_files.connect(self.choose_files)
        self.empty_state.open_samples.connect(self.open_samples)
        self.model.totals_changed.connect(self._update_inputs_state)
        self.input_view.selectionModel().currentRowChanged.connect(lambda *_: self._update_preview())
        self.recursive.toggled.connect(self._filters_changed)
        self.include.editingFinished.connect(self._filters_changed)
        self.exclude.editingFinished.connect(self._filters_changed)
        self.failed_only.toggled.connect(self.filter_model.set_failed_only)
        self.pipeline_editor.pipeline_changed.connect(self._pipeline_changed)
        self.output_settings.changed.connect(self._settings_changed)
        self.run_settings.changed.connect(self._schedule_save)
        self.run_settings.changed.connect(self._schedule_warm_up)
        self.preset_bar.preset_chosen.connect(self.apply_preset)
        self.preset_bar.custom_chosen.connect(self._custom_chosen)
        self.preset_bar.message.connect(self.show_message)
        self.center_tabs.currentChanged.connect(lambda _i: self._schedule_plan())
        c = self.controller
        c.started.connect(self._batch_started)
        c.files_started.connect(self.model.mark_started)
        c.file_finished.connect(self._files_finished)
        c.progress_info.connect(self.run_bar.show_progress)
        c.finished.connect(self._batch_finished)
        c.running_changed.connect(lambda _r: self._update_run_state())

    # ============================================================= settings
    def _restore(self) -> None:
        s = self.settings
        geometry = s.get_bytes("window/geometry")
        if not geometry.isEmpty() and self.restoreGeometry(geometry):
            self._keep_on_screen()  # saved on a bigger or a disconnected monitor
            self._check_on_screen_when_shown = True  # again with the frame known
        else:
            self.resize(self._first_run_size())
        splitter = s.get_bytes("window/splitter")
        if splitter.isEmpty() or not self.splitter.restoreState(splitter):
            self._split_when_shown = True
        pipeline = DEFAULT_PIPELINE
        data = s.get_json("pipeline/steps")
        if isinstance(data, list):
            try:
                pipeline = registry.validate_pipeline(Pipeline.from_list(data))
            except SpecError:  # edited by hand or from an older version
                pipeline = DEFAULT_PIPELINE
        self.pipeline_editor.set_pipeline(pipeline)
        self.output_settings.set_output_spec(self._output_from_settings(s.get_json("output/spec")))
        self.run_settings.set_values(s.get_str("run/mode", "auto"), s.get_int("run/workers", 0) or None,
                                     s.get_str("run/scheduler", "") or None)
        self.run_settings.set_transfer(s.get_str("run/transfer", "shared"))
        self.recursive.setChecked(s.get_bool("inputs/recursive", True))
        self.include.setText(s.get_str("inputs/include", ""))
        self.exclude.setText(s.get_str("inputs/exclude", ""))
        self.preview.side_button.setChecked(s.get_bool("preview/side_by_side", False))
        self.preset_bar.select(s.get_str("preset/name", CUSTOM))
        self._variant_steps = self._variants_from_settings(s.get_json("pipeline/variants"))
        self._update_variant_note()
        self._update_recent_menu()

    def _variants_from_settings(self, data) -> tuple:
        """The remembered outputs per image. Settings from before they were
        saved: those of the chosen fan-out preset. Unusable data: one output."""
        from gui_app.core.presets import parse_variants

        if data is None:
            preset = self.preset_bar.current_preset()
            return tuple(preset.variant_steps) if preset is not None else ()
        try:
            return parse_variants(data)
        except SpecError:  # edited by hand or from an older version
            return ()

    @staticmethod
    def _output_from_settings(data) -> OutputSpec:
        """The remembered OutputSpec; a field of the wrong type keeps its default."""
        default = OutputSpec(out_dir=default_output_folder())
        if not isinstance(data, dict):
            return default
        values = {}
        for f in dataclasses.fields(OutputSpec):
            value, current = data.get(f.name, getattr(default, f.name)), getattr(default, f.name)
            if f.name in ("out_dir", "backup_dir"):
                ok = value is None or isinstance(value, str)
            else:
                ok = type(value) is type(current)
            values[f.name] = value if ok else current
        return OutputSpec(**values)

    def _first_run_size(self) -> QSize:
        """1400×860, or 90 % of a smaller screen (a 1366×768 laptop gets ~1229×650)."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return QSize(1400, 860)
        return first_run_size(screen.availableGeometry())

    def _keep_on_screen(self) -> None:
        """Shrink and move a restored window so all of it is on a screen."""
        if self.isMaximized() or self.isFullScreen():
            return
        frame = self.frameGeometry()
        screen = QApplication.screenAt(frame.center()) or self.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        fitted = fit_rect(frame, screen.availableGeometry())
        if fitted != frame:
            extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
            self.resize(max(1, fitted.width() - extra_w), max(1, fitted.height() - extra_h))
            self.move(fitted.topLeft())

    def save_settings(self) -> None:
        s = self.settings
        s.set_bytes("window/geometry", self.saveGeometry())
        s.set_bytes("window/splitter", self.splitter.saveState())
        s.set_json("pipeline/steps", self.pipeline_editor.pipeline().to_list())
        s.set_json("pipeline/variants", [{"suffix": suffix, "steps": steps.to_list()}
                                         for suffix, steps in self._variant_steps])
        s.set_json("output/spec", self.output_settings.output_spec().to_dict())
        mode, workers, scheduler = self.run_settings.values()
        s.set("run/mode", mode)
        s.set("run/workers", workers or 0)
        s.set("run/scheduler", scheduler or "")
        s.set("run/transfer", self.run_settings.transfer())
        s.set("inputs/recursive", self.recursive.isChecked())
        s.set("inputs/include", self.include.text())
        s.set("inputs/exclude", self.exclude.text())
        s.set("preview/side_by_side", self.preview.side_button.isChecked())
        s.set("preset/name", self.preset_bar.current_name())
        s.sync()

    def _schedule_save(self) -> None:
        self._save_timer.start()

    def _save_when_idle(self) -> None:
        """The debounced save. Not during a batch: writing the settings file
        can take hundreds of ms on a busy disk (measured 400 ms), a visible
        freeze; the batch's end saves instead."""
        if self.controller.is_running or self._starting:
            self._save_pending = True
            return
        self.save_settings()

    def _remember_folder(self, folder: str) -> None:
        recent = [f for f in self.settings.get_list("inputs/recent") if f != folder]
        recent.insert(0, folder)
        self.settings.set_json("inputs/recent", recent[:RECENT_MAX])
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.get_list("inputs/recent")
        for folder in recent:
            action = self.recent_menu.addAction(folder)
            action.setData(folder)
            action.triggered.connect(self._open_recent)
        self.recent_menu.setEnabled(bool(recent))

    def _open_recent(self) -> None:
        folder = self.sender().data()
        if folder and os.path.isdir(folder):
            self.add_paths([folder])
        else:
            self.show_message(f"{folder} no longer exists.")

    # =============================================================== inputs
    def choose_folder(self) -> None:
        start = (self.settings.get_list("inputs/recent") or [os.path.expanduser("~")])[0]
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of images", start)
        if folder:
            self.add_paths([folder])

    def choose_files(self) -> None:
        start = (self.settings.get_list("inputs/recent") or [os.path.expanduser("~")])[0]
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add images", start,
            "Images (*.jpg *.jpeg *.png *.webp *.avif *.heic *.heif *.tif *.tiff *.gif *.bmp);;All files (*)")
        if files:
            self.add_paths(files)

    def open_samples(self) -> None:
        from gui_app.resources_path import sample_folder

        self.add_paths([str(sample_folder())], remember=False)

    def add_paths(self, paths: list[str], remember: bool = True) -> None:
        """Add files and folders; folders are scanned in the background."""
        paths = [os.path.abspath(p) for p in paths if p]
        if not paths:
            return
        for p in paths:
            if p not in self._roots:
                self._roots.append(p)
            if remember and os.path.isdir(p):
                self._remember_folder(p)
        self._scan(paths)

    def _scan_options(self) -> dict:
        from gui_app.core.plan import scan_options_for

        def patterns(text: str) -> tuple[str, ...]:
            return tuple(p for p in text.replace(",", " ").split() if p)

        options = dict(scan_options_for(self.output_settings.output_spec()))
        options.update(recursive=self.recursive.isChecked(), include=patterns(self.include.text()),
                       exclude=patterns(self.exclude.text()))
        return options

    def _scan(self, paths: list[str]) -> None:
        from gui_app.core.scan import scan

        options = self._scan_options()
        generation = self._scan_generation
        iterator = pacing.paced(scan(paths, **options))

        def next_batch():
            return list(itertools.islice(iterator, SCAN_BATCH))

        async def run():
            found = 0
            self._scans += 1
            try:
                while True:
                    batch = await tasks.run_blocking(next_batch)
                    if generation != self._scan_generation:
                        return
                    if not batch:
                        break
                    found += self.model.add_entries(batch)
                    pacing.settle()
                    self.statusBar().showMessage(f"Looking for images… {len(self.model.rows)} found")
            finally:
                self._scans -= 1
            self.statusBar().showMessage(f"Added {found} image{'s' if found != 1 else ''}.", 5000)
            if found and self.input_view.currentIndex().row() < 0:
                self.input_view.setCurrentIndex(self.filter_model.index(0, 0))
            self._schedule_plan()
            self._update_example()  # the example now uses the first real input
            self.scan_finished.emit()

        tasks.spawn(run(), on_error=lambda exc: self.show_message(f"Scanning stopped: {exc}"), owner=self)

    @property
    def is_scanning(self) -> bool:
        return self._scans > 0

    def _filters_changed(self, *_args) -> None:
        self._schedule_save()
        if self._roots:
            roots = list(self._roots)
            self._scan_generation += 1
            self.model.clear()
            self._scan(roots)

    def remove_selected(self) -> None:
        rows = sorted({self.filter_model.mapToSource(i).row() for i in self.input_view.selectionModel().selectedRows()})
        self.model.remove_rows(rows)
        self._schedule_plan()

    def clear_inputs(self) -> None:
        self._scan_generation += 1
        self._roots.clear()
        self.model.clear()
        self._schedule_plan()

    def _update_inputs_state(self) -> None:
        count = len(self.model.rows)
        self.input_stack.setCurrentIndex(1 if count else 0)
        noun = "image" if count == 1 else "images"
        self.count_label.setText(f"{count} {noun} · {human_size(self.model.total_size())}" if count else "")
        self.remove_action.setEnabled(count > 0)
        self.clear_action.setEnabled(count > 0)
        self._update_run_state()
        if not count:
            self.preview.request(None, None)

    # ------------------------------------------------------------ drag/drop
    def dragEnterEvent(self, event) -> None:
        if local_paths(event.mimeData()) and not self.controller.is_running:
            event.acceptProposedAction()
            self._show_drop_target(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if local_paths(event.mimeData()) and not self.controller.is_running:
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._show_drop_target(False)

    def dropEvent(self, event) -> None:
        self._show_drop_target(False)
        paths = local_paths(event.mimeData())
        if not paths or self.controller.is_running:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    def _show_drop_target(self, on: bool) -> None:
        self.empty_state.set_highlight(on)
        if on and self.input_stack.currentIndex() == 1:
            self.drop_overlay.setGeometry(self.centralWidget().rect())
            self.drop_overlay.raise_()
            self.drop_overlay.show()
        else:
            self.drop_overlay.hide()

    # ======================================================= pipeline/output
    def current_pipeline(self) -> Pipeline | None:
        try:
            return self.pipeline_editor.valid_pipeline()
        except SpecError:
            return None

    def _preset_from_editor(self, name: str, description: str):
        from gui_app.core.presets import Preset

        output = self.output_settings.output_spec()
        overrides = {k: v for k, v in output.to_dict().items()
                     if k in ("template", "overwrite", "keep_dates", "keep_structure", "destination", "subfolder_name")}
        return Preset(name=name, description=description, pipeline=self.pipeline_editor.valid_pipeline(),
                      output=overrides, builtin=False, variant_steps=self._variant_steps)

    def _variants(self, pipeline: Pipeline | None = None) -> tuple:
        """(suffix, full pipeline) per output when a fan-out preset is active."""
        base = pipeline or self.current_pipeline() or Pipeline()
        return tuple((suffix, Pipeline(base.steps + extra.steps)) for suffix, extra in self._variant_steps)

    def apply_preset(self, preset) -> None:
        self._applying_preset = True
        try:
            self._variant_steps = tuple(preset.variant_steps)
            self.pipeline_editor.set_pipeline(preset.pipeline)
            overrides = dict(preset.output or {})
            if overrides:
                self.output_settings.apply_overrides(overrides)
        finally:
            self._applying_preset = False
        self._update_variant_note()
        count = len(self._variant_steps)
        note = f" ({count} outputs per image)" if count else ""
        self.show_message(f"Preset “{preset.name}” loaded{note}.")
        self._update_preview()
        self._settings_changed()

    def _update_variant_note(self) -> None:
        if self._variant_steps:
            self.variant_note.setText(describe_variants(self._variant_steps))
        self.variant_note.setVisible(bool(self._variant_steps))
        self.variants_button.setText("Edit outputs…" if self._variant_steps else "Several outputs…")

    def edit_variants(self) -> None:
        """The outputs-per-image dialog (window-modal, not during a batch)."""
        if self.controller.is_running or self._starting:
            return
        dialog = VariantsDialog(self._variant_steps, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.set_variants(dialog.variants()))
        self.variants_dialog = dialog
        dialog.open()

    def set_variants(self, variants) -> None:
        """Use these (suffix, own steps) outputs per image; () for one output."""
        variants = tuple(variants)
        if variants == self._variant_steps:
            return
        self._variant_steps = variants
        self._update_variant_note()
        self._pipeline_changed()  # no longer the chosen preset; preview, plan and settings follow

    def _custom_chosen(self) -> None:
        self._variant_steps = ()
        self._update_variant_note()
        self._settings_changed()

    def _pipeline_changed(self) -> None:
        if not self._applying_preset:
            self.preset_bar.mark_custom()
        self._update_preview()
        self._settings_changed()

    def _settings_changed(self) -> None:
        self._update_example()
        self._schedule_plan()
        self._schedule_save()
        self._update_run_state()

    def _update_example(self) -> None:
        """Show the first input's output name for the current settings.

        Working it out reads that file's header (for size and EXIF tokens),
        which can take long on a slow network drive: it runs on a helper
        thread, one at a time. Settings changed meanwhile are picked up when
        it returns (only the newest answer is shown; ``example_ready`` then)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # built before the event loop runs (app start): once it does
            QTimer.singleShot(0, self, self._update_example)
            return
        self._example_generation += 1
        if self._example_running:
            return  # the running loop goes again with the newest settings
        self._example_running = True
        tasks.spawn(self._example_loop(), owner=self,
                    on_error=lambda exc: self._example_failed(exc))

    async def _example_loop(self) -> None:
        try:
            while True:
                generation = self._example_generation
                text, problem = await self._example_text()
                if generation == self._example_generation:
                    self.output_settings.set_example(text, problem=problem)
                    self.example_ready.emit()
                    return
        finally:
            self._example_running = False

    def _example_failed(self, exc: BaseException) -> None:
        self._example_running = False
        self.output_settings.set_example(f"Name template: {exc}", problem=True)
        self.example_ready.emit()

    async def _example_text(self) -> tuple[str, bool]:
        from gui_app.core import plan

        pipeline = self.current_pipeline()
        if pipeline is None:
            return "Fix the step settings to see an example name.", True
        sample = self.model.rows[0].path if self.model.rows else None
        output = self.output_settings.output_spec()
        variant = self._variant_steps[0][0] if self._variant_steps else ""
        try:
            name = await tasks.run_blocking(
                functools.partial(plan.example_output_name, limits=self.limits, variant=variant),
                output, pipeline, sample)
        except SpecError as exc:
            return f"Name template: {exc.reason}", True
        except Exception as exc:  # noqa: BLE001 - shown as a sentence, not a traceback
            return f"Name template: {exc}", True
        source = os.path.basename(sample) if sample else "IMG_0001.jpg"
        return f"Example: {source} → {name}", False

    def _update_preview(self) -> None:
        index = self.input_view.currentIndex()
        if not index.isValid():
            self.preview.request(None, None)
            return
        row = self.model.rows[self.filter_model.mapToSource(index).row()]
        pipeline = self.current_pipeline()
        if self._variant_steps and pipeline is not None:
            pipeline = self._variants(pipeline)[-1][1]
        self.preview.request(row.path, pipeline)

    # ================================================================= plan
    def _schedule_plan(self) -> None:
        """Re-plan soon, if the Plan tab is showing (it is planned afresh at
        Start anyway; no need to re-plan 100,000 files on every keystroke)."""
        self._plan_generation += 1
        if self.center_tabs.currentWidget() is self.plan_panel:
            self._plan_timer.start()

    def _output_problem(self, output: OutputSpec) -> str | None:
        from gui_app.core.plan import check_output_dir

        if output.destination == "folder":
            return check_output_dir(output.out_dir)
        return None

    def _make_plan_now(self, entries, pipeline, output):
        from gui_app.core.plan import make_plan

        return make_plan(entries, pipeline, output, self.limits, variants=self._variants(pipeline),
                         pace=pacing.make_way)

    def _plan_for_batch(self, entries, pipeline, output) -> tuple:
        """(plan, input paths that will run, its one-line description): what
        Start needs from every item, worked out in a helper thread."""
        plan = self._make_plan_now(entries, pipeline, output)
        return plan, {i.input_path for i in plan.items if i.task is not None}, plan.describe()

    def refresh_plan(self) -> None:
        if not self.model.rows:
            self.plan_panel.set_message("Add images to see what will be written.")
            self.plan_ready.emit()
            return
        pipeline = self.current_pipeline()
        output = self.output_settings.output_spec()
        if pipeline is None:
            self.plan_panel.set_message(self.pipeline_editor.error() or "The steps have a problem.")
            self.plan_ready.emit()
            return
        problem = self._output_problem(output)
        if problem:
            self.plan_panel.set_message(problem)
            self.plan_ready.emit()
            return
        generation = self._plan_generation
        entries = self.model.entries()

        async def run():
            plan = await tasks.run_blocking(self._make_plan_now, entries, pipeline, output)
            if generation != self._plan_generation:
                return
            pacing.settle()
            self.plan_panel.set_plan(plan, output.out_dir if output.destination == "folder" else None)
            self.plan_ready.emit()

        tasks.spawn(run(), on_error=lambda exc: (self.plan_panel.set_message(f"The plan could not be made: {exc}"),
                                                 self.plan_ready.emit()), owner=self)

    # ================================================================= runs
    def _update_run_state(self) -> None:
        running = self.controller.is_running or self._starting
        has_inputs = bool(self.model.rows)
        valid = self.pipeline_editor.error() is None
        self.start_action.setEnabled(not running and has_inputs and valid)
        self.run_bar.start_button.setEnabled(self.start_action.isEnabled())
        self.cancel_action.setEnabled(running)
        self.run_bar.cancel_button.setEnabled(running)
        failed = self.model.has_failed()
        self.retry_action.setEnabled(not running and failed)
        self.open_output_action.setEnabled(self._last_output_root is not None and os.path.isdir(self._last_output_root or ""))
        for widget in (self.pipeline_editor, self.preset_bar, self.variants_button, self.output_settings,
                       self.run_settings, self.recursive, self.include, self.exclude):
            widget.setEnabled(not running)
        for a in (self.add_folder_action, self.add_files_action, self.remove_action, self.clear_action):
            a.setEnabled(not running and (a in (self.add_folder_action, self.add_files_action) or has_inputs))
        if not running:
            tip = "Process every input (Ctrl+Return)"
            if not has_inputs:
                tip = "Add images first"
            elif not valid:
                tip = "Fix the step settings first"
            self.run_bar.start_button.setToolTip(tip)

    def start_batch(self, only_failed: bool = False) -> bool:
        """Plan and start a batch. Returns False (with a message) if it cannot start."""
        if self.controller.is_running or self._starting:
            return False
        if self.is_scanning:
            self.show_message("Still looking for images; start again in a moment.")
            return False
        pipeline = self.current_pipeline()
        if pipeline is None:
            self._refuse(self.pipeline_editor.error() or "The steps have a problem.")
            return False
        output = self.output_settings.output_spec()
        problem = self._output_problem(output)
        if problem:
            self._refuse(problem)
            self.settings_tabs.setCurrentIndex(1)
            return False
        rows = [r for r in self.model.rows if not only_failed or r.status == FAILED]
        if not rows:
            self._refuse("There are no images to process.")
            return False
        entries = [r.entry for r in rows]
        mode, workers, scheduler = self.run_settings.values()
        transfer = self.run_settings.transfer()
        self._schedule_save()
        self.failed_only.setChecked(False)
        self._starting = True
        self._update_run_state()
        self.statusBar().showMessage("Planning…")

        async def run():
            # The plan and everything read from all of its items are made in
            # a helper thread; the UI thread only resets the rows, a slice
            # per event-loop turn, and hands the runner a generator.
            try:
                plan, to_run, description = await tasks.run_blocking(self._plan_for_batch, entries, pipeline, output)
                self.plan_panel.set_plan(plan, output.out_dir if output.destination == "folder" else None, description)
                self._last_output_root = output.out_dir if output.destination == "folder" else os.path.dirname(rows[0].path)
                report = self._report_path(output)
                for _slice in self.model.reset_status_in_slices(to_run):
                    await asyncio.sleep(0)
            finally:
                self._starting = False
            total = len(plan.items)
            self.run_bar.batch_started(total)
            self.log.add(f"Starting {total} file{'s' if total != 1 else ''}: {description}.")
            self.controller.start(plan_tasks(plan), total=total, mode=mode, workers=workers,
                                  scheduler=scheduler, transfer=transfer, report=report)
            if self.center_tabs.currentWidget() is self.plan_panel:
                self.center_tabs.setCurrentWidget(self.log)  # the plan was seen; now the progress
            self.statusBar().showMessage("Working…")

        def failed(exc: BaseException) -> None:
            self._update_run_state()
            self._refuse(f"The batch could not start: {exc}")

        tasks.spawn(run(), on_error=failed, owner=self)
        return True

    def _report_path(self, output: OutputSpec) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = output.out_dir if output.destination == "folder" and output.out_dir else reports_folder()
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"imagebatch-report-{stamp}.json")

    def warm_up_workers(self) -> None:
        """Start the worker pool for the chosen mode in the background (the
        app calls this just after the window shows), so the first Start does
        not pay for spawning the workers. From then on a change of the worker
        settings warms the new pool up too (debounced)."""
        self._warm_up_on_change = True
        mode, workers, scheduler = self.run_settings.values()
        self.controller.warm_up(mode, workers, scheduler)

    def _schedule_warm_up(self) -> None:
        if self._warm_up_on_change and not self.controller.is_running:
            self._warm_up_timer.start()

    def retry_failed(self) -> None:
        self.start_batch(only_failed=True)

    def cancel_batch(self) -> None:
        if self.controller.is_running:
            self.controller.cancel()
            self.statusBar().showMessage("Cancelling… finished files are kept.")
            self.log.add("Cancel requested.")

    def _batch_started(self, total: int, mode: str, workers: int, reason: str) -> None:
        names = {"processes": "processes", "threads": "threads", "sequential": "one at a time", "dask": "a Dask cluster"}
        text = f"Working with {workers} {'worker' if workers == 1 else 'workers'} ({names.get(mode, mode)})"
        self.log.add(text + (f": {reason}" if reason else "."))

    def _files_finished(self, results: list) -> None:
        self.model.apply_results(results)
        self._results_since_settle += len(results)
        if self._results_since_settle >= pacing.SETTLE_EVERY_RESULTS:
            self._results_since_settle = 0
            pacing.settle()
        lines = []
        stamp = time.strftime("%H:%M:%S")
        for r in results:
            if r.status == Status.FAILED.value:
                lines.append(f"{stamp}  Failed  {human_error(r.input_path, r.message)}")
            elif r.status == Status.SKIPPED.value:
                lines.append(f"{stamp}  Skipped {human_error(r.input_path, r.message or 'skipped')}")
            for warning in r.warnings:
                lines.append(f"{stamp}  Note    {human_error(r.input_path, warning)}")
        self.log.add_lines(lines)

    def _batch_finished(self, summary) -> None:
        self.model.finish_batch()
        if self._save_pending:
            self._save_pending = False
            self._schedule_save()
        self._last_summary = summary
        self.run_bar.batch_finished(summary)
        if summary.batch_error:
            self.log.add(f"The batch stopped: {summary.batch_error}")
        self.log.add(self.summary_text(summary).replace("\n", " "))
        self._update_run_state()
        self.statusBar().showMessage("Batch finished." if not summary.cancelled else "Batch cancelled.", 8000)
        if self._close_after_batch:
            self._closing_confirmed = True
            self.batch_done.emit(summary)
            self.close()
            return
        self.show_summary(summary)
        self.batch_done.emit(summary)

    @staticmethod
    def summary_text(summary, output_folder: str | None = None) -> str:
        """The batch's summary in sentences (the log's last line, the dialog).
        A report inside ``output_folder`` is named by its file name only."""
        lines = [f"{summary.ok} of {summary.total} images done in {human_duration(summary.seconds)}."]
        extra = unfinished_counts(summary)
        if extra:
            lines.append(", ".join(extra).capitalize() + ".")
        if summary.bytes_in and summary.bytes_out:
            saved = summary.bytes_in - summary.bytes_out
            if saved > 0:
                lines.append(f"Saved {human_size(saved)} ({saved / summary.bytes_in:.0%}): "
                             f"{human_size(summary.bytes_in)} → {human_size(summary.bytes_out)}.")
            else:
                lines.append(f"{human_size(summary.bytes_in)} → {human_size(summary.bytes_out)}.")
        if summary.batch_error:
            lines.append(f"The batch stopped: {summary.batch_error}")
        if summary.report_path:
            folder, name = os.path.split(summary.report_path)
            in_output = output_folder and os.path.normcase(os.path.abspath(folder)) == os.path.normcase(
                os.path.abspath(output_folder))
            lines.append(f"Report: {name} in the output folder." if in_output else f"Report: {summary.report_path}")
        return "\n".join(lines)

    def show_summary(self, summary) -> None:
        """The one dialog of a batch: window-modal, non-blocking (open())."""
        if self.summary_box is not None:
            self.summary_box.close()
        failed = summary.failed or summary.batch_error
        headline, _, details = self.summary_text(summary, self._last_output_root).partition("\n")
        box = QMessageBox(QMessageBox.Icon.Warning if failed else QMessageBox.Icon.Information,
                          "Batch finished", f"<b>{html.escape(headline)}</b>", QMessageBox.StandardButton.Close, self)
        box.setInformativeText(details)
        box.setObjectName("summaryDialog")
        # Wide enough for a long path or report name without a ragged wrap.
        box.setStyleSheet("QLabel#qt_msgbox_informativelabel { min-width: 26em; }")
        if self._last_output_root and os.path.isdir(self._last_output_root):
            open_button = box.addButton("Open output folder", QMessageBox.ButtonRole.ActionRole)
            open_button.clicked.connect(self.open_output_folder)
        if summary.failed:
            show_button = box.addButton("Show failed", QMessageBox.ButtonRole.ActionRole)
            show_button.clicked.connect(lambda: self.failed_only.setChecked(True))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(lambda *_: setattr(self, "summary_box", None))
        self.summary_box = box
        box.open()

    def open_output_folder(self) -> None:
        if self._last_output_root:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self._last_output_root))

    # ================================================================ misc
    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _refuse(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)
        self.log.add(text)
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot start", text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def show_about(self) -> None:
        from gui_app import __version__

        QMessageBox.about(self, "About ImageBatch",
                          f"<b>ImageBatch {__version__}</b><p>Fast, safe batch image processing.</p>")

    def changeEvent(self, event) -> None:
        if event.type() == event.Type.PaletteChange:
            for tabs, names in ((self.center_tabs, self._center_tab_icons), (self.settings_tabs, self._settings_tab_icons)):
                for i, name in enumerate(names):
                    tabs.setTabIcon(i, icon(name))
        super().changeEvent(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._check_on_screen_when_shown:
            self._check_on_screen_when_shown = False
            self._keep_on_screen()
        if self._split_when_shown:
            self._split_when_shown = False
            self.split_evenly()

    def split_evenly(self) -> None:
        """The first-run split of the window's actual width: the image list
        gets the most (its names need room beside the fixed columns), the
        settings enough for their forms, the preview the rest."""
        width = sum(self.splitter.sizes())
        settings = max(int(width * SPLIT_FRACTIONS[1]), min(SETTINGS_MIN_WIDTH, width // 3))
        inputs = int(width * SPLIT_FRACTIONS[0])
        self.splitter.setSizes([inputs, width - inputs - settings, settings])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.drop_overlay.isVisible():
            self.drop_overlay.setGeometry(self.centralWidget().rect())

    def confirm_close(self) -> bool:
        """Ask before closing during a batch (tests replace this)."""
        answer = QMessageBox.question(
            self, "A batch is running",
            "Stop the batch and close ImageBatch?\nFinished files are kept; unfinished ones are not written.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _force_close(self) -> None:
        if self.controller.is_running and self._close_after_batch:
            self.log.add("The batch did not stop in time; stopping its workers.")
            self.controller.shutdown()
            self._closing_confirmed = True
            self.close()

    def quit_without_asking(self, message: str = "") -> None:
        """Quit like Ctrl+Q, minus the question (SIGTERM, Ctrl+C in a
        terminal): a running batch is cancelled (with the same deadline
        before its workers are killed), the settings saved, the app ends.
        An open dialog is closed first; the window closes once its nested
        event loop has returned."""
        if message:
            self.log.add(message)
            self.statusBar().showMessage(message)
        self._quit_without_asking = True
        modal = QApplication.activeModalWidget()
        if modal is not None and modal is not self:
            modal.close()
        QTimer.singleShot(0, self, self.close)

    def closeEvent(self, event) -> None:
        if self.controller.is_running and not self._closing_confirmed:
            if self._close_after_batch or self._quit_without_asking or self.confirm_close():
                if not self._close_after_batch:
                    # Safety net: a runner that does not finish its cancel in
                    # time gets its workers killed, then the window closes.
                    QTimer.singleShot(CLOSE_DEADLINE_MS, self, self._force_close)
                self._close_after_batch = True
                self.controller.cancel()
                self.statusBar().showMessage("Cancelling the batch, then closing…")
            event.ignore()
            return
        self.save_settings()
        self.controller.shutdown()
        event.accept()
