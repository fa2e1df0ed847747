"""The benchmark harness: it runs in its quick modes and writes well-formed results; what it times
computes what the reference computes (same weights, same gradients); its peers run isolated in
worker processes, in lock-step. Timings themselves are never asserted."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg
from benchmarks import baseline, epoch_time, op_overhead, peers as P, worker as W
from benchmarks import contenders as C
from benchmarks.dev import ab_versions, anatomy, blockrace, engine_floor, peer_isolation
from benchmarks.machine import cpu_snapshot, other_load, wait_until_quiet
from benchmarks.tg_api import API, MLPTrainer
from mnist import reference

ROOT_DIR = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT_DIR / "benchmarks"
INSTALLED_PEERS = [p for p in P.PEERS if P.installed(p)]


def _peer_param(peer):
    return pytest.param(peer, id=peer.module, marks=pytest.mark.skipif(
        not P.installed(peer), reason=f"{peer.module} not installed (pip install -e '.[peers]')"))


ALL_PEERS = [_peer_param(p) for p in P.PEERS]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """One quick run with every installed peer, each in its worker process."""
    out = tmp_path_factory.mktemp("bench")
    report = epoch_time.main(["--quick", "--data", "synthetic", "--samples", "512", "--out", str(out)])
    return out, report


# ----------------------------------------------------------------------------- epoch_time
def test_quick_run_writes_json_markdown_png(quick_report):
    out, report = quick_report
    on_disk = json.loads((out / "epoch_time.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert on_disk["benchmark"] == "epoch_time"
    for key in ("cpu", "cores", "blas", "versions"):
        assert key in on_disk["machine"]
    assert {"library", "threads"} <= set(on_disk["machine"]["blas"])
    if (ROOT_DIR / ".git").exists() and shutil.which("git"):
        assert on_disk["machine"]["versions"]["checkout"].split("+")[0] in md_text(out)
    assert on_disk["peak_gemm_gflops"] > 0
    (r,) = on_disk["results"]
    assert r["arch"] == "784-128-64-10" and r["batch"] == 128 and r["n_samples"] == 512
    names = list(r["contenders"])
    local = [C.HandNumPy.name, C.TinygradNP.name, C.TinygradNPTraced.name, C.TinygradNPCompiled.name,
             C.TinygradNPCompiledGemm.name]
    assert names[:5] == local
    assert names[-1] == C.GemmBound.name
    assert names[5:-1] == [p.name for p in INSTALLED_PEERS]
    for name, c in r["contenders"].items():
        assert len(c["times_s"]) == on_disk["settings"]["reps"] == 2
        assert c["min_s"] <= c["median_s"] <= c["max_s"]
        assert c["ratio_to_reference"] > 0 and c["ratio_to_gemm_bound"] > 0
        assert c["in_process"] is (name not in {p.name for p in P.PEERS})
    assert r["contenders"][C.HandNumPy.name]["ratio_to_reference"] == pytest.approx(1.0)
    assert set(r["tinygrad_phases_s"]) == set(r["reference_phases_s"]) == {"data", "forward", "backward", "optimizer"}
    assert all(t > 0 for t in [*r["tinygrad_phases_s"].values(), *r["reference_phases_s"].values()])
    assert r["physical_bound_s"] > 0 and r["flops"] == C.epoch_flops([784, 128, 64, 10], 512)
    mem = r["memory"][C.TinygradNP.name]
    assert mem["peak_bytes"] > 0 and len(mem["held_after_epoch_bytes"]) == 3
    md = (out / "epoch_time.md").read_text()
    for name in names:
        assert f"| 784-128-64-10 | 128 | {name} |" in md
    assert (out / "epoch_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def md_text(out):
    return (out / "epoch_time.md").read_text()


def test_every_contender_trains_to_the_reference_weights(quick_report):
    """Same init and data order: after one epoch every contender holds (nearly) the same weights
    (float32 updates rounding differently drift by ~1e-7 per step at most)."""
    _, report = quick_report
    diffs = {name: c["max_weight_diff_vs_reference"] for name, c in report["results"][0]["contenders"].items()}
    assert diffs.pop(C.GemmBound.name) is None  # it does not train
    assert diffs[C.HandNumPy.name] == 0.0
    for name, d in diffs.items():
        assert d < 1e-5, name


def test_every_contender_computes_the_hand_derived_gradients(quick_report):
    """One batch's gradients at the shared initial weights, each contender against the reference's
    formulas: equal to float32 rounding (``GRAD_RTOL`` of each gradient's largest entry)."""
    _, report = quick_report
    r = report["results"][0]
    for name, c in r["contenders"].items():
        if name == C.GemmBound.name:
            assert c["grads_agree"] is None
            continue
        assert 0.0 <= c["grad_rel_diff_vs_reference"] <= epoch_time.GRAD_RTOL, name
        assert c["grads_agree"] is True, name
    assert 0.0 <= r["max_grad_diff_vs_reference"] < 1e-6
    assert r["traced_grads_equal_eager"] is True  # the replayed step: bit for bit


@pytest.mark.parametrize("peer", ALL_PEERS)
def test_each_installed_peer_ran_in_its_own_worker(quick_report, peer):
    _, report = quick_report
    c = report["results"][0]["contenders"][peer.name]
    assert c["in_process"] is False and c["grads_agree"] is True
    assert c["unsettled_blocks"] >= 0 and c["settle_s_median"] >= 0
    assert peer.name in report["machine"]["versions"]


@pytest.mark.parametrize("name", [C.TinygradNP.name, C.TinygradNPTraced.name])
def test_memory_does_not_grow_between_epochs(quick_report, name):
    _, report = quick_report
    mem = report["results"][0]["memory"][name]
    assert abs(mem["growth_bytes"]) < 64 * 1024


def test_each_repetition_records_how_busy_other_processes_kept_the_machine(quick_report):
    _, report = quick_report
    loads = report["results"][0]["other_cpu_load_per_rep"]
    assert len(loads) == report["settings"]["reps"]
    assert all(v is None or 0.0 <= v <= 1.0 for v in loads)


def test_other_load_is_the_machine_share_used_beyond_our_own_processes():
    cores = os.cpu_count() or 1
    # 2 s of wall clock; the machine busy for 3 CPU-seconds, 1 of them ours: 2 CPU-seconds of others'
    assert other_load((10.0, 100.0, 5.0), (12.0, 103.0, 6.0)) == pytest.approx(2.0 / (2.0 * cores))
    assert other_load((10.0, 100.0, 5.0), (12.0, 101.0, 6.0)) == 0.0  # never negative
    assert other_load(None, (1.0, 1.0, 1.0)) is None
    snap = cpu_snapshot()
    if snap is not None:  # Linux: /proc is there
        assert len(snap) == 3 and snap[1] > 0 and snap[2] > 0


def test_wait_until_quiet_gives_up_after_max_wait_and_reports_the_last_load():
    waited, load = wait_until_quiet(0.0, threshold=-1.0, window=0.01)  # never quiet enough: one window
    assert 0.01 <= waited and (load is None or load >= 0.0)
    waited, load = wait_until_quiet(5.0, threshold=2.0, window=0.01)  # any load is below 2 cores' worth
    assert waited < 5.0


def test_parse_peers_names_all_none_lists_and_rejects_unknowns():
    assert epoch_time.parse_peers("all") == list(P.PEERS)
    assert epoch_time.parse_peers("none") == []
    assert epoch_time.parse_peers("jax,torch,jax") == [P.Jax, P.Torch]
    assert epoch_time.parse_peers("all", no_torch=True) == [p for p in P.PEERS if p is not P.Torch]
    with pytest.raises(ValueError, match="unknown peer 'tensorflow'"):
        epoch_time.parse_peers("tensorflow")


def test_a_peer_that_is_not_installed_is_skipped_with_a_note(monkeypatch, tmp_path):
    monkeypatch.setattr(P, "installed", lambda peer: False)
    notes: dict[str, str] = {}
    workers, versions = epoch_time.start_workers([P.Jax, P.MyGrad], tmp_path / "unused.npz", notes)
    assert workers == [] and versions == {}
    assert set(notes) == {P.Jax.name, P.MyGrad.name}
    assert all("not installed" in n and ".[peers]" in n for n in notes.values())


def test_a_peer_whose_import_fails_in_its_worker_is_unavailable_not_a_crash(tmp_path):
    fake = tmp_path / "mygrad"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('this mygrad is broken on purpose')\n")
    env = W.worker_env(P.MyGrad.name)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    with pytest.raises(W.PeerUnavailable, match="broken on purpose"):
        W.Worker(P.MyGrad.name, env=env)


def test_warmup_meets_every_batch_size_of_the_epoch():
    rng = np.random.default_rng(0)
    for n, batch in [(60000, 128), (60000, 32), (512, 128), (1000, 300), (100, 512)]:
        warm = epoch_time.warmup_order(rng, n, batch)
        sizes_epoch = {len(b) for b in C.batches(np.arange(n), batch)}
        assert {len(b) for b in C.batches(warm, batch)} == sizes_epoch, (n, batch)
        assert len(set(warm.tolist())) == len(warm) <= n


def test_grad_rel_diff_is_relative_to_each_gradients_largest_entry():
    ref = [np.array([1.0, -2.0], np.float32), np.array([[0.5]], np.float32)]
    assert epoch_time.grad_rel_diff([r.copy() for r in ref], ref) == 0.0
    off = [np.array([1.0, -2.002], np.float32), np.array([[0.5]], np.float32)]
    assert epoch_time.grad_rel_diff(off, ref) == pytest.approx(0.001, rel=1e-3)
    with pytest.raises(ValueError, match="shape"):
        epoch_time.grad_rel_diff([ref[0], ref[0]], ref)
    with pytest.raises(ValueError, match="1 gradients against 2"):
        epoch_time.grad_rel_diff(ref[:1], ref)


def test_epoch_flops_counts_three_products_per_layer_but_two_for_the_input_layer():
    assert C.epoch_flops([4, 3, 2], 10) == 10 * (2 * 4 * 3 * 2 + 2 * 3 * 2 * 3)


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


@pytest.mark.skipif(not INSTALLED_PEERS, reason="no peer installed")
def test_a_worker_peer_in_lock_step_trains_exactly_like_the_same_peer_in_process(tmp_path):
    """Driven block by block through its worker (rebuilt before every block, next to an in-process
    contender), a peer ends with the very weights it reaches in one uninterrupted epoch here."""
    peer = next((p for p in (P.HipsAutograd, P.MyGrad, P.Torch, P.Jax) if P.installed(p)))
    rng = np.random.default_rng(4)
    X, y = rng.random((200, 784), dtype=np.float32), rng.integers(0, 10, 200)
    order, sizes = rng.permutation(200), [784, 16, 10]
    init = C.initial_params(sizes)
    here = peer(sizes, 32, X, y, init=init)
    here.epoch(order)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    w = W.Worker(peer.name)
    try:
        w.call("data", str(tmp_path / "data.npz"))
        remote = W.RemoteContender(w, sizes, 32, 0.05, init)
        local = C.HandNumPy(sizes, 32, X, y, init=init)
        totals = epoch_time.time_epochs_interleaved([local, remote], order, batch=32, block=64)
        assert set(totals) == {local.name, peer.name} and totals[peer.name] > 0
        assert len(remote.settle_s) == len(epoch_time.blocks(order, 32, 64))
        for a, b in zip(here.weights(), remote.weights()):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(W.WorkerError, match="unknown command 'nonsense'"):
            w.call("nonsense")
        assert len(remote.weights()) == 4  # the worker carries on after an error
    finally:
        w.close()
    assert w.proc.poll() == 0


def test_settle_waits_while_a_thread_of_this_process_burns_cpu():
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            sum(range(1000))

    t = threading.Thread(target=spin)
    t.start()
    try:
        assert W.settle(max_wait=0.05) >= 0.05  # never idle: it gives up at max_wait
    finally:
        stop.set()
        t.join()
    assert W.settle(max_wait=2.0) < 2.0  # idle again: it returns before the limit


# ----------------------------------------------------------------------------- peers
@pytest.mark.parametrize("peer", ALL_PEERS)
def test_peer_computes_the_hand_derived_gradients_and_training(peer):
    """Each peer's step, in this process on a small MLP: float32 gradients equal to the reference's
    to float32 rounding, and four SGD steps to the reference's weights."""
    rng = np.random.default_rng(11)
    X, y = rng.random((128, 784), dtype=np.float32), rng.integers(0, 10, 128)
    sizes = [784, 32, 16, 10]
    init = C.initial_params(sizes)
    c = peer(sizes, 32, X, y, lr=0.1, init=init)
    xb, yb = X[:32], y[:32]
    grads = c.gradients(xb, yb)
    ref_grads = reference.loss_and_grads([p.copy() for p in init], xb, yb)[1]
    assert [g.dtype for g in grads] == [np.float32] * len(ref_grads)
    assert epoch_time.grad_rel_diff(grads, ref_grads) <= epoch_time.GRAD_RTOL
    order = np.arange(128)
    loss = c.epoch(order)
    ref = [p.copy() for p in init]
    ref_loss = reference.train_epoch(ref, X, y, 32, 0.1, order)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for a, b in zip(c.weights(), ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("make", [*C.in_process(), *ALL_PEERS],
                         ids=lambda m: getattr(m, "module", None) or m.name)
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


def test_the_compiled_contender_trains_bit_for_bit_as_eager_tinygrad_np():
    """Its own gather into preallocated buffers, and the compiled step: the eager contender's weights."""
    rng = np.random.default_rng(10)
    X, y = rng.random((100, 784), dtype=np.float32), rng.integers(0, 10, 100)
    order = rng.permutation(100)
    eager, compiled = C.TinygradNP([784, 16, 10], 32, X, y), C.TinygradNPCompiled([784, 16, 10], 32, X, y)
    assert eager.epoch(order) == compiled.epoch(order)
    for a, b in zip(eager.weights(), compiled.weights()):
        np.testing.assert_array_equal(a, b)


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


# ----------------------------------------------------------------------------- tinygrad_np's public API only
def _tinygrad_imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split(".")[0] == "tinygrad_np"]
        elif (isinstance(node, ast.ImportFrom) and node.level == 0
              and (node.module or "").split(".")[0] == "tinygrad_np"):
            out += [f"{node.module}:{a.name}" for a in node.names]
    return out


def test_the_benchmarks_import_tinygrad_np_in_one_place_and_only_its_public_api():
    files = sorted(BENCH_DIR.rglob("*.py"))
    assert BENCH_DIR / "dev" / "ab_versions.py" in files
    found = {p.relative_to(BENCH_DIR).as_posix(): _tinygrad_imports(p) for p in files}
    found = {k: v for k, v in found.items() if v}
    assert found == {"tg_api.py": ["tinygrad_np", "tinygrad_np:nn", "tinygrad_np:optim", "tinygrad_np.nn:functional"]}


def test_trainer_gives_parameters_fresh_memory_and_never_writes_into_their_arrays():
    init = C.initial_params([784, 8, 10])
    trainer = MLPTrainer(init, 0.1)
    old = trainer.weights()
    for a in old:
        a.flags.writeable = False  # a write into it would raise
    trainer.set_weights([p + 1 for p in init])
    new = trainer.weights()
    assert not any(np.shares_memory(a, b) for a, b in zip(old, new))
    for a, b in zip(new, init):
        np.testing.assert_array_equal(a, b + 1)
    assert API().has_traced_step is (getattr(tg, "traced_step", None) is not None)


def test_a_missing_reference_is_named_clearly(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mnist.reference", None)  # "import mnist.reference" now fails
    with pytest.raises(baseline.MissingReference, match=r"mnist\.reference.*pip install -e \."):
        baseline.reference()
    with pytest.raises(SystemExit, match="epoch_time: the benchmarks need mnist.reference"):
        epoch_time.main(["--quick", "--peers", "none", "--out", str(tmp_path)])


# ----------------------------------------------------------------------------- op_overhead
def test_op_overhead_covers_every_registry_op(tmp_path):
    rows = op_overhead.main(["--quick", "--out", str(tmp_path)])
    assert {r["op"] for r in rows} == set(tg.OPS)
    for r in rows:
        assert r["numpy_us"] > 0 and r["recording_us"] > 0
        assert (r["fwd_bwd_us"] is None) is (r["op"] in {"argmax", "argmin", "equal", "not_equal", "less",
                                                         "less_equal", "greater", "greater_equal"}), r["op"]
        assert r["fwd_bwd_us"] is None or r["fwd_bwd_us"] > 0
    assert json.loads((tmp_path / "op_overhead.json").read_text())["rows"] == rows


def test_op_overhead_cases_compute_what_numpy_computes():
    A, B = tg.Tensor(op_overhead.a), tg.Tensor(op_overhead.b)
    for name, (np_call, tg_call) in op_overhead.CASES.items():
        expected = np_call()
        if expected is None:  # np.add.at works in place
            continue
        got = tg_call(A, B).numpy()
        assert got.dtype == np.asarray(expected).dtype, name
        if got.dtype.kind == "f":
            np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)


# ----------------------------------------------------------------------------- dev tools
def test_the_tools_run_as_modules_from_the_repository_root():
    for module in ("benchmarks.epoch_time", "benchmarks.op_overhead", "benchmarks.dev.ab_versions",
                   "benchmarks.dev.engine_floor", "benchmarks.dev.anatomy", "benchmarks.dev.peer_isolation",
                   "benchmarks.dev.compile_study"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT_DIR, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, (module, done.stderr)
        assert f"python -m {module}" in done.stdout and "--quick" in done.stdout


def test_engine_floor_trains_exactly_like_the_reference():
    """The floor engine is only a fair yardstick if it computes what the reference computes."""
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


def test_engine_floor_helpers_compute_row_max_and_row_sum():
    a = np.random.default_rng(1).standard_normal((100, 10)).astype(np.float32)
    for rows in (a, a[:8]):  # the column-major / BLAS paths and the plain ones
        np.testing.assert_array_equal(engine_floor.row_max(rows), rows.max(axis=1, keepdims=True))
        np.testing.assert_allclose(engine_floor.row_sum(rows), rows.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_engine_floor_quick_run_writes_results(tmp_path):
    results = engine_floor.main(["--quick", "--data", "synthetic", "--batch", "64", "--out", str(tmp_path)])
    (r,) = results
    assert set(r["contenders"]) == {C.HandNumPy.name, C.TinygradNP.name, C.TinygradNPTraced.name, "floor engine"}
    assert r["blocks"] == blockrace.QUICK["blocks"] and r["steps_per_block"] == blockrace.QUICK["steps"]
    assert r["contenders"][C.HandNumPy.name]["ratio_to_reference"] == pytest.approx(1.0)
    for c in r["contenders"].values():
        assert c["us_per_step"] > 0 and c["ratio_iqr"][0] <= c["ratio_iqr"][1]
    on_disk = json.loads((tmp_path / "engine_floor.json").read_text())
    assert on_disk["results"][0]["batch"] == 64
    assert "floor engine" in (tmp_path / "engine_floor.md").read_text()


def test_engine_floor_rebuilt_contenders_train_on_where_they_were():
    """Rebuilding a contender on fresh arrays (every block) must not change its training."""
    rng = np.random.default_rng(6)
    X, y = rng.random((128, 784), dtype=np.float32), rng.integers(0, 10, 128)
    sizes = [784, 16, 10]
    idx = [np.arange(k, k + 32) for k in range(0, 128, 32)]
    batches = [(np.take(X, i, axis=0), np.take(y, i)) for i in idx]  # fresh arrays, as blockrace gathers them
    rebuilt, kept = engine_floor.builders(sizes, 32, X, y, 0.1), engine_floor.builders(sizes, 32, X, y, 0.1)
    for (name, build), (_, build_once) in zip(rebuilt, kept):
        losses_rebuilt = [build()(xb, yb) for xb, yb in batches]  # new arrays before every step
        step = build_once()
        losses_kept = [step(xb, yb) for xb, yb in batches]
        assert losses_rebuilt == losses_kept, name
        assert losses_kept[-1] != losses_kept[0], name


def test_anatomy_quick_run_splits_each_step_into_parts_that_add_up(tmp_path):
    results = anatomy.main(["--quick", "--data", "synthetic", "--batch", "64", "--out", str(tmp_path)])
    (r,) = results
    assert set(r["split"]) == {C.HandNumPy.name, C.TinygradNP.name, C.TinygradNPTraced.name, C.TinygradNPCompiled.name,
                               C.TinygradNPCompiledGemm.name}
    assert {"gather", "GEMM only", f"{C.TinygradNP.name} (tiny)"} <= set(r["us_per_step"])
    for s in r["split"].values():
        parts = s["gather_us"] + s["GEMM_us"] + s["elementwise_us"] + s["calls_us"]
        assert parts == pytest.approx(s["total_us"])
        assert s["total_us"] == pytest.approx(s["gather_us"] + s["step_us"])
    assert json.loads((tmp_path / "anatomy.json").read_text())["results"] == json.loads(json.dumps(results))


def test_anatomy_tiny_mlp_keeps_depth_and_classes_and_gemm_step_makes_the_products():
    assert anatomy.tiny_sizes([784, 128, 64, 10]) == [8, 8, 8, 10]
    W = [np.ones((3, 2), np.float32)]
    anatomy.gemm_step([3, 2], 4, W)(None, None)  # runs on its own buffers
    X = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    y = np.zeros(64, np.int64)
    names = [n for n, _ in anatomy.builders([784, 16, 10], 8, X, y)]
    steps = [C.HandNumPy.name, C.TinygradNP.name, C.TinygradNPTraced.name, C.TinygradNPCompiled.name,
             C.TinygradNPCompiledGemm.name]
    assert names == ["gather", "GEMM only", *steps, *(f"{n} (tiny)" for n in steps)]


@pytest.mark.skipif(not P.installed(P.HipsAutograd), reason="autograd not installed")
def test_peer_isolation_quick_run_pairs_each_repetition_with_and_without_the_peers(tmp_path):
    results = peer_isolation.main(["--quick", "--peers", "autograd", "--data", "synthetic", "--samples", "512",
                                   "--out", str(tmp_path)])
    (r,) = results
    assert r["peers"] == [P.HipsAutograd.name] and r["batch"] == 128
    assert set(r["contenders"]) == {c.name for c in C.in_process()}
    for c in r["contenders"].values():
        assert len(c["with_s"]) == len(c["without_s"]) == 2
        lo, hi = c["ci95"]
        assert lo <= c["ratio_with_over_without"] <= hi
        assert c["ratio_with_over_without"] == pytest.approx(float(np.median(np.divide(c["with_s"], c["without_s"]))))
    assert len(r["other_cpu_load"]["with"]) == len(r["other_cpu_load"]["without"]) == 2
    assert json.loads((tmp_path / "peer_isolation.json").read_text())["results"] == json.loads(json.dumps(results))


def test_peer_isolation_summary_over_quiet_repetitions_leaves_the_loaded_ones_out():
    r = {"other_cpu_load": {"with": [0.0, 0.5, 0.01], "without": [0.0, 0.0, None]},
         "contenders": {"x": {"with_s": [1.0, 9.0, 1.0], "without_s": [1.0, 1.0, 2.0]}}}
    c = peer_isolation.summarize(r)["contenders"]["x"]
    assert r["quiet_reps"] == [0]  # rep 1 shared the machine, rep 2 has no load reading
    assert c["ratio_quiet"] == 1.0 and c["ci95_quiet"] == [1.0, 1.0]
    assert c["ratio_with_over_without"] == 1.0 and c["median_with_s"] == 1.0
    table = peer_isolation.markdown([{**r, "arch": "a", "batch": 1, "reps": 3}])
    assert "| the same, quiet repetitions only |" in table


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
def test_ab_versions_null_run_trains_both_versions_alike(tmp_path, traced):
    """WORKTREE against itself: two separately imported copies of the package train to the same
    weights (and to the reference's, up to float32 rounding); the report is well formed. Traced:
    the versions train through ``traced_step``, their models kept across the per-block rebuilds."""
    out = tmp_path / "ab.json"
    report = ab_versions.main(["WORKTREE", "WORKTREE", "--quick", "--arch", "784-16-10", "--batch", "16,32",
                               "--data", "synthetic", "--samples", "256", "--json", str(out)] + ["--traced"] * traced)
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
    copy = ab_versions.import_as("tinygrad_np_probe", ab_versions.export_package("WORKTREE", tmp_path))
    assert copy is not tg and copy.Tensor is not tg.Tensor
    assert copy.__name__ == "tinygrad_np_probe" and copy.nn.__name__ == "tinygrad_np_probe.nn"
    x = copy.Tensor(np.array([1.5, -2.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, -4.0])
    trainer = MLPTrainer(C.initial_params([784, 4, 10]), 0.1, API(copy))
    # its own classes
    assert isinstance(trainer.tensors[0], copy.Tensor) and not isinstance(trainer.tensors[0], tg.Tensor)
    again = ab_versions.import_as("tinygrad_np_probe", ab_versions.export_package("WORKTREE", tmp_path / "2"))
    assert again.Tensor is not copy.Tensor  # a re-import does not reuse the first copy's submodules


@pytest.mark.skipif(not (ROOT_DIR / ".git").exists() or shutil.which("git") is None,
                    reason="needs a git checkout")
def test_ab_versions_exports_a_git_revision_and_names_a_bad_one(tmp_path):
    pkg = ab_versions.export_package("HEAD", tmp_path)
    listed = subprocess.run(["git", "-C", str(ROOT_DIR), "ls-tree", "-r", "--name-only", "HEAD", "tinygrad_np"],
                            capture_output=True, text=True, check=True).stdout.split()
    exported = sorted(p.relative_to(tmp_path).as_posix() for p in pkg.rglob("*") if p.is_file())
    assert exported == sorted(listed) and "tinygrad_np/__init__.py" in exported
    with pytest.raises(SystemExit, match="no-such-revision"):
        ab_versions.export_package("no-such-revision", tmp_path / "bad")


def test_ab_versions_names_an_architecture_that_does_not_fit_the_data():
    with pytest.raises(SystemExit, match="must start with the data's 784 features, got 20-8-4"):
        ab_versions.main(["WORKTREE", "WORKTREE", "--arch", "20-8-4", "--data", "synthetic", "--samples", "64"])


def test_blockrace_rebuilds_every_contender_before_every_block_on_the_same_batches():
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
