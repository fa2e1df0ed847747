"""No silent wrong answers: in-place writes, threads, dtypes of scalars, NumPy's functions,
complex inputs, 0-d results, std at zero spread, float32 log_softmax accuracy, rendering.

Each test is a regression test for a way the engine once gave a wrong answer without saying so.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import Tensor, nn, optim
from tinygrad_np.nn import functional as F


# ----------------------------------------------------------------------------- in-place writes
def test_tensor_copies_so_a_later_write_to_the_callers_array_changes_nothing():
    buf = np.array([1.0, 2.0, 3.0])
    x = tg.tensor(buf, dtype=np.float64, requires_grad=True)
    loss = (x * x).sum()
    buf[:] = 0
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0])


@pytest.mark.parametrize("handed_out", ["data", "numpy", "asarray", "grad"])
def test_arrays_handed_out_are_read_only(handed_out):
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x  # an intermediate
    y.sum().backward()
    arr = {"data": y.data, "numpy": x.numpy(), "asarray": np.asarray(y), "grad": x.grad.data}[handed_out]
    with pytest.raises(ValueError, match="read-only"):
        arr[...] = 0


def test_assigning_data_between_forward_and_backward_is_refused_naming_the_op():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (x * x).sum()
    x.data = np.zeros(3, np.float32)
    with pytest.raises(RuntimeError, match="gradient of Mul was modified in place after the forward"):
        loss.backward()


def test_assigning_another_tensor_to_data_copies_its_values():
    a, b = tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])
    a.data = b  # b hands out read-only views; a gets its own array, still writable in place
    a.copy_([5.0, 6.0])
    np.testing.assert_array_equal(a.data, [5.0, 6.0])
    np.testing.assert_array_equal(b.data, [3.0, 4.0])


def test_an_optimizer_step_between_forward_and_backward_is_refused():
    model = nn.Linear(3, 2, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = Tensor(np.ones((4, 3), np.float32))
    loss = model(x).sum()
    loss.backward()
    opt.step()  # fine: the backward is done
    loss = model(x).sum()
    opt.step()  # the weights the graph saved change
    with pytest.raises(RuntimeError, match="gradient of Linear was modified in place"):
        loss.backward()


def test_views_share_the_write_stamp_of_their_base():
    """A transposed view of a weight, saved by matmul, is stale after an in-place update of the weight."""
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    x = Tensor(np.ones((4, 2)), requires_grad=True)
    y = (x @ w.T).sum()  # matmul saves w.T, a view of w
    with tg.no_grad():
        w.update_(lambda a: np.multiply(a, 2.0, out=a))
    with pytest.raises(RuntimeError, match="modified in place after the forward"):
        y.backward()


def test_writes_before_the_forward_are_fine_and_copy_is_stamped():
    w = Tensor(np.ones(3), requires_grad=True)
    w.copy_([1.0, 2.0, 3.0])
    loss = (w * w).sum()
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0, 6.0])
    loss2 = (w * w).sum()
    w.copy_([0.0, 0.0, 0.0])
    with pytest.raises(RuntimeError, match="Mul"):
        loss2.backward()


def test_tensor_of_an_ndarray_shares_it_as_documented():
    """``Tensor(ndarray)``/``from_numpy`` share memory (tg.tensor copies): writes through the
    caller's array are seen, and no write stamp can see them (documented in creation.py)."""
    buf = np.array([1.0, 2.0])
    t = tg.from_numpy(buf)
    buf[0] = 5.0
    assert t.data[0] == 5.0 and Tensor(buf).data[0] == 5.0 and tg.tensor(buf).data is not buf


# ----------------------------------------------------------------------------- threads
def _train(seed: int, steps: int = 20) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(6, 5, rng=seed), nn.Tanh(), nn.Linear(5, 3, rng=seed + 1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        x, y = rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def _evaluate(seed: int, rounds: int = 200) -> list[bool]:
    model = nn.Linear(6, 3, rng=seed)
    x = Tensor(np.ones((4, 6), np.float32))
    seen = []
    for _ in range(rounds):
        with tg.no_grad():  # an evaluator thread: must not switch off recording in the trainer
            seen.append(model(x).requires_grad)
    return seen


def test_training_and_evaluating_in_two_threads_is_bit_identical_to_one_after_the_other():
    alone = [_train(1), _train(2)]
    results: dict[str, object] = {}
    threads = [threading.Thread(target=lambda: results.__setitem__("a", _train(1))),
               threading.Thread(target=lambda: results.__setitem__("b", _train(2))),
               threading.Thread(target=lambda: results.__setitem__("eval", _evaluate(3)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip([results["a"], results["b"]], alone):
        assert all(np.array_equal(g, w) for g, w in zip(got, want))
    assert not any(results["eval"])
    assert tg.is_grad_enabled()  # and grad mode is on afterwards in this thread


def test_each_thread_starts_with_grad_mode_on_and_anomaly_mode_off():
    seen = []
    with tg.no_grad(), tg.detect_anomaly():
        t = threading.Thread(target=lambda: seen.append((tg.is_grad_enabled(), tg.modes.state.anomaly)))
        t.start()
        t.join()
    assert seen == [(True, False)]


# ----------------------------------------------------------------------------- values and dtypes
def test_zero_d_results_are_arrays():
    assert type((tg.tensor(2.0) == 2.0).data) is np.ndarray
    assert np.asarray(tg.tensor(2.0) == 2.0).item() is True
    for t in (tg.tensor([[1.0, 3.0], [2.0, 0.0]]).argmax(), tg.tensor([1.0, 3.0]).argmin(), tg.tensor([1.0]).sum()):
        assert type(t.data) is np.ndarray and t.data.ndim == 0


@pytest.mark.parametrize("make", [
    lambda x: x[:1].std(),  # one element: a batch of one
    lambda x: x.reshape(1, -1).std(axis=0),  # std over the rows of a one-row matrix
    lambda x: (x * 0.0 + 1.0).std(ddof=1),  # equal entries
], ids=["one element", "one row", "equal entries"])
def test_std_with_zero_spread_passes_zero_gradient_not_nan(make):
    """As PyTorch: where the std is 0 its VJP is 0 (not 0/0 = NaN, which would poison training)."""
    x = tg.tensor([1.5, 2.5, 0.5], dtype=np.float64, requires_grad=True)
    y = make(x)
    assert np.all(y.data == 0.0)
    y.sum().backward()
    assert np.all(np.isfinite(x.grad.data)) and np.all(x.grad.data == 0.0)
    _, t = tg.jvp(make, (x.detach(),), (tg.ones(3, dtype=np.float64),))
    assert np.all(t.data == 0.0)


def _ulps_at_scale_one(ours: np.ndarray, exact: np.ndarray) -> float:
    """Max error in float32 ulps of max(|exact|, 1): the rounding of a result of that size (values
    near 0 can only be as accurate as the log of a sum near 1 is)."""
    return float(np.max(np.abs(ours - exact) / np.spacing(np.maximum(np.abs(exact), 1.0).astype(np.float32))))


def test_float32_log_softmax_rounds_at_the_scale_of_the_result_not_of_the_max():
    """(a - m) - log s, not a - (m + log s): with logits of size ~90 the latter is ~64 ulps off."""
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((2000, 10)) * 30).astype(np.float32)
    z64 = z.astype(np.float64)
    m = z64.max(1, keepdims=True)
    exact = (z64 - m) - np.log(np.exp(z64 - m).sum(1, keepdims=True))
    ours = tg.tensor(z).log_softmax(axis=1).data
    assert _ulps_at_scale_one(ours, exact) <= 4.0
    m32 = z.max(1, keepdims=True)
    naive = z - (m32 + np.log(np.exp(z - m32).sum(1, keepdims=True)))  # the old formula, for contrast
    assert _ulps_at_scale_one(naive, exact) > 16.0
    loss = F.cross_entropy(tg.tensor(z), np.arange(2000) % 10, reduction="none").data  # the same care in the loss
    assert _ulps_at_scale_one(loss, -exact[np.arange(2000), np.arange(2000) % 10]) <= 4.0


@pytest.mark.parametrize("fn", [
    lambda s, x: tg.add(s, x), lambda s, x: tg.mul(s, x), lambda s, x: tg.sub(s, x), lambda s, x: tg.div(s, x),
    lambda s, x: tg.maximum(s, x), lambda s, x: tg.minimum(s, x), lambda s, x: tg.where(x > 0, s, x),
    lambda s, x: tg.where(x > 0, x, s), lambda s, x: tg.pow(x, s),
], ids=["add", "mul", "sub", "div", "maximum", "minimum", "where-a", "where-b", "pow"])
def test_a_python_scalar_takes_the_tensor_operands_dtype_in_function_forms(fn):
    x = tg.tensor([0.3, 1.7], dtype=np.float64)
    out = fn(0.1, x)
    assert out.dtype == np.float64
    exact = fn(tg.tensor(np.full(2, 0.1)), x)  # 0.1 as a float64 Tensor: no rounding to float32 anywhere
    np.testing.assert_array_equal(out.data, exact.data)
    assert fn(0.1, tg.tensor([0.3, 1.7])).dtype == np.float32  # and float32 stays float32


def test_numpy_functions_on_tensors_run_the_op_or_say_they_cannot():
    x = tg.tensor([0.5, -1.0], dtype=np.float64, requires_grad=True)
    y = np.exp(x)
    assert isinstance(y, Tensor) and y.requires_grad  # the graph is kept
    s = np.sum(y * x)
    assert isinstance(s, Tensor)
    s.backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data) * (1 + x.data))
    assert isinstance(np.ones(2) + x, Tensor) and (np.ones(2) + x).requires_grad
    with pytest.raises(TypeError, match="np.remainder has no tinygrad_np version"):
        x % np.ones(2)
    with pytest.raises(TypeError, match="np.cumproduct|np.fft|no tinygrad_np version"):
        np.fft.fft(x)


def test_complex_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only real floating point tensors can require grad.*complex"):
        tg.tensor(np.array([1 + 2j])).requires_grad_()
    assert tg.tensor(np.array([1 + 2j])).dtype.kind == "c"  # as a constant they are fine


def test_integer_python_data_is_int64_and_works_as_labels():
    labels = tg.tensor([0, 1, 2])
    assert labels.dtype == np.int64
    loss = F.cross_entropy(tg.randn(3, 4, rng=0, requires_grad=True), labels)
    loss.backward()


@pytest.mark.parametrize("labels", [[-1], [3], [1.0], [True]])
def test_one_hot_refuses_labels_outside_the_classes_and_non_integers(labels):
    with pytest.raises((ValueError, TypeError), match="one_hot"):
        F.one_hot(np.array(labels), 3)


def test_render_writes_the_format_its_file_name_says(tmp_path):
    pytest.importorskip("shutil").which("dot") or pytest.skip("Graphviz's dot is not installed")
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    z = (x * x).sum()
    png = tg.viz.render(z, tmp_path / "graph.png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    svg = tg.viz.render(z, tmp_path / "graph.svg")
    assert b"<svg" in open(svg, "rb").read()
    with pytest.raises(ValueError, match="does not match the file name"):
        tg.viz.render(z, tmp_path / "graph.png", format="svg")
