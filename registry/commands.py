"""What an operator command is: `(conn, settings, args) -> Output`, printed by `registry.cli`.

Kept below the features so each feature's `cli.py` can define its commands without
importing the top-level command line (which imports them).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from registry.database import Connection
from registry.settings import Settings


class Output(msgspec.Struct, frozen=True):
    """What a command prints: `data` with --json, `text` otherwise; exit code with it."""

    data: dict[str, Any]
    text: str
    exit_code: int = 0


Command = Callable[[Connection, Settings, argparse.Namespace], Awaitable[Output]]
