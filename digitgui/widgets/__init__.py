"""Widgets that repaint from the document: image list, box list, number display, start page."""
