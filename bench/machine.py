"""What a benchmark ran on: CPU, Python, msgspec, platform. Its own module, so that a bench's
client process (bench.load, run by bench.load_matrix with another checkout's `scalper` too)
imports no other bench."""

from __future__ import annotations

import os
import platform

import msgspec


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": f"{cpu} ({os.cpu_count()} logical cpus)",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "msgspec": msgspec.__version__,
        "platform": platform.platform(),
    }
