"""Background services: inference worker thread, export."""
