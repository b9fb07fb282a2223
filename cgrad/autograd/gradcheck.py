"""gradcheck: analytical gradients against central finite differences (use float64)."""
import numpy as np

from .grad_mode import enable_grad, no_grad


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _reverse_jacobians(out, inputs, diff):
    """{input index: d out / d input as (input numel, out numel)}, one backward per output
    element"""
    from .. import autograd
    from ..tensor import Tensor
    jac = {i: np.zeros((inputs[i].numel(), out.numel())) for i in diff}
    for j in range(out.numel()):
        seed = np.zeros(out.shape, dtype=out._data.dtype)
        seed.reshape(-1)[j] = 1
        grads = autograd.grad(out, [inputs[i] for i in diff], Tensor._make(seed),
                              retain_graph=True, allow_unused=True)
        for i, g in zip(diff, grads):
            if g is not None:
                jac[i][:, j] = g._data.reshape(-1)
    return jac


def _forward_jacobians(func, inputs, diff, k, n_out):
    """The same by forward_ad: one dual per input element, tangent a unit vector"""
    from . import forward_ad as fwAD
    from ..creation import zeros_like
    jac = {i: np.zeros((inputs[i].numel(), n_out)) for i in diff}
    for i in diff:
        for m in range(inputs[i].numel()):
            tangent = zeros_like(inputs[i])
            tangent._data.reshape(-1)[m] = 1
            with fwAD.dual_level(), enable_grad():
                args = list(inputs)
                args[i] = fwAD.make_dual(inputs[i], tangent)
                t = fwAD.unpack_dual(_as_tuple(func(*args))[k]).tangent
                if t is not None:
                    jac[i][m] = t._data.reshape(-1)
    return jac


def _numerical_jacobian(func, inputs, i, k, eps, n_out):
    """d output k (of n_out elements) / d input i by central differences, as
    (input numel, n_out)"""
    flat = inputs[i]._data.reshape(-1)      # a view: perturbed in place and restored
    numerical = np.zeros((flat.size, n_out))
    with no_grad():
        for m in range(flat.size):
            orig = flat[m]
            flat[m] = orig + eps
            plus = _as_tuple(func(*inputs))[k]._data.astype(np.float64).reshape(-1)
            flat[m] = orig - eps
            minus = _as_tuple(func(*inputs))[k]._data.astype(np.float64).reshape(-1)
            flat[m] = orig
            numerical[m] = (plus - minus) / (2 * eps)
    return numerical


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              check_backward_ad=True, check_forward_ad=False, **_ignored):
    """True if d(func)/d(input) computed by backward (check_backward_ad) and by forward_ad
    (check_forward_ad) matches finite differences for every input that requires grad; else
    raises GradcheckError (or returns False). If no output requires grad, the finite
    differences must all be zero, as in PyTorch."""
    try:
        return _gradcheck(func, inputs, eps, atol, rtol, check_backward_ad, check_forward_ad)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _gradcheck(func, inputs, eps, atol, rtol, check_backward_ad, check_forward_ad):
    from ..tensor import Tensor
    inputs = _as_tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    outputs = _as_tuple(func(*inputs))
    if not any(isinstance(o, Tensor) and o.requires_grad for o in outputs):
        for k, out in enumerate(outputs):
            if isinstance(out, Tensor) and any(
                    _numerical_jacobian(func, inputs, i, k, eps, out.numel()).any() for i in diff):
                raise GradcheckError("Numerical gradient for function expected to be zero")
        return True
    for k, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        analytical = []
        if check_backward_ad:
            analytical.append(_reverse_jacobians(out, inputs, diff))
        if check_forward_ad:
            analytical.append(_forward_jacobians(func, inputs, diff, k, out.numel()))
        for i in diff:
            numerical = _numerical_jacobian(func, inputs, i, k, eps, out.numel())
            for jac in analytical:
                if not np.allclose(jac[i], numerical, rtol=rtol, atol=atol, equal_nan=True):
                    raise GradcheckError(
                        f"Jacobian mismatch for output {k} with respect to input {i},\n"
                        f"numerical:{numerical}\nanalytical:{jac[i]}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **_ignored):
    """gradcheck of the first derivatives: the gradients of func's outputs, taken with
    create_graph against grad_outputs (random in [-1, 1) by cgrad's generator unless given),
    checked as functions of the inputs and of grad_outputs, as PyTorch does."""
    from .. import autograd
    from ..tensor import Tensor
    from ..creation import rand
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        outputs = [o for o in _as_tuple(func(*inputs)) if o.requires_grad]
        grad_outputs = tuple((rand(tuple(o.shape), dtype=o._data.dtype) * 2 - 1).requires_grad_()
                             for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(grad_outputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def first_derivatives(*args):
        with enable_grad():            # gradcheck perturbs under no_grad
            outputs = [o for o in _as_tuple(func(*args[:-n])) if o.requires_grad]
            grads = autograd.grad(outputs, [args[i] for i in diff], list(args[-n:]),
                                  create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)
    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
