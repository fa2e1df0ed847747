"""Tests of ``python -m tinygrad_np.experiments`` (eps-sweep, mlp-check, mutants), run in-process
with small settings; one subprocess test of ``--help``."""
from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_np import OPS
from tinygrad_np.experiments import __main__ as cli
from tinygrad_np.experiments import eps_sweep, mlp_check, mutants
from tinygrad_np.experiments.cases import draw_case, has_generator

EPS64, EPS32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps


def parse(name: str, *argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args([name, *argv])


def rel_error(result: eps_sweep.SweepResult, dtype: str, method: str, h: float) -> float:
    row = min((r for r in result.rows if r["dtype"] == dtype and r["method"] == method),
              key=lambda r: abs(np.log10(r["h"] / h)))
    assert abs(np.log10(row["h"] / h)) < 1e-9, f"step {h} is not on the grid"
    return row["rel_error"]


def best(result: eps_sweep.SweepResult, dtype: str, method: str) -> dict:
    return next(b for b in result.best if b["dtype"] == dtype and b["method"] == method)


# ----------------------------------------------------------------------------- eps-sweep
@pytest.fixture(scope="module")
def smooth_sweep() -> eps_sweep.SweepResult:
    return eps_sweep.sweep(eps_sweep.smooth_problem())


def test_eps_sweep_writes_csv_and_png(tmp_path, capsys):
    assert eps_sweep.main(parse("eps-sweep", "--out", str(tmp_path), "--dtype", "float64")) == 0
    csv_text = (tmp_path / "eps_sweep_smooth.csv").read_text()
    assert csv_text.startswith("function,dtype,method,h,estimate,reference,abs_error,rel_error")
    assert (tmp_path / "eps_sweep_smooth.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "cbrt(eps)" in out and "central" in out


def test_central_difference_error_is_v_shaped(smooth_sweep):
    b = best(smooth_sweep, "float64", "central")
    assert b["min_rel_error"] < 1e-9
    assert b["min_rel_error"] < 1e-4 * rel_error(smooth_sweep, "float64", "central", 1e-1)  # truncation side
    assert b["min_rel_error"] < 1e-4 * rel_error(smooth_sweep, "float64", "central", 1e-13)  # rounding side
    assert abs(np.log10(b["best_h"] / EPS64 ** (1 / 3))) <= 2  # best step ~ cbrt(eps_machine)


def test_forward_and_richardson_optima_follow_theory(smooth_sweep):
    fwd, rich = best(smooth_sweep, "float64", "forward"), best(smooth_sweep, "float64", "richardson")
    assert abs(np.log10(fwd["best_h"] / EPS64 ** 0.5)) <= 2
    assert rich["min_rel_error"] < best(smooth_sweep, "float64", "central")["min_rel_error"]
    # float32's V bottoms out much higher than float64's
    assert best(smooth_sweep, "float32", "central")["min_rel_error"] > 1e3 * best(smooth_sweep, "float64", "central")["min_rel_error"]


def test_complex_step_reaches_machine_precision(smooth_sweep):
    for h in (1e-20, 1e-12):
        assert rel_error(smooth_sweep, "float64", "complex", h) <= 4 * EPS64
        assert rel_error(smooth_sweep, "float32", "complex", h) <= 4 * EPS32


def test_complex_step_skipped_where_invalid():
    problem = eps_sweep.op_problem("sigmoid")
    assert problem.complex_skip and "abs" in problem.complex_skip
    result = eps_sweep.sweep(problem, ("float64",))
    assert {r["method"] for r in result.rows} == {"forward", "central", "richardson"}


@pytest.mark.parametrize("function", ["op:tanh", "op:matmul", "mlp"])
def test_other_functions_use_autograd_as_reference(function):
    result = eps_sweep.sweep(eps_sweep.make_problem(function), ("float64",))
    assert best(result, "float64", "central")["min_rel_error"] < 1e-8
    assert rel_error(result, "float64", "complex", 1e-20) <= 1e-14


# ----------------------------------------------------------------------------- mlp-check
@pytest.fixture(scope="module")
def mlp_result() -> mlp_check.CheckResult:
    return mlp_check.run(fd_entries=200)


def test_mlp_autograd_matches_reference_and_finite_differences(mlp_result):
    rows64 = [r for r in mlp_result.rows if r["dtype"] == "float64"]
    assert [r["tensor"] for r in rows64] == ["W1", "b1", "W2", "b2"]
    for r in rows64:
        assert r["ref_max_rel"] <= 1e-10, r
        assert r["fd_norm"] <= 1e-7 and r["fd_max_rel"] <= 1e-4, r
    for r in mlp_result.rows:
        if r["dtype"] == "float32":
            assert r["ref_max_rel"] <= 1e-4 and r["fd_norm"] <= 1e-2, r


def test_mlp_check_cli_writes_table_csv_and_heat_map(tmp_path, capsys):
    args = parse("mlp-check", "--out", str(tmp_path), "--sizes", "6,5,3", "--activation", "tanh", "--loss", "mse")
    assert mlp_check.main(args) == 0
    assert "AG-FD" in capsys.readouterr().out
    assert (tmp_path / "mlp_check.csv").read_text().count("\n") == 1 + 2 * 4
    assert (tmp_path / "mlp_check.png").stat().st_size > 1000


def test_relative_error_ignores_tiny_reference_entries():
    err = mlp_check.rel_errors(np.array([1.0, 1e-12]), np.array([1.0, 0.0]))
    assert err[1] == pytest.approx(1e-9)


# ----------------------------------------------------------------------------- mutants
@pytest.fixture(scope="module")
def mutant_result() -> mutants.Result:
    before = dict(OPS)
    result = mutants.run()
    assert OPS == before, "the registry was not restored"
    return result


def test_every_mutant_is_caught(mutant_result):
    assert not mutant_result.survivors, mutants.summary(mutant_result)
    assert not mutant_result.baseline_failures, mutant_result.baseline_failures
    assert {o.how for o in mutant_result.outcomes} <= {"gradcheck", "engine", "raised"}


def test_every_registry_op_has_enough_mutants(mutant_result):
    assert not mutant_result.uncovered, f"ops without an input generator: {mutant_result.uncovered}"
    counts = {name: 0 for name in OPS}
    for o in mutant_result.outcomes:
        counts[o.mutant.op] += 1
    assert min(counts.values()) >= 3, counts
    kinds = {o.mutant.kind for o in mutant_result.outcomes}
    assert {"sign", "scale", "upstream", "dropped-term", "unbroadcast", "transpose", "keepdims", "dtype"} <= kinds


def test_silent_transposed_matmul_is_caught_by_gradcheck(mutant_result):
    by_rule = {(o.mutant.op, o.mutant.rule): o for o in mutant_result.outcomes}
    assert by_rule[("matmul", "ā = g @ b (square matrices)")].how == "gradcheck"
    assert by_rule[("matmul", "ā = g @ b (any shapes)")].caught


def test_planted_harmless_mutant_survives_and_exit_code_is_nonzero(tmp_path, capsys):
    args = parse("mutants", "--out", str(tmp_path), "--ops", "exp", "--plant-harmless", "exp", "--max-examples", "5")
    assert mutants.main(args) == 1
    out = capsys.readouterr().out
    assert "SURVIVED" in out and "harmless" in out
    assert (tmp_path / "mutants.csv").exists() and (tmp_path / "mutants.png").exists()
    assert mutants.main(parse("mutants", "--out", str(tmp_path), "--ops", "exp")) == 0


def test_swapped_restores_the_registry_on_error():
    original = OPS["exp"]
    with pytest.raises(ZeroDivisionError):
        with mutants.swapped("exp", mutants.harmless("exp").make(original)):
            assert OPS["exp"] is not original
            1 / 0
    assert OPS["exp"] is original


def test_hypothesis_source_catches_mutants():
    pytest.importorskip("op_cases")
    result = mutants.run(["mul", "sum"], source="hypothesis", max_examples=100)
    assert not result.survivors, mutants.summary(result)


def test_generators_draw_valid_inputs():
    rng = np.random.default_rng(1)
    for name in OPS:
        assert has_generator(name), name
        case = draw_case(name, rng)
        assert all(x.dtype == np.float64 for x in case.inputs)


# ----------------------------------------------------------------------------- CLI
def test_help_lists_experiments_and_explains_each(capsys):
    proc = subprocess.run([sys.executable, "-m", "tinygrad_np.experiments", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for name in ("eps-sweep", "mlp-check", "mutants"):
        assert name in proc.stdout
        with pytest.raises(SystemExit) as exc:
            cli.main([name, "--help"])
        assert exc.value.code == 0
        assert "--out" in capsys.readouterr().out
