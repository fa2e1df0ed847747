"""tinygrad_np: a small, exact, fast reverse-mode autodiff framework over NumPy.

    >>> import tinygrad_np as tg
    >>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    Tensor([2., 4., 6.], dtype=float32)
"""
from . import ops  # noqa: F401  (fills the registry: must come before anything uses ops)
from .autograd import OPS, AnomalyError, detect_anomaly, enable_grad, grad as autograd_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import (
    Tensor, arange, concatenate, eye, full, full_like, functions, ones, ones_like, rand, rand_like, randn,
    randn_like, stack, tensor, where, zeros, zeros_like,
)
from . import nn  # noqa: E402

globals().update(functions)  # tinygrad_np.exp(x), tinygrad_np.sum(x, axis=0), ...

__version__ = "0.1.0"
__all__ = [
    "OPS", "Tensor", "detect_anomaly", "AnomalyError", "tensor", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "autograd_grad",
    "zeros", "ones", "full", "arange", "eye", "rand", "randn", "zeros_like", "ones_like", "full_like",
    "rand_like", "randn_like", "where", "concatenate", "stack", "nn", *functions,
]

from .gradcheck import GradcheckError, GradcheckReport, gradcheck, gradgradcheck  # noqa: E402

__all__ += ["gradcheck", "gradgradcheck", "GradcheckReport", "GradcheckError"]

from . import data, optim, viz  # noqa: E402
from . import functional  # noqa: E402
from .functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp  # noqa: E402

__all__ += ["functional", "grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp",
            "data", "optim", "viz"]

from . import jit  # noqa: E402
from .jit import TraceError, traced_step  # noqa: E402

__all__ += ["jit", "traced_step", "TraceError"]
