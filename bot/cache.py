"""Tables built once per machine in a short-lived child process and kept in the instance folder.

Some tables come from big data sets (every US ZIP code, word frequency lists) that would cost a
worker tens of megabytes for the life of the process. A child process builds the small table the
line needs and prints it; it is kept under a name that changes with its inputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CACHE_DIR = Path(os.environ.get("HELPLINE_INSTANCE_DIR") or Path(__file__).resolve().parent.parent / "instance")


def built_once(name: str, module: str, stdin: str | None = None, timeout: float = 120) -> str:
    """The text `python -m module` prints (given `stdin`), read from the cache file `name` if it is there.

    Raises OSError or subprocess.SubprocessError when the child fails; a read-only instance
    folder only means building again next start.
    """
    cache = CACHE_DIR / name
    try:
        return cache.read_text(encoding="utf-8")
    except OSError:
        pass
    built = subprocess.run([sys.executable, "-m", module], input=stdin, check=True,  # noqa: S603
                           capture_output=True, text=True, timeout=timeout).stdout
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(built, encoding="utf-8")
        temporary.replace(cache)
    except OSError:
        pass
    return built
