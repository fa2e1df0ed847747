"""``python -m benchmarks.cnn_time``: the quick run writes its report, and what it times is the same
computation on both sides (the same network, weights and batches give PyTorch's loss and gradients)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import cnn_time
from tinygrad_np.nn import functional as F

torch = pytest.importorskip("torch", reason="the benchmark's other side is PyTorch")


def test_quick_run_writes_the_report(tmp_path):
    report = cnn_time.main(["--quick", "--out", str(tmp_path)])
    names = [r["contender"] for r in report["rows"]]
    assert names == ["tinygrad_np", "tinygrad_np (textbook)", "PyTorch", "GEMM bound (NumPy)", "GEMM bound (PyTorch)"]
    assert all(r["ms_per_step"] > 0 for r in report["rows"])
    assert json.loads((tmp_path / "cnn_time.json").read_text())["rows"] == report["rows"]
    assert "| PyTorch |" in (tmp_path / "cnn_time.md").read_text()
    assert report["torch_threads"] == report["blas_threads"]


def test_both_sides_compute_the_same_step():
    model = cnn_time.tinygrad_model(seed=3, dtype=np.float64)
    net = cnn_time.torch_model(model, torch, dtype=torch.float64)
    (x, y), = cnn_time.batches(1, 6, seed=4, dtype=np.float64)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    t_loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x).reshape(-1, 1, 28, 28)), torch.from_numpy(y))
    t_loss.backward()
    assert loss.item() == pytest.approx(t_loss.item(), rel=1e-10)
    ours = [p.grad.data for p in model.parameters()]
    theirs = [p.grad.numpy() for p in net.parameters()]
    assert len(ours) == len(theirs) == 10
    for a, b in zip(ours, theirs):
        b = b.T if b.ndim == 2 else b  # dense weights: (in, out) here, (out, in) in torch
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_the_gemm_bound_has_the_im2col_shapes_of_the_step():
    shapes = {what: (m, k, n) for what, m, k, n in cnn_time.gemm_shapes(128)}
    assert shapes["conv2 forward"] == (128 * 14 * 14, 5 * 5 * 32, 64)
    assert shapes["conv2 input grad"] == (128 * 14 * 14, 64, 5 * 5 * 32)
    assert "conv1 input grad" not in shapes and shapes["fc1 forward"] == (128, 3136, 128)
