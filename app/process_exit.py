"""Leaving a process that used the Temporal SDK.

The SDK's Rust threads outlive the event loop and can crash CPython's finalization (a
SIGSEGV after a clean stop, seen about one worker exit in four; temporalio's bridge, the
same family as PostHog's fix with `os._exit`). So the exit handlers (logging, coverage) run,
the streams are flushed, and the process leaves without finalizing the interpreter.
"""

import atexit
import os
import sys
from typing import NoReturn


def exit_without_finalizing(code: int) -> NoReturn:
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
