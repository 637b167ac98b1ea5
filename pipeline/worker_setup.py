"""Dask preload for the embedded cluster's worker processes.

A terminal's Ctrl-C reaches every process of the foreground group: the driver handles it (it
closes the cluster and says `interrupted`), so the workers ignore it instead of each printing a
KeyboardInterrupt traceback while they are shut down.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def dask_setup(worker: Any) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
