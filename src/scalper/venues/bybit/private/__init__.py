"""Bybit v5 private API: signed REST orders, the private stream, and `BybitExecution`, the
`ExecutionClient` that puts them together (testnet unless live trading is configured)."""
