"""Widgets with behaviour: drop zone, input list, pipeline editor, preview, plan, run panel."""
