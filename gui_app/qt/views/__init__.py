"""Window layouts: they arrange widgets; behaviour lives in gui_app.qt.widgets."""
