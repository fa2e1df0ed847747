"""pytest setup of the MNIST app's tests: ``tests/mnist/`` on ``sys.path`` (for ``tiny_data``)."""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
