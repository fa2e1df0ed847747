"""``python -m mnist``: see :mod:`mnist.cli`.

``--threads N`` (before the command) must take effect before NumPy loads its BLAS, so it
is handled here, ahead of every import that pulls in NumPy.
"""
from __future__ import annotations

import os
import sys


def _apply_threads(argv: list[str]) -> None:
    """Set the BLAS thread count from a leading ``--threads N`` / ``--threads=N`` option."""
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            return  # the command: options after it belong to the command
        value = arg.split("=", 1)[1] if arg.startswith("--threads=") else (
            argv[i + 1] if arg == "--threads" and i + 1 < len(argv) else None)
        if value is not None and value.isdigit() and int(value) > 0:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = value
            return


if __name__ == "__main__":
    _apply_threads(sys.argv[1:])
    from mnist.cli import main

    sys.exit(main())
