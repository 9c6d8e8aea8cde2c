"""Where the time goes: py-spy's collapsed stacks reduced to the functions that cost most.

``py-spy record --format raw`` writes one line per distinct stack, ``frame;frame;... count``,
outermost first. A function's *own* share counts the samples where it was the innermost
frame; its *total* share the samples where it was anywhere on the stack (once per sample,
however often it recurs). Samples whose innermost frame is the event loop itself (uvloop
waits for sockets in C, under ``Runner.run``) are the process waiting, not working: they are
counted apart, and the shares are of the working samples.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks.servers import tool

# py-spy writes a frame as "function (path/to/file.py:line)"; the line number would split
# one function into many rows.
_LINE = re.compile(r":\d+\)$")


@dataclass(frozen=True)
class Hotspot:
    frame: str
    own: float
    total: float


def _frame(raw: str) -> str:
    frame = _LINE.sub(")", raw.strip())
    # Shorten site-packages paths to the package: "get (redis/asyncio/client.py)".
    return re.sub(r"\(.*?(?:site-packages|lib/python3\.\d+)/", "(", frame)


WAITING = frozenset({"Runner.run (asyncio/runners.py)", "run (uvloop/__init__.py)"})


@dataclass(frozen=True)
class Profile:
    samples: int
    waiting: int
    hotspots: list[Hotspot]


def hotspots(collapsed: str, top: int = 12) -> Profile:
    """The working and waiting sample counts and the ``top`` functions by own share of the
    working samples, with their total shares."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = waiting = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        if frames[-1] in WAITING:
            waiting += count
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if samples == 0:
        return Profile(0, waiting, [])
    ranked = sorted(total, key=lambda f: (-own[f], -total[f]))[:top]
    spots = [Hotspot(f, round(own[f] / samples, 3), round(total[f] / samples, 3)) for f in ranked]
    return Profile(samples, waiting, spots)


def py_spy() -> str:
    """py-spy from this Python's environment (a dev dependency), else from PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else tool("py-spy")


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Start py-spy on ``pid`` for ``seconds``; the caller runs the load meanwhile."""
    return subprocess.Popen(  # noqa: S603 - fixed argument list
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
