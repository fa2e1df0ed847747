"""``python -m mnist``: see :mod:`mnist.cli`.

The BLAS thread count must be set before NumPy loads its BLAS, so ``--threads N`` (before or
after the command) and the default (:data:`mnist.threads.DEFAULT_THREADS`) are applied here,
ahead of every import that pulls in NumPy.
"""
from __future__ import annotations

import sys

from mnist.threads import apply_threads

if __name__ == "__main__":
    apply_threads(sys.argv[1:])
    from mnist.cli import main

    sys.exit(main())
