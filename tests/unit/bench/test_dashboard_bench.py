"""bench.dashboard: self time per function from a hand-made CDP profile."""

from __future__ import annotations

from bench.dashboard import self_times


def test_self_time_adds_the_sample_intervals_of_each_function() -> None:
    frame = {"functionName": "renderScanner", "url": "http://x/static/app.js", "lineNumber": 134}
    profile = {
        "nodes": [
            {"id": 1, "callFrame": {"functionName": "(program)", "url": "", "lineNumber": -1}},
            {"id": 2, "callFrame": frame},
            {"id": 3, "callFrame": {**frame, "functionName": ""}},
        ],
        "samples": [1, 2, 2, 3, 1],
        "timeDeltas": [10, 1000, 1500, 7, 20],
    }
    assert self_times(profile) == {
        "(program)": 30,
        "renderScanner app.js:135": 2500,
        "(anonymous) app.js:135": 7,
    }
