"""What machine a benchmark ran on, for the line each bench script prints first."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe() -> str:
    """CPUs and their model, the kernel and Python: e.g. "2 CPUs (AMD EPYC), Linux 6.18, Python 3.11.7"."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} CPUs ({cpu}), {system}"
