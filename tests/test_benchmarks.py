"""The benchmark harness runs in --quick mode and writes well-formed results (timings are not asserted)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg
from benchmarks import contenders as C
from benchmarks import epoch_time, op_overhead
from mnist import reference

ROOT_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    report = epoch_time.main(["--quick", "--data", "synthetic", "--samples", "512", "--out", str(out)])
    return out, report


def test_quick_run_writes_json_markdown_png(quick_report):
    out, report = quick_report
    on_disk = json.loads((out / "epoch_time.json").read_text())
    assert on_disk["benchmark"] == "epoch_time"
    for key in ("cpu", "cores", "blas", "versions"):
        assert key in on_disk["machine"]
    assert isinstance(on_disk["machine"]["optim_blas_axpy"], bool)
    assert {"library", "threads"} <= set(on_disk["machine"]["blas"])
    assert on_disk["peak_gemm_gflops"] > 0
    (r,) = on_disk["results"]
    assert r["arch"] == "784-128-64-10" and r["batch"] == 128 and r["n_samples"] == 512
    names = set(r["contenders"])
    assert {C.HandNumPy.name, C.TinygradNP.name, C.TinygradNPTraced.name, C.GemmBound.name} <= names
    for c in r["contenders"].values():
        assert len(c["times_s"]) == on_disk["settings"]["reps"] == 2
        assert c["min_s"] <= c["median_s"] <= c["max_s"]
        assert c["ratio_to_reference"] > 0 and c["ratio_to_gemm_bound"] > 0
    assert r["contenders"][C.HandNumPy.name]["ratio_to_reference"] == pytest.approx(1.0)
    assert set(r["tinygrad_phases_s"]) == set(r["reference_phases_s"]) == {"data", "forward", "backward", "optimizer"}
    assert all(t > 0 for t in [*r["tinygrad_phases_s"].values(), *r["reference_phases_s"].values()])
    assert r["physical_bound_s"] > 0 and r["flops"] == C.epoch_flops([784, 128, 64, 10], 512)
    mem = r["memory"][C.TinygradNP.name]
    assert mem["peak_bytes"] > 0 and len(mem["held_after_epoch_bytes"]) == 3
    md = (out / "epoch_time.md").read_text()
    assert "| tinygrad_np |" in md.replace(" 784-128-64-10 | 128 ", "")
    assert (out / "epoch_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_contenders_train_the_same_model(quick_report):
    """Same init and data order: after one epoch every contender holds (nearly) the same weights."""
    _, report = quick_report
    for name, c in report["results"][0]["contenders"].items():
        if c["max_weight_diff_vs_reference"] is not None:
            assert c["max_weight_diff_vs_reference"] < 1e-4, name


def test_autograd_gradients_equal_the_hand_derived_ones(quick_report):
    """The harness checks one batch's gradients (autograd vs the reference's formulas) at the
    shared initial weights: equal to float32 rounding."""
    _, report = quick_report
    diff = report["results"][0]["max_grad_diff_vs_reference"]
    assert 0.0 <= diff < 1e-6
    assert report["results"][0]["traced_grads_equal_eager"] is True  # the replayed step: bit for bit


@pytest.mark.parametrize("name", [C.TinygradNP.name, C.TinygradNPTraced.name])
def test_memory_does_not_grow_between_epochs(quick_report, name):
    _, report = quick_report
    mem = report["results"][0]["memory"][name]
    assert abs(mem["growth_bytes"]) < 64 * 1024


def test_epoch_flops_counts_three_products_per_layer_but_two_for_the_input_layer():
    assert C.epoch_flops([4, 3, 2], 10) == 10 * (2 * 4 * 3 * 2 + 2 * 3 * 2 * 3)


def test_op_overhead_covers_every_registry_op(tmp_path):
    rows = op_overhead.main(["--quick", "--out", str(tmp_path)])
    assert {r["op"] for r in rows} == set(tg.OPS)
    for r in rows:
        assert r["numpy_us"] > 0 and r["recording_us"] > 0 and r["fwd_bwd_us"] > 0
    assert json.loads((tmp_path / "op_overhead.json").read_text())["rows"] == rows


def test_op_overhead_cases_compute_what_numpy_computes():
    A, B = tg.Tensor(op_overhead.a), tg.Tensor(op_overhead.b)
    for name, (np_call, tg_call) in op_overhead.CASES.items():
        expected = np_call()
        if expected is None:  # np.add.at works in place
            continue
        np.testing.assert_allclose(tg_call(A, B).numpy(), expected, rtol=1e-6, err_msg=name)


def test_blocks_hold_whole_batches_and_cover_the_order():
    order = np.random.default_rng(0).permutation(1000)
    parts = epoch_time.blocks(order, batch=32, block=100)
    assert all(len(p) == 96 for p in parts[:-1]) and len(parts[-1]) == 1000 - 96 * 10
    np.testing.assert_array_equal(np.concatenate(parts), order)
    assert [len(p) for p in epoch_time.blocks(order, batch=300, block=100)] == [300, 300, 300, 100]


def test_block_interleaved_epochs_train_exactly_like_whole_epochs():
    rng = np.random.default_rng(3)
    X, y = rng.random((300, 784), dtype=np.float32), rng.integers(0, 10, 300)
    order = rng.permutation(300)
    sizes = [784, 16, 10]
    whole = [C.HandNumPy(sizes, 32, X, y), C.TinygradNP(sizes, 32, X, y)]
    for c in whole:
        c.epoch(order)
    racers = [C.HandNumPy(sizes, 32, X, y), C.TinygradNP(sizes, 32, X, y)]
    totals = epoch_time.time_epochs_interleaved(racers, order, batch=32, block=64, first=1)
    assert set(totals) == {c.name for c in racers} and all(t > 0 for t in totals.values())
    for a, b in zip(whole, racers):
        for wa, wb in zip(a.weights(), b.weights()):
            np.testing.assert_array_equal(wa, wb)


def test_engine_floor_trains_exactly_like_the_reference():
    """The floor engine is only a fair yardstick if it computes what the reference computes."""
    from benchmarks import engine_floor

    rng = np.random.default_rng(5)
    X, y = rng.random((256, 784), dtype=np.float32), rng.integers(0, 10, 256)
    sizes = [784, 32, 16, 10]
    floor = engine_floor.FloorEngine(C.initial_params(sizes), lr=0.1)
    ref = [p.copy() for p in C.initial_params(sizes)]
    for k in range(0, 256, 64):
        xb, yb = X[k:k + 64], y[k:k + 64]
        loss_floor = floor.step(xb, yb)
        loss_ref, grads = reference.loss_and_grads(ref, xb, yb)
        reference.sgd_step(ref, grads, 0.1)
        assert loss_floor == pytest.approx(loss_ref, rel=1e-5)
    for a, b in zip(floor.weights(), ref):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_engine_floor_quick_run_writes_results(tmp_path):
    from benchmarks import engine_floor

    results = engine_floor.main(["--data", "synthetic", "--samples", "1024", "--batch", "64",
                                 "--blocks", "2", "--steps", "2", "--out", str(tmp_path)])
    (r,) = results
    assert set(r["contenders"]) == {C.HandNumPy.name, C.TinygradNP.name, C.TinygradNPTraced.name, "floor engine"}
    assert r["contenders"][C.HandNumPy.name]["ratio_to_reference"] == pytest.approx(1.0)
    for c in r["contenders"].values():
        assert c["us_per_step"] > 0 and c["ratio_iqr"][0] <= c["ratio_iqr"][1]
    on_disk = json.loads((tmp_path / "engine_floor.json").read_text())
    assert on_disk["results"][0]["batch"] == 64
    assert "floor engine" in (tmp_path / "engine_floor.md").read_text()


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
def test_ab_versions_null_run_trains_both_versions_alike(tmp_path, traced):
    """WORKTREE against itself: two separately imported copies of the package train to the same
    weights (and to the reference's, up to float32 rounding); the report is well formed. Traced:
    the versions train through ``traced_step``, their models kept across the per-block rebuilds."""
    from benchmarks import ab_versions

    out = tmp_path / "ab.json"
    report = ab_versions.main(["WORKTREE", "WORKTREE", "--arch", "784-16-10", "--batch", "16,32", "--blocks", "3",
                               "--steps", "3", "--data", "synthetic", "--samples", "256", "--json", str(out)]
                              + ["--traced"] * traced)
    assert json.loads(out.read_text()) == report and report["traced"] is traced
    assert [r["batch"] for r in report["results"]] == [16, 32]
    for r in report["results"]:
        assert set(r["contenders"]) == {"reference", "A", "B"}
        assert r["contenders"]["reference"]["ratio_to_reference"] == pytest.approx(1.0)
        assert all(c["median_step_s"] > 0 for c in r["contenders"].values())
        lo, hi = r["b_over_a"]["ci95"]
        assert 0 < lo <= r["b_over_a"]["median"] <= hi
        assert r["same_weights"] is True
        assert r["max_weight_diff_vs_reference"] < 1e-5


def test_ab_versions_imports_each_version_under_its_own_name(tmp_path):
    from benchmarks import ab_versions

    copy = ab_versions.import_as("tinygrad_np_probe", ab_versions.export_package("WORKTREE", tmp_path))
    assert copy is not tg and copy.Tensor is not tg.Tensor
    assert copy.autograd.__name__ == "tinygrad_np_probe.autograd"
    x = copy.Tensor(np.array([1.5, -2.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, -4.0])
    again = ab_versions.import_as("tinygrad_np_probe", ab_versions.export_package("WORKTREE", tmp_path / "2"))
    assert again.Tensor is not copy.Tensor  # a re-import does not reuse the first copy's submodules


@pytest.mark.skipif(not (ROOT_DIR / ".git").exists() or shutil.which("git") is None,
                    reason="needs a git checkout")
def test_ab_versions_exports_a_git_revision_and_names_a_bad_one(tmp_path):
    from benchmarks import ab_versions

    pkg = ab_versions.export_package("HEAD", tmp_path)
    assert (pkg / "autograd.py").is_file() and (pkg / "ops" / "linalg.py").is_file()
    with pytest.raises(SystemExit, match="no-such-revision"):
        ab_versions.export_package("no-such-revision", tmp_path / "bad")


def test_engine_floor_rebuilt_contenders_train_on_where_they_were():
    """Rebuilding a contender on fresh arrays (every block) must not change its training."""
    from benchmarks import engine_floor

    rng = np.random.default_rng(6)
    X, y = rng.random((128, 784), dtype=np.float32), rng.integers(0, 10, 128)
    sizes = [784, 16, 10]
    batches = [(X[k:k + 32], y[k:k + 32]) for k in range(0, 128, 32)]
    rebuilt, kept = engine_floor.builders(sizes, 32, X, y, 0.1), engine_floor.builders(sizes, 32, X, y, 0.1)
    for (name, build), (_, build_once) in zip(rebuilt, kept):
        losses_rebuilt = [build()(xb, yb) for xb, yb in batches]  # new arrays before every step
        step = build_once()
        losses_kept = [step(xb, yb) for xb, yb in batches]
        assert losses_rebuilt == losses_kept, name
        assert losses_kept[-1] != losses_kept[0], name


def test_blockrace_rebuilds_every_contender_before_every_block_on_the_same_batches():
    from benchmarks import blockrace

    X = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
    y = np.arange(40) % 10
    seen: dict[str, list[float]] = {"p": [], "q": []}
    builds = {"p": 0, "q": 0}

    def builder(name):
        def build():
            builds[name] += 1
            return lambda xb, yb: seen[name].append(float(xb.sum() + yb.sum()))
        return build

    times = blockrace.race([("p", builder("p")), ("q", builder("q"))], X, y, batch=4, blocks=3, steps=5, seed=2)
    assert builds == {"p": 4, "q": 4}  # the warm-up block and three timed blocks
    assert seen["p"] == seen["q"] and len(seen["p"]) == 4 * 5  # same batches, in the same order
    assert len(set(seen["p"])) > 5  # and the blocks move on through the data
    assert {k: len(v) for k, v in times.items()} == {"p": 3, "q": 3} and all(t > 0 for v in times.values() for t in v)


def test_ab_versions_names_an_architecture_that_does_not_fit_the_data():
    from benchmarks import ab_versions

    with pytest.raises(SystemExit, match="must start with the data's 784 features, got 20-8-4"):
        ab_versions.main(["WORKTREE", "WORKTREE", "--arch", "20-8-4", "--data", "synthetic", "--samples", "64"])


@pytest.mark.parametrize("make", C.available(include_torch=True), ids=lambda m: m.name)
def test_rebuilt_contenders_train_exactly_as_kept_ones(make):
    """``rebuild()`` (fresh arrays before each block of the harness) must not change training."""
    rng = np.random.default_rng(8)
    X, y = rng.random((192, 784), dtype=np.float32), rng.integers(0, 10, 192)
    order = rng.permutation(192)
    kept, rebuilt = make([784, 16, 10], 32, X, y), make([784, 16, 10], 32, X, y)
    kept.epoch(order)
    before = [np.array(w, copy=True) for w in rebuilt.weights()]
    for part in (order[:96], order[96:]):
        old = rebuilt.weights()
        rebuilt.rebuild()
        assert not any(np.shares_memory(a, b) for a, b in zip(old, rebuilt.weights()))  # new arrays
        rebuilt.epoch(part)
    for a, b in zip(kept.weights(), rebuilt.weights()):
        np.testing.assert_array_equal(a, b)
    if before:  # the contenders that train: the weights moved
        assert not all(np.array_equal(a, b) for a, b in zip(before, rebuilt.weights()))


def test_gemm_bound_makes_its_buffers_before_the_timing_and_rebuilds_them_as_copies():
    rng = np.random.default_rng(9)
    X, y = rng.random((100, 784), dtype=np.float32), rng.integers(0, 10, 100)
    bound = C.GemmBound([784, 16, 10], 32, X, y)
    assert set(bound.buffers) == {32, 100 % 32}  # every batch size an epoch over X meets
    old = bound.buffers
    bound.rebuild()
    assert set(bound.buffers) == set(old)
    for b in old:
        for new_group, old_group in zip(bound.buffers[b], old[b]):
            for a, o in zip(new_group, old_group):
                assert not np.shares_memory(a, o)
        np.testing.assert_array_equal(bound.buffers[b][0][0], old[b][0][0])  # same inputs A
    bound.epoch(rng.permutation(100))
    assert set(bound.buffers) == set(old)  # nothing made inside the timed epoch


def test_phase_timed_epochs_train_exactly_as_plain_ones():
    """``epoch_phases`` (the published time split) must time the very training ``epoch`` does."""
    rng = np.random.default_rng(10)
    X, y = rng.random((160, 784), dtype=np.float32), rng.integers(0, 10, 160)
    order, sizes = rng.permutation(160), [784, 16, 10]
    for make in (C.HandNumPy, C.TinygradNP):
        plain, timed = make(sizes, 32, X, y), make(sizes, 32, X, y)
        plain.epoch(order)
        phases = timed.epoch_phases(order)
        assert set(phases) == set(C.PHASES) and all(t > 0 for t in phases.values())
        for a, b in zip(plain.weights(), timed.weights()):
            np.testing.assert_array_equal(a, b)
    racers = [C.TinygradNP(sizes, 32, X, y), C.HandNumPy(sizes, 32, X, y)]
    split = epoch_time.phases_interleaved(racers, order, batch=32, block=64)
    assert len(split) == 2 and all(set(s) == set(C.PHASES) for s in split)
    for a, b in zip(racers[0].weights(), racers[1].weights()):  # both trained one epoch from the start
        np.testing.assert_allclose(a, b, atol=1e-5)
