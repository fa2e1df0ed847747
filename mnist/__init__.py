"""MNIST showcase application built on tinygrad_np."""
