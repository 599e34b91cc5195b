"""Honest timing on a shared CPU: samples taken while other processes load the machine are dropped."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


def _cpu_jiffies() -> tuple[int, int]:
    """(busy jiffies of the whole machine, jiffies of this process)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    vals = [int(v) for v in fields]
    busy = sum(vals) - vals[3] - vals[4]  # minus idle and iowait
    own = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    return busy, int(own[11]) + int(own[12])  # utime + stime


def foreign_load() -> Callable[[], float]:
    """Start a window; the returned function gives the other processes' average load (in cores)."""
    b0, o0 = _cpu_jiffies()
    t0 = time.monotonic()
    hz = os.sysconf("SC_CLK_TCK")

    def stop() -> float:
        b1, o1 = _cpu_jiffies()
        return max(0.0, ((b1 - b0) - (o1 - o0)) / hz / max(time.monotonic() - t0, 1e-6))

    return stop


def timed(fn: Callable[[], object], *, repeats: int = 3, max_foreign: float = 0.25, max_tries: int = 12) -> tuple[float, int]:
    """Best wall time of `fn` over `repeats` quiet samples; returns (seconds, samples discarded)."""
    best = float("inf")
    kept = discarded = 0
    for _ in range(max_tries):
        window = foreign_load()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if window() > max_foreign:
            discarded += 1
            continue
        best = min(best, dt)
        kept += 1
        if kept >= repeats:
            break
    if kept == 0:  # never quiet: report the best loaded sample rather than nothing
        return dt, discarded
    return best, discarded


def cpu_features() -> dict:
    import torch

    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown")
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "amx": "amx_bf16" in info,
        "avx512": "avx512f" in info,
        "torch": torch.__version__,
    }
