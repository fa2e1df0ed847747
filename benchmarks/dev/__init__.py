"""Developer tools: measurements for working on tinygrad_np's speed, each with ``--quick``.

    python -m benchmarks.dev.ab_versions HEAD WORKTREE   # does my change make training faster?
    python -m benchmarks.dev.engine_floor                # tinygrad_np vs the leanest eager engine
    python -m benchmarks.dev.anatomy                     # where a training step's time goes
    python -m benchmarks.dev.peer_isolation              # do the peers move the NumPy rows?

``blockrace`` is the block-race method ``ab_versions``, ``engine_floor`` and ``anatomy`` share.
"""
