"""The trading layer: strategies, the per-symbol state machine, the risk engine, execution
(the paper broker and, through the same protocol, real venues), portfolio and P&L.

Event-time driven like the engine, so a backtest of recorded frames takes exactly the decisions
the live run took. Nothing here talks to a venue: a venue plugs in an `ExecutionClient`.
"""
