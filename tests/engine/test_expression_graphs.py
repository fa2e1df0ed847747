"""Random expression graphs (``strategies.expression_graphs``, built with ``st.recursive``)
with shared leaves, checked end to end with a float64 gradcheck.

The vocabulary is add, mul, sub, tanh, sigmoid, exp of a bounded value and keepdims sum/mean,
over leaves that broadcast together. Each drawn graph is first evaluated once to confirm, on
the engine's real graph, that it has at least six ops and a leaf consumed more than once.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given

import strategies as S
from tinygrad_np import Tensor, gradcheck
from tinygrad_np.engine import topological_order


def graph_stats(out: Tensor, leaves: list[Tensor]) -> tuple[int, list[int]]:
    """(number of op nodes behind ``out``, how many times each leaf is an input of a node)."""
    nodes = topological_order([out])
    uses = [0] * len(leaves)
    for t in nodes:
        for x in t.grad_fn.inputs:
            for k, leaf in enumerate(leaves):
                if x is leaf:
                    uses[k] += 1
    return len(nodes), uses


@given(S.expression_graphs())
def test_random_expression_graph_gradcheck(graph):
    leaves = [Tensor(x, requires_grad=True) for x in graph.leaves]
    out = graph.fn(*leaves)
    n_ops, uses = graph_stats(out, leaves)
    assert n_ops >= 6, graph
    assert n_ops == S.expr_op_count(graph.expr)
    assert max(uses) >= 2, f"no shared leaf in {graph}"
    assert uses == graph.leaf_uses()
    assert np.all(np.isfinite(out.data))

    report = gradcheck(graph.fn, graph.leaves, raise_exception=False)
    assert report.passed, f"{graph}\n{report}"
    assert report.checked == sum(x.size for x in graph.leaves)


@given(S.expression_graphs())
def test_random_expression_graph_backward_matches_autograd_grad(graph):
    """``.grad`` accumulation and ``autograd_grad`` agree on the same shared-leaf graph."""
    from tinygrad_np import autograd_grad

    leaves = [Tensor(x, requires_grad=True) for x in graph.leaves]
    out = graph.fn(*leaves)
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    grads = autograd_grad(out, leaves, grad_outputs=upstream, retain_graph=True, allow_unused=True)
    out.backward(upstream)
    for leaf, g, uses in zip(leaves, grads, graph.leaf_uses()):
        assert g.shape == leaf.shape
        if uses == 0:  # a drawn leaf the expression never reads
            assert leaf.grad is None and not g.data.any()
            continue
        assert leaf.grad.shape == leaf.shape
        np.testing.assert_allclose(leaf.grad.data, g.data, rtol=1e-12, atol=1e-12)
