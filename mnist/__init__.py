"""MNIST showcase application built on tinygrad_np.

Command line: ``python -m mnist {train,eval,predict,show,shell} ...`` (see ``docs/mnist.md``).
Modules: ``data`` (loading), ``model`` (the MLP), ``train`` (training loop), ``checkpoint``,
``augment``, ``metrics``, ``plots``, ``report`` (run directory files), ``inference``,
``shell`` and ``cli``. Importing ``mnist`` loads nothing heavy and never opens a window.
"""
