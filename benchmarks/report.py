"""Turn benchmark results into a Markdown table and a PNG chart; write files atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from .base import PHASES

#: The contender name of tinygrad_np with ``traced_step`` (``contenders.TinygradNPTraced``).
TRACED = "tinygrad_np (traced)"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temp file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def _sci(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def headline_markdown(report: dict[str, Any]) -> str:
    """One row per (arch, batch), one column per contender: median epoch seconds and, in
    brackets, the paired ratio to the hand-derived baseline; last, the median share of the
    machine other processes kept busy during the repetitions (0: a quiet machine)."""
    names = list(dict.fromkeys(n for r in report["results"] for n in r["contenders"]))
    lines = ["| arch | batch | " + " | ".join(names) + " | other load |", "|---|---:|" + "---:|" * (len(names) + 1)]
    for r in report["results"]:
        cells = []
        for n in names:
            c = r["contenders"].get(n)
            cells.append("-" if c is None else f"{c['median_s']:.3f} ({c['ratio_to_reference']:.2f}x)")
        loads = sorted(v for v in r.get("other_cpu_load_per_rep", []) if v is not None)
        cells.append(f"{loads[len(loads) // 2]:.2f}" if loads else "-")
        lines.append(f"| {r['arch']} | {r['batch']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def epoch_markdown(report: dict[str, Any]) -> str:
    m, s = report["machine"], report["settings"]
    v = m["versions"]
    others = ", ".join(f"{k} {v[k]}" for k in v if k not in ("python", "numpy", "tinygrad_np", "checkout"))
    blas = m["blas"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, BLAS {blas.get('library')} ({blas.get('threads')} threads"
        + (f", kernel {blas['core']}" if blas.get("core") else "") + f"), Python {v['python']}, NumPy {v['numpy']}"
        + (f", {others}" if others else "") + f"; peak float32 GEMM {report['peak_gemm_gflops']:.1f} GFLOP/s.",
        (f"Code: tinygrad_np {v['tinygrad_np']} at commit {v['checkout']}.\n" if v.get("checkout") else "")
        + f"Data: {s['samples']:,} {s['data']} samples; {s['reps']} repetitions after warm-up, contenders taking "
        f"turns in blocks of {s.get('block', 'whole epochs of')} samples"
        + ("; peers each in a worker process of its own." if s.get("peers") else "."),
    ]
    for name, note in report.get("peer_notes", {}).items():
        lines.append(f"{name}: {note}.")
    lines += ["", "Median seconds per epoch (× hand NumPy, the median of paired per-repetition ratios; other load: "
              "the median share of the machine other processes kept busy, 0 = quiet):", "",
              headline_markdown(report).rstrip("\n")]
    lines += [
        "",
        "| arch | batch | contender | median s | min s | max s | × hand NumPy | × GEMM bound | grad rel. diff |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        for name, c in r["contenders"].items():
            rel = c.get("grad_rel_diff_vs_reference")
            lines.append(f"| {r['arch']} | {r['batch']} | {name} | {c['median_s']:.3f} | {c['min_s']:.3f} | "
                         f"{c['max_s']:.3f} | {c['ratio_to_reference']:.2f} | {c['ratio_to_gemm_bound']:.2f} | "
                         f"{_sci(rel)} |")
        lines.append(f"| {r['arch']} | {r['batch']} | physical bound ({r['flops'] / 1e9:.1f} GFLOP at peak) | "
                     f"{r['physical_bound_s']:.3f} | | | | | |")
    loads = [(r, [v for v in r.get("other_cpu_load_per_rep", []) if v is not None]) for r in report["results"]]
    if any(v for _, v in loads):
        lines += ["", "Share of the machine other processes kept busy during the timed repetitions (0 = a quiet "
                  "machine; 0.5 = one of 2 cores taken): " + "; ".join(
                      f"{r['arch']} batch {r['batch']}: median {sorted(v)[len(v) // 2]:.2f}, max {max(v):.2f}"
                      for r, v in loads if v) + "."]
    lines += ["", f"grad rel. diff: one batch's gradients at the initial weights against the hand-derived ones, "
              f"max over parameters of max|g - g_ref| / max|g_ref| (agreement: <= {s.get('grad_rtol', 1e-5):.0e}).",
              "", "Time split of one epoch in seconds, tinygrad_np / hand NumPy (the two side by side, taking turns "
              "block by block; forward includes the loss):", "",
              "| arch | batch | data | forward | backward | optimizer | total |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        tg, ref = r["tinygrad_phases_s"], r.get("reference_phases_s")
        cells = [f"{tg[k]:.3f}" + ("" if ref is None else f" / {ref[k]:.3f}") for k in PHASES]
        total = f"{sum(tg.values()):.3f}" + ("" if ref is None else f" / {sum(ref.values()):.3f}")
        lines.append(f"| {r['arch']} | {r['batch']} | " + " | ".join(cells) + f" | {total} |")
    lines += ["", "Traced NumPy memory of the in-process contenders, and agreement with the hand-derived "
              "reference (weights after the first timed epoch; the traced step's gradients against eager autograd's):",
              "", "| arch | batch | peak mem tinygrad_np (traced) | peak mem hand NumPy "
              "| growth over 3 epochs (traced) | max abs weight diff tinygrad_np | traced grads = eager |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for r in report["results"]:
        mem = r["memory"]
        tg, tr = mem.get("tinygrad_np", {}), mem.get(TRACED)
        ref = mem.get(report["baseline"], {})
        dw = r["contenders"].get("tinygrad_np", {}).get("max_weight_diff_vs_reference")
        peak = _mib(tg.get("peak_bytes", 0)) + ("" if tr is None else f" ({_mib(tr['peak_bytes'])})")
        growth = f"{tg.get('growth_bytes', 0) / 1024:.1f} KiB"
        growth += "" if tr is None else f" ({tr['growth_bytes'] / 1024:.1f} KiB)"
        same = {True: "yes", False: "NO", None: "-"}[r.get("traced_grads_equal_eager")]
        lines.append(f"| {r['arch']} | {r['batch']} | {peak} | {_mib(ref.get('peak_bytes', 0))} | {growth} | "
                     f"{_sci(dw)} | {same} |")
    remote = [(r, n, c) for r in report["results"] for n, c in r["contenders"].items() if not c.get("in_process", True)]
    if remote:
        lines += ["", "Peers' workers: median seconds their threads took to go idle after a block (untimed), and "
                  "blocks after which they did not within 0.5 s:", "",
                  "| arch | batch | peer | settle s (median) | unsettled blocks |", "|---|---:|---|---:|---:|"]
        for r, name, c in remote:
            lines.append(f"| {r['arch']} | {r['batch']} | {name} | {c['settle_s_median']:.3f} | "
                         f"{c['unsettled_blocks']} |")
    return "\n".join(lines) + "\n"


def epoch_plot(report: dict[str, Any], path: Path) -> None:
    """Top: grouped bars, median epoch time per contender for each (arch, batch), min/max as error
    bars. Below (when the report has both splits): tinygrad_np's and the reference's epoch cut into
    ``PHASES``, stacked, side by side for each (arch, batch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    split = all("reference_phases_s" in r for r in results)
    names = list(results[0]["contenders"])
    width = 0.8 / len(names)
    fig, axes = plt.subplots(2 if split else 1, 1, figsize=(max(6, 1.6 * len(results) + 2), 8.4 if split else 4.2),
                             squeeze=False)
    ax = axes[0][0]
    for k, name in enumerate(names):
        med = [r["contenders"][name]["median_s"] for r in results]
        lo = [m - r["contenders"][name]["min_s"] for m, r in zip(med, results)]
        hi = [r["contenders"][name]["max_s"] - m for m, r in zip(med, results)]
        xs = [i + (k - (len(names) - 1) / 2) * width for i in range(len(results))]
        ax.bar(xs, med, width, yerr=[lo, hi], capsize=3, label=name)
    labels = [f"{r['arch']}\nbatch {r['batch']}" for r in results]
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("seconds per epoch (median, min-max)")
    ax.set_title(f"One epoch of {report['settings']['samples']:,} samples, float32 SGD")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    if split:
        ax = axes[1][0]
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for side, (key, hatch) in enumerate((("tinygrad_phases_s", ""), ("reference_phases_s", "//"))):
            xs = [i + (side - 0.5) * 0.4 for i in range(len(results))]
            bottom = [0.0] * len(results)
            for k, phase in enumerate(PHASES):
                h = [r[key][phase] for r in results]
                ax.bar(xs, h, 0.38, bottom=bottom, color=colors[k % len(colors)], hatch=hatch, edgecolor="white",
                       label=phase if side == 0 else None)
                bottom = [b + v for b, v in zip(bottom, h)]
        ax.set_xticks(range(len(results)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("seconds per epoch")
        ax.set_title("Where the time goes: tinygrad_np (left, plain) vs hand NumPy (right, hatched)")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def overhead_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| op | NumPy µs | tinygrad_np no_grad µs | tinygrad_np recording µs | forward+backward µs | "
             "overhead µs |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        fb = "-" if r["fwd_bwd_us"] is None else f"{r['fwd_bwd_us']:.2f}"
        lines.append(f"| {r['op']} | {r['numpy_us']:.2f} | {r['no_grad_us']:.2f} | {r['recording_us']:.2f} | "
                     f"{fb} | {r['recording_us'] - r['numpy_us']:.2f} |")
    return "\n".join(lines) + "\n"
