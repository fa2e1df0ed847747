"""``python -m mnist.threadbench``: the measurement behind the default thread count runs and reports."""
from __future__ import annotations

import re

from mnist import threadbench


def test_threadbench_measures_each_thread_count_in_turn(capsys):
    assert threadbench.main(["--threads", "1,2", "--rounds", "1", "--samples", "512", "--hidden", "8"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"round 1: 1 thread\(s\) +[\d,]+ img/s\n  round 1: 2 thread\(s\)", out)
    assert re.search(r"1 thread\(s\): median [\d,]+ img/s", out) and re.search(r"fastest: [12] thread\(s\)", out)


def test_a_worker_runs_with_the_thread_count_it_was_given():
    got = threadbench.measure(1, samples=256, hidden="8", batch_size=64)
    assert got["img_per_s"] > 0 and got["seconds"] > 0
