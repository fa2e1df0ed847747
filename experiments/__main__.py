"""``python -m experiments {eps-sweep,mlp-check,mutants,taylor,fwd-vs-rev,checkpoint} [options]``."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import checkpointing, eps_sweep, fwd_vs_rev, mlp_check, mutants, taylor

MODULES = {"eps-sweep": eps_sweep, "mlp-check": mlp_check, "mutants": mutants, "taylor": taylor,
           "fwd-vs-rev": fwd_vs_rev, "checkpoint": checkpointing}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments",
        description="Experiments on checking derivatives and on what the transformations cost, for tinygrad_np "
                    "(outputs go to --out; see docs/experiments.md).",
    )
    sub = parser.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name, module in MODULES.items():
        p = sub.add_parser(name, help=module.SUMMARY, description=module.HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(run=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
