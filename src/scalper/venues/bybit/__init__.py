"""Bybit v5: wire decoding (pure) and, later, connections."""
