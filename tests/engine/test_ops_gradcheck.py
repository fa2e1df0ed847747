"""Every op in the registry passes a float64 finite-difference gradcheck on hypothesis-drawn cases.

The cases come from ``op_cases.OP_CASES`` (one strategy per registry op: broadcasting pairs,
axis/keepdims, 1-D/2-D/batched matmul, indexing with repeated indices, ...); the inputs are
kept inside each op's domain and off its kinks and ties, so every entry must match.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from op_cases import DIFFERENTIABLE_OPS, OP_CASES
from tinygrad_np import OPS, gradcheck


def test_every_registry_op_has_a_case():
    missing = sorted(set(OPS) - set(OP_CASES))
    assert not missing, f"ops in the registry without a case in tests/op_cases.py: {missing}"


def test_every_case_is_a_registry_op():
    stale = sorted(set(OP_CASES) - set(OPS))
    assert not stale, f"cases in tests/op_cases.py for ops that are not registered: {stale}"


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE_OPS))
@given(data=st.data())
def test_gradcheck_float64(name, data):
    sample = data.draw(OP_CASES[name].strategy, label=name)
    fn, inputs = sample
    assert all(x.dtype == np.float64 for x in inputs)
    report = gradcheck(fn, inputs, raise_exception=False)
    assert report.passed, f"{name} {sample.params}\n{report}"
    assert report.mode == "full"
    assert report.checked == sum(x.size for x in inputs)  # every entry of every input was probed
    assert not report.kinks, f"{name}: drawn inputs are off kinks, yet gradcheck flagged some\n{report}"
