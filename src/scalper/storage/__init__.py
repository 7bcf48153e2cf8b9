"""Recording to disk: segments, the recorder, the disk budget, reading back, queries."""
