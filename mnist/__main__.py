"""``python -m mnist`` (and the installed console script ``tinygrad-np-mnist``): see :mod:`mnist.cli`.

The BLAS thread count must be set before NumPy loads its BLAS, so ``--threads N`` (before or
after the command) and the default (:data:`mnist.threads.DEFAULT_THREADS`) are applied here,
ahead of every import that pulls in NumPy: that is why ``run`` imports the CLI only after it.
"""
from __future__ import annotations

import sys

from .threads import apply_threads


def run() -> int:
    """Apply the thread count, then run the command line (``mnist.cli.main``)."""
    apply_threads(sys.argv[1:])
    from .cli import main  # (after the thread variables: NumPy reads them when it is first imported)

    return main()


if __name__ == "__main__":
    sys.exit(run())
