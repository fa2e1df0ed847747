"""Same-process A/B of two versions of tinygrad_np: does a change make training faster?

    python -m benchmarks.dev.ab_versions HEAD~1 HEAD                 # the last commit's effect
    python -m benchmarks.dev.ab_versions HEAD WORKTREE --batch 32,128,512
    python -m benchmarks.dev.ab_versions HEAD HEAD                   # the null test: B/A must come out 1.00
    python -m benchmarks.dev.ab_versions HEAD WORKTREE --traced      # the versions' traced steps
    python -m benchmarks.dev.ab_versions HEAD WORKTREE --quick       # a smoke test (seconds)

A version is a git revision or ``WORKTREE`` (the files on disk). Each version's ``tinygrad_np``
package is exported into a temporary directory and imported under its own name
(``tinygrad_np_a``, ``tinygrad_np_b``; the package imports itself only relatively), so both run in
one process on the same batches, next to the hand-derived NumPy reference of ``mnist/``. Each
version is driven through its public API only (``benchmarks.tg_api``: ``Tensor``, ``nn``,
``optim.SGD``, ``nn.functional.cross_entropy``, ``traced_step``), so versions whose internals
differ race alike.

Method (``blockrace``): the three train the benchmark's MLP (``nn.Sequential`` of
``Linear``/``ReLU``, ``cross_entropy``, ``optim.SGD``) and take turns in blocks of ``--steps``
training steps, in a random order per block. **Before every block each contender is rebuilt on
fresh copies of its current weights**, so its arrays land at new addresses: with the arrays kept
for the whole run, memory placement alone moved the ratio of two *identical* versions by up to
2.5% in either direction, with a tight confidence interval (a bias, not noise), on this
project's VM. The first step of a block is not timed. Reported per batch size: the median time per step, the median
per-block ratio to the reference, and B/A (median of the per-block ratios) with a bootstrap 95%
interval of that median. A and B get the same batches from the same initial weights, so their
final weights are identical when both versions compute the same thing; the report says whether
they are.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from ..baseline import MissingReference, initial_params, reference_step
from ..data import load_data
from ..report import atomic_write_text
from ..tg_api import API, MLPTrainer
from . import blockrace

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "tinygrad_np"
WORKTREE = "WORKTREE"


def export_package(version: str, dest: Path, repo: Path = ROOT) -> Path:
    """Write ``version``'s tinygrad_np package (a git revision, or WORKTREE) to ``dest``/tinygrad_np."""
    target = dest / PACKAGE
    if version == WORKTREE:
        shutil.copytree(repo / PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return target
    try:
        tar = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", version, PACKAGE],
                             check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", b"") or b""
        raise SystemExit(f"ab_versions: cannot export {PACKAGE} at {version!r} from {repo}: "
                         f"{detail.decode(errors='replace').strip() or e}") from None
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: refuse links and paths out of dest
            archive.extractall(dest, filter="data")
        else:  # pragma: no cover - older Pythons; the archive is our own repository's
            archive.extractall(dest)
    return target


def import_as(name: str, package_dir: Path) -> ModuleType:
    """Import the package in ``package_dir`` under the top-level name ``name`` (its relative
    imports then resolve inside it, so two versions can live side by side)."""
    spec = importlib.util.spec_from_file_location(name, package_dir / "__init__.py",
                                                  submodule_search_locations=[str(package_dir)])
    if spec is None or spec.loader is None:  # pragma: no cover - a missing __init__.py
        raise ImportError(f"no package in {package_dir}")
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]  # an earlier import under this name: its submodules must not be reused
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def race(versions: dict[str, ModuleType], sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, *,
         blocks: int, steps: int, lr: float = 0.05, seed: int = 0, traced: bool = False) -> dict[str, Any]:
    """The reference and each version in ``versions`` taking turns, rebuilt before every block.
    ``traced``: the versions train through ``traced_step``; a rebuild then keeps the model (whose
    plans hold its parameter Tensors) and gives its parameters fresh copies of their arrays."""
    init = initial_params(sizes, seed)
    weights = {name: [p.copy() for p in init] for name in ["reference", *versions]}
    apis = {name: API(module) for name, module in versions.items()}
    kept: dict[str, MLPTrainer] = {}

    def builder(name: str) -> blockrace.Build:
        def build() -> blockrace.Step:
            if name == "reference":
                weights[name] = [p.copy() for p in weights[name]]
                return reference_step(weights[name], lr)
            if traced and name in kept:  # keep the model its plans hold; fresh arrays
                kept[name].set_weights(kept[name].weights())
            else:
                kept[name] = MLPTrainer(weights[name], lr, apis[name], traced=traced)
            weights[name] = kept[name].weights()
            return kept[name].step
        return build

    times = blockrace.race([(name, builder(name)) for name in weights], X, y, batch, blocks=blocks, steps=steps,
                           seed=seed + 1)
    base = np.array(times["reference"])
    result: dict[str, Any] = {"arch": "-".join(map(str, sizes)), "batch": batch, "blocks": blocks,
                              "steps_per_block": steps, "contenders": {}}
    for name, ts in times.items():
        arr = np.array(ts)
        result["contenders"][name] = {"median_step_s": float(np.median(arr)),
                                      "ratio_to_reference": float(np.median(arr / base))}
    a, b = list(versions)
    ratio = np.array(times[b]) / np.array(times[a])
    boot = np.random.default_rng(seed + 2)
    medians = [np.median(boot.choice(ratio, len(ratio))) for _ in range(2000)]
    result["b_over_a"] = {"median": float(np.median(ratio)), "ci95": [float(np.percentile(medians, 2.5)),
                                                                      float(np.percentile(medians, 97.5))]}
    weights.update({name: kept[name].weights() for name in kept})  # (the last step's)
    result["same_weights"] = all(np.array_equal(p, q) for p, q in zip(weights[a], weights[b]))
    result["max_weight_diff_vs_reference"] = max(float(np.max(np.abs(p - q)))
                                                 for p, q in zip(weights[b], weights["reference"]))
    return result


def markdown(report: dict[str, Any]) -> str:
    a, b = report["versions"]
    lines = [f"A = {a}, B = {b}{' (traced steps)' if report.get('traced') else ''}; {report['data']} data, "
             f"blocks of {report['steps']} steps, contenders rebuilt before each block.", "",
             "| arch | batch | reference µs/step | A µs/step | B µs/step | A × ref | B × ref | B / A (95% CI) "
             "| same weights |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in report["results"]:
        c = r["contenders"]
        us = [c[k]["median_step_s"] * 1e6 for k in ("reference", "A", "B")]
        ci = r["b_over_a"]["ci95"]
        lines.append(f"| {r['arch']} | {r['batch']} | {us[0]:.1f} | {us[1]:.1f} | {us[2]:.1f} | "
                     f"{c['A']['ratio_to_reference']:.3f} | {c['B']['ratio_to_reference']:.3f} | "
                     f"{r['b_over_a']['median']:.3f} ({ci[0]:.3f}-{ci[1]:.3f}) | "
                     f"{'yes' if r['same_weights'] else 'no'} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dev.ab_versions", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", help="version A: a git revision or WORKTREE")
    p.add_argument("b", help="version B: a git revision or WORKTREE")
    blockrace.add_race_arguments(p, batch="128", blocks=300, steps=11)
    p.add_argument("--traced", action="store_true",
                   help="race the versions' traced steps (tg.traced_step) instead of eager ones")
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON to this file")
    return blockrace.parse_race_arguments(p, argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    sizes = [int(s) for s in args.arch.split("-")]
    X, y, kind = load_data(args.data, args.samples)
    if sizes[0] != X.shape[1]:
        raise SystemExit(f"ab_versions: --arch must start with the data's {X.shape[1]} features, got {args.arch}")
    with tempfile.TemporaryDirectory(prefix="ab_versions_") as tmp:
        versions = {}
        for tag, version in (("A", args.a), ("B", args.b)):
            where = Path(tmp) / tag
            where.mkdir()
            versions[tag] = import_as(f"{PACKAGE}_{tag.lower()}", export_package(version, where))
            if args.traced and not API(versions[tag]).has_traced_step:
                raise SystemExit(f"ab_versions: version {tag} ({version}) has no traced_step; race it without --traced")
        try:
            results = [race(versions, sizes, int(b), X, y, blocks=args.blocks, steps=args.steps, traced=args.traced)
                       for b in args.batch.split(",")]
        except MissingReference as e:
            raise SystemExit(f"ab_versions: {e}") from None
    report = {"benchmark": "ab_versions", "versions": [args.a, args.b], "data": kind, "steps": args.steps,
              "traced": args.traced, "results": results}
    print(markdown(report), end="")
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
