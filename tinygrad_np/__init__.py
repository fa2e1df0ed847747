"""tinygrad_np: a small, exact, fast automatic-differentiation framework over NumPy.

    >>> import tinygrad_np as tg
    >>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    Tensor([2., 4., 6.], dtype=float32)

The textbook engine is ``engine.py`` (with ``modes.py``), the ops are ``ops/``; everything that
exists only for speed lives in ``fast/`` and can be switched off (``TINYGRAD_NP_FAST=0``).
"""
from . import ops  # noqa: F401  (fills the registry before anything uses it)
from .autograd import grad as autograd_grad
from .creation import (
    arange, eye, from_numpy, full, full_like, ones, ones_like, rand, rand_like, randn, randn_like, tensor, zeros,
    zeros_like,
)
from .engine import OPS, Function, Tensor, register
from .functions import (
    abs, add, argmax, argmin, broadcast_to, clip, concatenate, div, exp, expand, expand_dims, flatten, leaky_relu, log,
    log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg, pow, relu, reshape, sigmoid, softmax,
    sqrt, squeeze, stack, std, sub, sum, swapaxes, tanh, transpose, unsqueeze, var, where,
)
from .functions import (  # shape ops and contractions (op coverage)
    array_split, diag, diagonal, dot, einsum, flip, inner, moveaxis, outer, permute, ravel, repeat, roll, split,
    tensordot, tile, trace, tril, triu,
)
from .functions import (  # op coverage: more elementwise ops, products, scans, norms
    arccos, arcsin, arctan, arctan2, cos, cosh, cumprod, cumsum, elu, erf, erfc, exp2, expm1, gelu, hardswish, hypot,
    log1p, log2, log10, logaddexp, mish, norm, prod, relu6, sign, silu, sin, sinh, softplus, square, tan,
)
from .functions import pad  # CNN family
from .modes import (
    AnomalyError, detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled, watch_gradients,
)
from . import nn, optim, data  # noqa: E402
from .gradcheck import GradcheckError, GradcheckReport, gradcheck, gradgradcheck  # noqa: E402
from . import functional, viz  # noqa: E402
from .functional import grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, linearize, value_and_grad, vjp, vmap  # noqa: E402
from .custom import checkpoint, custom_jvp, custom_vjp  # noqa: E402
from . import fast  # noqa: E402  (registers the fast layer at the engine's seams)
from .fast.jit import TraceError, traced_step  # noqa: E402
from .fast.compiler import compile  # noqa: E402  (shadows the builtin inside this namespace only, as torch.compile)

__version__ = "0.1.0"
__all__ = [
    "OPS", "Function", "Tensor", "register", "tensor", "from_numpy", "zeros", "ones", "full", "arange", "eye",
    "rand", "randn", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "AnomalyError",
    "watch_gradients", "autograd_grad",
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "maximum", "minimum", "where", "exp", "log", "sqrt", "abs",
    "tanh", "sigmoid", "relu", "leaky_relu", "clip", "sum", "mean", "max", "min", "var", "std", "logsumexp",
    "softmax", "log_softmax", "argmax", "argmin", "reshape", "transpose", "swapaxes", "expand", "broadcast_to",
    "squeeze", "unsqueeze", "expand_dims", "flatten", "concatenate", "stack",
    "flip", "roll", "repeat", "tile", "moveaxis", "tril", "triu", "split", "array_split", "ravel", "permute",
    "einsum", "tensordot", "dot", "inner", "outer", "diagonal", "trace", "diag",
    "pad",  # CNN family
    "nn", "optim", "data", "gradcheck", "gradgradcheck", "GradcheckReport", "GradcheckError",
    "functional", "viz", "grad", "value_and_grad", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian",
    "hessian", "hvp", "vmap", "custom_vjp", "custom_jvp", "checkpoint",
    "fast", "traced_step", "TraceError", "compile",
    # op coverage: more elementwise ops, products, scans, norms
    "sin", "cos", "tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arctan2", "square", "log1p", "expm1",
    "log2", "log10", "exp2", "logaddexp", "softplus", "gelu", "silu", "elu", "mish", "relu6", "hardswish", "erf",
    "erfc", "hypot", "sign", "prod", "cumsum", "cumprod", "norm",
]
