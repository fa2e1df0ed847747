"""pytest setup shared by every test file.

* ``tests/`` goes on ``sys.path`` so test files can ``from strategies import ...`` and
  ``from op_cases import ...`` whatever the working directory or import mode.
* Hypothesis profiles, chosen with the environment variable ``HYPOTHESIS_PROFILE``:
  ``dev`` (default: ~10 examples, quick local runs), ``ci`` (derandomized, no deadline,
  modest example counts so the whole suite stays well under 3 minutes on 2 cores) and
  ``thorough`` (many examples, for a deliberate hunt).
* ``OMP_WAIT_POLICY=PASSIVE`` (unless set): the parity tests import PyTorch, whose OpenMP
  threads otherwise spin between ops and take a core from NumPy's BLAS in every later test.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before anything imports torch

from hypothesis import HealthCheck, settings

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("dev", max_examples=10, deadline=None, suppress_health_check=_SLOW_OK)
settings.register_profile("ci", max_examples=20, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=_SLOW_OK)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True,
                          suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
