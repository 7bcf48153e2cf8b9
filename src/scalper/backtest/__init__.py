"""Backtests: recordings through the live code, and the report a trader reads."""
