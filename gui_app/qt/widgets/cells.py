"""Drawing a list cell whose text the delegate lays out itself (two lines)."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem


def draw_cell_without_text(delegate: QStyledItemDelegate, painter, option,
                           index) -> tuple[QStyleOptionViewItem, str, QRect, bool]:
    """Draw a cell as the style would (background, selection, check box,
    icon) but without its text. Returns (the cell's style option, its text,
    the rectangle the text belongs in, whether it is selected) for the
    delegate to draw the text its own way."""
    opt = QStyleOptionViewItem(option)
    delegate.initStyleOption(opt, index)
    text, opt.text = opt.text, ""
    style = opt.widget.style() if opt.widget else QApplication.style()
    style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
    text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, opt.widget)
    return opt, text, text_rect, bool(opt.state & QStyle.StateFlag.State_Selected)
