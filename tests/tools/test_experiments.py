"""Tests of ``python -m experiments`` (eps-sweep, mlp-check, mutants), run in-process with small
settings; the ``--help`` test runs the command in a subprocess. The studies of forward mode and
batched derivatives (taylor, fwd-vs-rev, checkpoint) are tested in ``test_studies.py``."""
from __future__ import annotations

import argparse
import ast
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings

import tinygrad_np as tg
from op_cases import CONSTANT_INPUTS, DIFFERENTIABLE_OPS, OP_CASES
from tinygrad_np import OPS, engine

from experiments import __main__ as cli
from experiments import EXPERIMENTS, eps_sweep, mlp_check, mutants
from experiments.cases import Case, batch_plan, draw_case, has_generator, seeded_case

ROOT = Path(__file__).resolve().parents[2]

EPS64, EPS32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
RULE_OPS = sorted(name for name in OPS if mutants.has_rule(name, "vjp"))


def parse(name: str, *argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args([name, *argv])


def registry_state() -> tuple[dict, dict, dict]:
    return dict(OPS), dict(engine.LOWERED_VJPS), dict(engine.LOWERED_FORWARDS)


# ----------------------------------------------------------------------------- mutants: the full run
@pytest.fixture(scope="module")
def mutant_result() -> mutants.Result:
    before = registry_state()
    with tg.fast.switched(True):  # the fast layer on (whatever TINYGRAD_NP_FAST says): mutants must bypass it
        result = mutants.run()
    assert registry_state() == before, "the registry or the fast layer's tables changed"
    return result


def test_every_registry_op_with_a_rule_has_mutants_of_every_rule(mutant_result):
    assert set(RULE_OPS) == set(DIFFERENTIABLE_OPS)  # the ops with a gradient, as the test suite lists them
    assert all(mutants.has_rule(name, "jvp") for name in RULE_OPS)
    assert all(mutants.has_rule(name, "batch") for name in OPS)  # comparisons and argmax too
    assert not mutant_result.uncovered, f"ops without an input generator: {mutant_result.uncovered}"
    for mode in mutants.MODES:
        ops = OPS if mode == "batch" else RULE_OPS
        counts = {name: sum(o.mutant.op == name and o.mutant.mode == mode for o in mutant_result.outcomes)
                  for name in ops}
        assert min(counts.values()) >= 3, (mode, counts)
    kinds = {o.mutant.kind for o in mutant_result.outcomes}
    assert {"sign", "scale", "upstream", "dropped-term", "wrong-factor", "subgradient", "unbroadcast", "transpose",
            "keepdims", "wrong-axis", "index", "shape", "dtype", "convention"} <= kinds
    batch_kinds = {o.mutant.kind for o in mutant_result.outcomes if o.mutant.mode == "batch"}
    assert batch_kinds == {"out-bdim", "move-axis", "shared-input", "wrong-axis", "broadcast"}


def test_every_mutant_is_caught_by_the_check_meant_to_catch_it(mutant_result):
    assert not mutant_result.failures, mutants.summary(mutant_result)
    assert not mutant_result.baseline_failures, mutant_result.baseline_failures
    for o in mutant_result.outcomes:
        assert o.how in mutants.OUTCOMES
        if o.mutant.expect in ("fd", "invariant"):
            assert o.how == o.mutant.expected, (o.mutant, o.how, o.detail)
    survivors = [o for o in mutant_result.outcomes if o.how == "survived"]
    assert all(o.mutant.expect in ("survives", "gap") and o.mutant.reason for o in survivors)
    # each check catches something: gradcheck and the engine's invariant (VJP), the JVP check and forward mode's
    assert all(mutant_result.count(how, mode) > 0 for how, mode in
               [("gradcheck", "vjp"), ("invariant", "vjp"), ("jvpcheck", "jvp"), ("invariant", "jvp"),
                ("vmapcheck", "batch"), ("invariant", "batch")])
    # a batching mutant is never caught by anything but the vmap check or a refusal it was designed for
    for o in mutant_result.outcomes:
        if o.mutant.mode == "batch" and o.how == "invariant":
            assert o.detail.startswith(("raised as designed: ValueError", "raised as designed: IndexError")), \
                (o.mutant.rule, o.detail)


def test_no_outcome_is_a_crash_or_an_error_of_the_harness(mutant_result):
    assert not mutant_result.crashed, [(o.mutant.op, o.mutant.rule, o.detail) for o in mutant_result.crashed]
    for o in mutant_result.outcomes:
        assert "AttributeError" not in o.detail and "TypeError" not in o.detail, (o.mutant, o.detail)


def test_mutants_of_lowered_ops_run_their_own_rules(mutant_result):
    lowered = [name for name in RULE_OPS if OPS[name] in engine.LOWERED_VJPS]
    assert {"mul", "matmul", "relu", "linear", "linear_act", "cross_entropy"} <= set(lowered)
    by_op = {(o.mutant.op, o.mutant.mode, o.mutant.kind): o for o in mutant_result.outcomes}
    for name in lowered:  # caught, so the wrong rule ran, although the fast layer was on
        assert by_op[(name, "vjp", "sign")].how == "gradcheck", name
        cls = mutants.mutants_for(name)[0].make()
        assert cls not in engine.LOWERED_VJPS and cls not in engine.LOWERED_FORWARDS


def test_designed_raises_and_expected_survivors_end_as_designed(mutant_result):
    by_rule = {(o.mutant.op, o.mutant.mode, o.mutant.rule): o for o in mutant_result.outcomes}
    raised = by_rule[("matmul", "vjp", "ā = g @ b ((n,k)@(k,m), k != m: matmul refuses the shapes)")]
    assert raised.how == "invariant" and raised.detail.startswith("raised as designed: ValueError")
    assert by_rule[("matmul", "vjp", "ā = g @ b (square matrices)")].how == "gradcheck"
    assert by_rule[("sum", "jvp", "Σ ȧ with keepdims=True (shape refused)")].how == "invariant"
    equivalent = by_rule[("linear", "vjp", "b̄ = g, the sum over the rows left out")]
    assert equivalent.how == "survived" and equivalent.examples == 25 and "engine.conform" in equivalent.mutant.reason
    assert not [o for o in mutant_result.outcomes if o.mutant.expect == "gap"]  # no known gap left
    refused = [o for o in mutant_result.outcomes if o.mutant.kind in ("convention", "dtype")]
    assert len(refused) == 2 * 2 * len(RULE_OPS) and all(o.how == "invariant" for o in refused)  # VJPs and JVPs


# ----------------------------------------------------------------------------- mutants: the failure paths
def test_a_crashing_mutant_is_reported_as_crashed_and_fails_the_cli(tmp_path, capsys):
    before = registry_state()
    args = parse("mutants", "--out", str(tmp_path), "--ops", "exp", "--plant-crash", "exp", "--max-examples", "3")
    assert mutants.main(args) == 1
    out = capsys.readouterr().out
    assert "crashed 1" in out and "CRASHED (expected gradcheck)" in out
    assert "AttributeError: 'numpy.ndarray' object has no attribute 'expand' (in the mutant's rule" in out
    with open(tmp_path / "mutants.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["outcome"] for r in rows if r["kind"] == "planted"] == ["crashed"]
    assert (tmp_path / "mutants.png").stat().st_size > 1000 and (tmp_path / "mutants.txt").exists()
    assert registry_state() == before
    assert mutants.main(parse("mutants", "--out", str(tmp_path), "--ops", "exp")) == 0


def test_a_harmless_mutant_survives_and_fails_the_cli(tmp_path, capsys):
    args = parse("mutants", "--out", str(tmp_path), "--ops", "exp", "--rules", "vjp", "--plant-harmless", "exp",
                 "--max-examples", "5")
    assert mutants.main(args) == 1
    assert "SURVIVED (expected gradcheck): exp vjp: identical to the correct rule" in capsys.readouterr().out


def _hunt(mutant: mutants.Mutant) -> mutants.Outcome:
    return mutants.hunt(mutant, 3, 0, mutants.Baseline())


def _raise(error: BaseException):
    def rule(f, i, g, y):
        raise error
    return rule


def test_exceptions_other_than_the_invariants_are_crashes_not_catches():
    mk = lambda mode, wrong, **kw: mutants.Mutant("mul", mode, "test", "test", wrong, **kw)  # noqa: E731
    assert _hunt(mk("vjp", _raise(TypeError("unsupported operand")))).how == "crashed"
    assert _hunt(mk("jvp", _raise(AttributeError("no attribute 'expand'")))).how == "crashed"
    # the engine's words, but not raised by the engine: still a crash
    fake = RuntimeError("Mul's VJP returned Tensor of shape (2,) and dtype float64 for an input of shape (3,)")
    assert _hunt(mk("vjp", _raise(fake))).how == "crashed"
    # designed to raise a ValueError: that one counts, another exception does not
    designed = {"expect": "invariant", "raises": (ValueError, "not aligned")}
    assert _hunt(mk("vjp", _raise(ValueError("matmul: not aligned")), **designed)).how == "invariant"
    assert _hunt(mk("vjp", _raise(TypeError("not aligned")), **designed)).how == "crashed"
    # the real invariants: the engine refuses a wrong shape, forward mode a tangent that does not broadcast
    assert _hunt(mk("vjp", lambda f, i, g, y: g.sum(), expect="invariant")).how == "invariant"
    assert _hunt(mk("jvp", lambda f, i, t, y: t.reshape(-1)[:1].reshape(1, 1, 1, 1), expect="invariant")).how \
        == "invariant"


def test_a_mutant_whose_rule_is_bypassed_is_a_crash(monkeypatch):
    class LowersSubclassesToo(dict):  # a fast layer that would look rules up through the class's bases
        def get(self, cls, default=None):
            return next((dict.get(self, c) for c in cls.__mro__ if dict.__contains__(self, c)), default)

    monkeypatch.setattr(engine, "LOWERED_VJPS", LowersSubclassesToo(engine.LOWERED_VJPS))
    sign = next(m for m in mutants.mutants_for("mul", ["vjp"]) if m.kind == "sign")
    with tg.fast.switched(True):
        outcome = _hunt(sign)
    assert outcome.how == "crashed" and "never ran" in outcome.detail


# ----------------------------------------------------------------------------- mutants: batching rules
def test_batch_plan_stacks_the_examples_along_each_inputs_batch_axis():
    for name in ("add", "where", "matmul", "concatenate", "cross_entropy", "sum"):
        for k in range(5):
            case = seeded_case(name, 0, k)
            plan = batch_plan(case)
            again = batch_plan(case)
            assert again.in_axes == plan.in_axes and all(np.array_equal(a, b) for a, b in zip(again.stacked,
                                                                                             plan.stacked))
            assert 2 <= plan.size <= 4 and any(ax is not None for ax in plan.in_axes)
            for i, (x, ax) in enumerate(zip(case.inputs, plan.in_axes)):
                if ax is None:
                    assert plan.stacked[i] is x and all(ex[i] is x for ex in plan.examples)
                    continue
                assert plan.stacked[i].shape == x.shape[:ax] + (plan.size,) + x.shape[ax:]
                for j, ex in enumerate(plan.examples):
                    np.testing.assert_array_equal(np.take(plan.stacked[i], j, axis=ax), ex[i])
                    assert np.all(np.sign(ex[i]) == np.sign(x)) and ex[i].dtype == x.dtype  # the domain is kept


def test_the_vmap_check_passes_the_correct_rules_and_catches_a_stack_of_the_wrong_shape():
    case = seeded_case("tanh", 0, 0)
    assert mutants.vmap_check(mutants.textbook("tanh"), case, 0) == ""
    summed = mutants.Mutant("tanh", "batch", "test", "test", lambda c, v, b, p, lv: (v[0].sum(), None))
    assert _hunt(summed).how == "vmapcheck"  # the whole stack summed and said to be shared
    assert mutants.vmap_check(summed.make(), case, 0).startswith("vmap gave shape" if case.inputs[0].ndim else "")


def test_a_batching_rule_that_returns_a_batch_axis_out_of_range_is_a_crash_not_a_catch():
    """vmap does not check the bdim a rule returns: one past the last axis fails later, in vmap's
    own code, which the harness reports as a crash (the library has no batching invariant)."""
    base = mutants.base_batch("exp")
    past = mutants.Mutant("exp", "batch", "test", "test",
                          lambda c, v, b, p, lv: (base(c, v, b, p, lv)[0], base(c, v, b, p, lv)[0].ndim))
    outcome = _hunt(past)
    assert outcome.how == "crashed" and "outside the mutant's rule" in outcome.detail


def test_batching_mutants_designed_to_raise_count_only_for_their_exception():
    def raising(error):
        def rule(cls, values, bdims, params, level):
            raise error
        return rule

    designed = {"expect": "invariant", "raises": (ValueError, "do not fit")}
    assert _hunt(mutants.Mutant("mul", "batch", "test", "test", raising(ValueError("linear: do not fit")),
                                **designed)).how == "invariant"
    assert _hunt(mutants.Mutant("mul", "batch", "test", "test", raising(IndexError("do not fit")),
                                **designed)).how == "crashed"


def test_the_batching_rules_of_one_op_pass_the_cli_and_a_harmless_mutant_survives(tmp_path):
    args = parse("mutants", "--out", str(tmp_path), "--ops", "sum", "--rules", "batch", "--max-examples", "4")
    assert mutants.main(args) == 0
    base = mutants.base_batch("sum")
    harmless = mutants.Mutant("sum", "batch", "planted", "the correct rule",
                              lambda c, v, b, p, lv: base(c, v, b, p, lv))
    result = mutants.run(["sum"], modes=["batch"], max_examples=4, extra=[harmless])
    assert [o.how for o in result.failures] == ["survived"] and "Batching mutants" in mutants.summary(result)


# ----------------------------------------------------------------------------- mutants: other examples
def _case_from_sample(sample) -> Case:
    """An ``op_cases`` sample as a ``cases.Case`` (its constant inputs back in their places)."""
    consts = dict(CONSTANT_INPUTS.get(sample.name, ()))
    params = {k: v for k, v in sample.params.items() if k not in consts}
    constants = {pos: np.asarray(sample.params[key]) for key, pos in consts.items()}
    return Case(sample.name, [np.asarray(x) for x in sample.inputs], params, constants)


def _examples(name: str, n: int) -> list[Case]:
    """``n`` examples of op ``name`` from the test suite's strategy (derandomized: the same every run)."""
    bucket: list[Case] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(OP_CASES[name].strategy)
    def collect(sample):
        bucket.append(_case_from_sample(sample))

    collect()
    return bucket


@pytest.fixture(scope="module")
def suite_examples() -> dict[str, list[Case]]:
    return {name: _examples(name, 12) for name in RULE_OPS}


def test_on_the_test_suites_examples_no_mutant_crashes_or_is_caught_by_another_check(suite_examples):
    result = mutants.run(RULE_OPS, draw=lambda name, seed, k: suite_examples[name][k]
                         if k < len(suite_examples[name]) else None)
    assert not result.crashed and not result.baseline_failures
    caught = [o for o in result.outcomes if o.how != "survived"]
    assert all(o.ok for o in caught), [(o.mutant.rule, o.how) for o in caught if not o.ok]
    assert len(caught) >= 0.8 * len(result.outcomes)  # the rest: no example of their domain among the 12


# ----------------------------------------------------------------------------- the example generators
def test_generators_draw_valid_inputs_for_every_op_with_a_rule():
    rng = np.random.default_rng(1)
    for name in RULE_OPS:
        assert has_generator(name), name
        case = draw_case(name, rng)
        assert case.inputs and all(x.dtype == np.float64 for x in case.inputs)
        expected = {pos for _, pos in CONSTANT_INPUTS.get(name, ())}
        assert set(case.constants) == expected, name
        assert case.fn(*[tg.Tensor(x) for x in case.inputs]).dtype == np.float64


# ----------------------------------------------------------------------------- eps-sweep
def rel_error(result: eps_sweep.SweepResult, dtype: str, method: str, h: float) -> float:
    row = min((r for r in result.rows if r["dtype"] == dtype and r["method"] == method),
              key=lambda r: abs(np.log10(r["h"] / h)))
    assert abs(np.log10(row["h"] / h)) < 1e-9, f"step {h} is not on the grid"
    return row["rel_error"]


def best(result: eps_sweep.SweepResult, dtype: str, method: str) -> dict:
    return next(b for b in result.best if b["dtype"] == dtype and b["method"] == method)


@pytest.fixture(scope="module")
def smooth_sweep() -> eps_sweep.SweepResult:
    return eps_sweep.sweep(eps_sweep.smooth_problem())


def test_eps_sweep_writes_csv_and_png(tmp_path, capsys):
    assert eps_sweep.main(parse("eps-sweep", "--out", str(tmp_path), "--dtype", "float64")) == 0
    with open(tmp_path / "eps_sweep_smooth.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["function", "dtype", "method", "h", "estimate", "reference", "abs_error", "rel_error"]
    assert len(rows) == len(eps_sweep.STEPS) * len(eps_sweep.METHODS)
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
    f32, f64 = best(smooth_sweep, "float32", "central"), best(smooth_sweep, "float64", "central")
    assert f32["min_rel_error"] > 1e3 * f64["min_rel_error"]


def test_complex_step_reaches_machine_precision(smooth_sweep):
    for h in (1e-20, 1e-12):
        assert rel_error(smooth_sweep, "float64", "complex", h) <= 4 * EPS64
        assert rel_error(smooth_sweep, "float32", "complex", h) <= 4 * EPS32


def test_an_op_without_a_gradient_is_refused_by_name():
    with pytest.raises(ValueError, match="'greater' has no gradient"):
        eps_sweep.op_problem("greater")


def test_complex_step_skipped_where_invalid():
    problem = eps_sweep.op_problem("sigmoid")
    assert problem.complex_skip and "abs" in problem.complex_skip
    result = eps_sweep.sweep(problem, ("float64",))
    assert {r["method"] for r in result.rows} == {"forward", "central", "richardson"}


@pytest.mark.parametrize("function", ["op:tanh", "op:matmul", "op:where", "op:cross_entropy", "mlp"])
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
    with open(tmp_path / "mlp_check.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["dtype", "tensor", "shape", "fd_entries", "kinks", "ref_max_abs", "ref_max_rel",
                             "ref_norm", "fd_max_abs", "fd_max_rel", "fd_norm"]
    assert [(r["dtype"], r["tensor"]) for r in rows] == [(d, t) for d in ("float32", "float64")
                                                          for t in ("W1", "b1", "W2", "b2")]
    assert (tmp_path / "mlp_check.png").stat().st_size > 1000


def test_finite_differences_leave_the_parameters_as_they_were():
    problem = mlp_check.make_problem((4, 3, 2), batch=3)
    model = mlp_check.build_model(problem, np.float64)
    before = [p.numpy().copy() for p in model.param_list()]
    mlp_check.fd_grads(model, problem, 1e-6, 5, np.random.default_rng(0))
    assert all(np.array_equal(p.numpy(), b) for p, b in zip(model.param_list(), before))


def test_relative_error_ignores_tiny_reference_entries():
    err = mlp_check.rel_errors(np.array([1.0, 1e-12]), np.array([1.0, 0.0]))
    assert err[1] == pytest.approx(1e-9)


# ----------------------------------------------------------------------------- CLI and layering
def test_help_lists_experiments_and_explains_each(capsys):
    proc = subprocess.run([sys.executable, "-m", "experiments", "--help"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert tuple(cli.MODULES) == EXPERIMENTS
    for name in EXPERIMENTS:
        assert name in proc.stdout
        with pytest.raises(SystemExit) as exc:
            cli.main([name, "--help"])
        assert exc.value.code == 0
        assert "--out" in capsys.readouterr().out


def test_experiments_import_at_module_top_only():
    for path in sorted((ROOT / "experiments").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
                assert not inner, f"{path.name}: import inside {node.name}()"
        assert "importlib" not in path.read_text(), path.name
