"""The studies of forward mode and batched derivatives: ``python -m experiments taylor | fwd-vs-rev |
checkpoint`` and ``python -m benchmarks.transforms``, run in-process in their quick modes.

What is checked is what the studies compute (slopes, Jacobians, bytes, gradients) and the
structure of what they write, never a timing."""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg
from benchmarks import transforms
from benchmarks.machine import openblas_probe
from experiments import __main__ as cli
from experiments import checkpointing, fwd_vs_rev, taylor, timing


def parse(name: str, *argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args([name, *argv])


# ----------------------------------------------------------------------------- taylor
@pytest.fixture(scope="module")
def taylor_runs() -> list[taylor.Run]:
    return taylor.run()


def test_taylor_slopes_are_2_and_3_for_right_derivatives_and_drop_for_the_mutants(taylor_runs):
    slopes = {r.problem.name: (r.report.slope_first, r.report.slope_second) for r in taylor_runs}
    for name in ("smooth", "mlp"):
        assert abs(slopes[name][0] - 2) < 0.1 and abs(slopes[name][1] - 3) < 0.1, (name, slopes[name])
    assert abs(slopes["mutant-vjp"][0] - 1) < 0.1 and abs(slopes["mutant-vjp"][1] - 1) < 0.1
    assert abs(slopes["mutant-jvp"][0] - 2) < 0.1 and abs(slopes["mutant-jvp"][1] - 2) < 0.1
    passed = {r.problem.name: r.report.passed for r in taylor_runs}
    assert passed == {"smooth": True, "mlp": True, "mutant-vjp": False, "mutant-jvp": False}
    assert all(r.as_expected for r in taylor_runs)


def test_taylor_mlp_problem_is_the_mnist_models_loss(taylor_runs):
    problem = next(r.problem for r in taylor_runs if r.problem.name == "mlp")
    prob = taylor.mlp_check.make_problem(activation="tanh")
    model = taylor.mlp_check.build_model(prob, np.float64)
    with tg.no_grad():
        expected = model.loss(prob.X, prob.y).item()
        got = problem.fn(*[tg.Tensor(p) for p in problem.inputs]).item()
    assert got == expected
    assert len(problem.inputs) == 4 and problem.steps[0] < taylor.STEPS[0] / 20


def test_taylor_cli_writes_json_csv_png_and_fails_when_a_slope_is_not_as_expected(tmp_path, capsys, monkeypatch):
    assert taylor.main(parse("taylor", "--out", str(tmp_path), "--functions", "smooth,mutant-vjp")) == 0
    out = capsys.readouterr().out
    assert "every slope as expected" in out and "mutant-vjp" in out
    data = json.loads((tmp_path / "taylor.json").read_text())
    assert [f["function"] for f in data["functions"]] == ["smooth", "mutant-vjp"]
    smooth = data["functions"][0]
    assert smooth["expected_slopes"] == [2.0, 3.0] and len(smooth["steps"]) == len(smooth["first"]) == 17
    with open(tmp_path / "taylor.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 34 and list(rows[0]) == ["function", "h", "first_order_remainder", "second_order_remainder"]
    assert (tmp_path / "taylor.png").stat().st_size > 1000
    # a wrong gradient declared right: the run says so and exits 1
    wrong = [taylor.Problem(p.name, p.description, p.fn, p.inputs, (2.0, 3.0)) for p in taylor.smooth_problems(0)]
    monkeypatch.setattr(taylor, "smooth_problems", lambda seed: wrong)
    assert taylor.main(parse("taylor", "--out", str(tmp_path), "--functions", "mutant-vjp")) == 1
    assert "NOT AS EXPECTED: mutant-vjp" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown functions"):
        taylor.main(parse("taylor", "--out", str(tmp_path), "--functions", "nope"))


# ----------------------------------------------------------------------------- fwd-vs-rev
@pytest.mark.parametrize("n,m", [(3, 5), (5, 3), (4, 4)])
def test_every_method_computes_the_closed_form_jacobian(n, m):
    problem = fwd_vs_rev.Problem.draw(n, m, hidden=6)
    expected = problem.closed_form()
    assert expected.shape == (m, n)
    for method in fwd_vs_rev.METHODS:
        np.testing.assert_allclose(fwd_vs_rev.method_call(problem, method)(), expected, rtol=1e-12, atol=1e-14,
                                   err_msg=method)


def test_fwd_vs_rev_quick_run_covers_the_grid_and_writes_its_outputs(tmp_path, capsys):
    assert fwd_vs_rev.main(parse("fwd-vs-rev", "--quick", "--out", str(tmp_path))) == 0
    data = json.loads((tmp_path / "fwd_vs_rev.json").read_text())
    rows = data["rows"]
    sizes = fwd_vs_rev.QUICK_SIZES
    assert {(r["n"], r["m"], r["method"]) for r in rows} == {(n, m, k) for n in sizes for m in sizes
                                                             for k in fwd_vs_rev.METHODS}
    for r in rows:
        assert r["max_abs_error"] <= 1e-12 and r["median_ms"] > 0
        assert r["peak_bytes"] >= r["n"] * r["m"] * 8  # the Jacobian itself is traced
        if r["method"] == "jacrev":
            assert r["ratio_to_jacrev"] == 1.0
    assert set(data["summary"]) == {"tall", "wide", "square", "max_abs_error"}
    assert data["summary"]["tall"]["points"] == 1 and data["summary"]["square"]["points"] == 2
    with open(tmp_path / "fwd_vs_rev.csv") as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    assert (tmp_path / "fwd_vs_rev.png").stat().st_size > 1000
    assert "tall (n < m)" in capsys.readouterr().out


def test_peak_bytes_sees_the_arrays_a_call_allocates():
    small = timing.peak_bytes(lambda: np.ones(1000))
    big = timing.peak_bytes(lambda: np.ones(100_000))
    assert 8_000 <= small < 20_000 and 800_000 <= big < 900_000


def test_race_times_every_contender_in_every_block_and_pairs_the_ratios():
    calls = {"a": 0, "b": 0}

    def build(name):
        def make():
            def call():
                calls[name] += 1
            return call
        return make

    times = timing.race([("a", build("a")), ("b", build("b"))], blocks=3, calls=2)
    assert [len(v) for v in times.values()] == [3, 3]
    assert calls == {"a": 4 * 3, "b": 4 * 3}  # 1 warm-up + 3 blocks, each 1 untimed + 2 timed calls
    stats = timing.paired(times, "a")
    assert stats["a"]["ratio"] == 1.0 and stats["b"]["median_s"] > 0


# ----------------------------------------------------------------------------- checkpoint
def test_chain_segments_cover_the_layers_in_about_sqrt_n_pieces():
    for n in (1, 10, 16, 30, 1000):
        parts = checkpointing.segments(n)
        assert sum(parts) == n and max(parts) == round(np.sqrt(n)) and len(parts) == -(-n // round(np.sqrt(n)))


@pytest.mark.parametrize("n", [9, 16])
def test_saved_bytes_of_the_chain_are_2n_plus_1_activations_plain_and_one_per_segment_boundary(n):
    x0, w0 = checkpointing.chain_arrays()
    act, weight, loss = x0.nbytes, w0.nbytes, 8
    plain, g_plain = checkpointing.chain_run(n, False, x0, w0)
    ckpt, g_ckpt = checkpointing.chain_run(n, True, x0, w0)
    assert plain == (2 * n + 1) * act + weight + loss  # x, then each product and each tanh
    assert ckpt == (len(checkpointing.segments(n)) + 1) * act + weight + loss  # x and every segment's output
    np.testing.assert_allclose(g_ckpt, g_plain, rtol=1e-12, atol=1e-14)


def test_mlp_study_accounts_for_every_array_kept(tmp_path):
    rows = {r["way"]: r for r in checkpointing.mlp_study(batch=4, blocks=1, seed=0)}
    fused, textbook, ckpt = (rows[w] for w in checkpointing.MLP_WAYS)
    # one checkpoint per layer keeps what the fused nodes keep (each layer's input, W, b and output) ...
    assert ckpt["saved_bytes"] == fused["saved_bytes"]
    # ... and textbook ops also keep the hidden layers' pre-activations, 4 x (128 + 64) float32
    assert textbook["saved_bytes"] - fused["saved_bytes"] == 4 * (128 + 64) * 4
    for r in rows.values():
        assert r["weights_bytes"] == sum(p.numpy().nbytes for p in checkpointing.mlp_setup(4, 0)[0].param_list())
        assert r["grad_max_rel_diff"] <= 1e-6 and r["peak_bytes"] > 0 and r["ms"] > 0


def test_checkpoint_quick_run_writes_outputs_and_fits_slopes(tmp_path, capsys):
    assert checkpointing.main(parse("checkpoint", "--quick", "--out", str(tmp_path))) == 0
    data = json.loads((tmp_path / "checkpoint.json").read_text())
    assert [r["n"] for r in data["chain"]] == list(checkpointing.QUICK_DEPTHS)
    assert [r["way"] for r in data["mlp"]] == list(checkpointing.MLP_WAYS)
    s = data["chain_slopes"]
    assert s["checkpointed_saved"] < s["plain_saved"]
    for r in data["chain"]:
        assert r["checkpointed_saved_bytes"] < r["plain_saved_bytes"] and r["checkpointed_peak_bytes"] > 0
    assert (tmp_path / "checkpoint.png").stat().st_size > 1000 and (tmp_path / "checkpoint.csv").exists()
    assert "gradients agree" in capsys.readouterr().out


# ----------------------------------------------------------------------------- benchmarks.transforms
@pytest.fixture(scope="module")
def quick_transforms(tmp_path_factory) -> tuple[dict, object]:
    out = tmp_path_factory.mktemp("transforms")
    return transforms.main(["--quick", "--out", str(out)]), out


def test_transforms_quick_run_times_every_section_and_writes_json_and_markdown(quick_transforms):
    report, out = quick_transforms
    assert [s["section"] for s in report["sections"]] == list(transforms.SECTIONS)
    assert json.loads((out / "transforms.json").read_text())["sections"] == report["sections"]
    md = (out / "transforms.md").read_text()
    for s in report["sections"]:
        assert s["contenders"][s["baseline"]]["ratio"] == 1.0 == s["contenders"][s["baseline"]]["ratio_cpu"]
        assert all(c["median_s"] > 0 and c["ratio"] > 0 and c["median_cpu_s"] >= 0 for c in s["contenders"].values())
        assert f"### {s['section']}:" in md
    assert "vmap(grad) / loop" in md and report["machine"]["blas"]


def test_every_timed_computation_agrees_with_the_one_it_is_checked_against(quick_transforms):
    report, _ = quick_transforms
    for s in report["sections"]:
        assert s["agreement"], s["section"]
        for name, diff in s["agreement"].items():
            assert diff <= 1e-5, (s["section"], name, diff)  # float32 sums in other orders
    checked = {s["section"]: set(s["agreement"]) for s in report["sections"]}
    assert {"tg.jvp", "tg.jvp, tangent for x only", "tg.vjp + vjp_fn(u)"} <= checked["jvp"]
    assert {"jacrev (vmap over the cotangent basis)", "jacfwd (vmap over the tangent basis)"} <= checked["jacobian"]
    assert "vmap(grad(loss), in_axes=(None, 0, 0))" in checked["per-example"]


def test_a_wrong_result_would_show_in_the_agreement():
    section = transforms.jacobian_section(4, 2, 1, 0)
    jacfwd = next(c for c in section.contenders if c.name.startswith("jacfwd"))
    jacfwd.result = lambda J: np.asarray(J.numpy()) * 1.01  # a 1% error
    assert transforms.agreement(section)["jacfwd (vmap over the tangent basis)"] == pytest.approx(0.01, rel=1e-3)


def test_per_example_gradients_of_the_mnist_mlp_equal_the_loop_in_float64():
    sizes = (784, 128, 64, 10)
    params = [tg.Tensor(p) for p in transforms.mlp_params(sizes, np.float64, seed=1)]
    rng = np.random.default_rng(1)
    X, y = rng.random((6, 784)), rng.integers(0, 10, 6)
    vmapped = transforms.per_example_vmap(params, X, y)
    looped = transforms.per_example_loop(params, X, y)
    for v, loop, p in zip(vmapped, looped, params):
        assert v.shape == (6,) + p.shape and v.dtype == np.float64
        np.testing.assert_allclose(v.numpy(), loop, rtol=1e-12, atol=1e-12)
    # their mean is the gradient one training step takes (the mean loss of the batch)
    batch = tg.grad(lambda *ps: transforms.batch_loss(ps, tg.Tensor(X), y), argnums=tuple(range(6)))(*params)
    for v, b in zip(vmapped, batch):
        np.testing.assert_allclose(v.numpy().mean(axis=0), b.numpy(), rtol=1e-10, atol=1e-14)


def test_set_blas_threads_changes_openblas_thread_count():
    probe = openblas_probe()
    if not probe:
        pytest.skip("NumPy's BLAS is not an OpenBLAS bundle")
    before = probe["threads"]
    try:
        assert transforms.set_blas_threads(1) and openblas_probe()["threads"] == 1
        assert timing.set_blas_threads(2) and openblas_probe()["threads"] == 2
    finally:
        transforms.set_blas_threads(before)
    assert openblas_probe()["threads"] == before


def test_transforms_runs_as_a_module_from_the_repository_root():
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "benchmarks.transforms", "--help"], cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "python -m benchmarks.transforms" in done.stdout and "--quick" in done.stdout


def test_transforms_refuses_unknown_sections():
    with pytest.raises(SystemExit):
        transforms.main(["--sections", "jvp,nope"])
