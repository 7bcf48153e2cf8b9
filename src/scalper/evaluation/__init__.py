"""`scalper signals evaluate`: what each factor and the score predict, measured on recordings.

Recorded frames go through the same engine and signals as live (run.py), sampled at whole
seconds (samples.py); the statistics (statistics.py) are assembled per factor, symbol and
horizon (report.py) and rendered as tables and a chart (render.py).
"""
