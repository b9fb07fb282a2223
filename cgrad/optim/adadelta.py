"""Adadelta."""
from .. import backends as B
from .optimizer import Optimizer, check_lr, check_nonnegative, kernel_scalar, state_like


class Adadelta(Optimizer):
    """Adadelta, PyTorch's update:

        g = grad (negated if maximize) + weight_decay * p
        v = rho * v + (1 - rho) * g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g,  u = rho * u + (1 - rho) * delta^2
        p = p - lr * delta
    """
    _scalar_states = ("step",)

    _group_defaults = dict(foreach=None, maximize=False, differentiable=False, capturable=False)
    _capturable_devices = ["cuda", "xpu", "hpu", "privateuseone"]

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group, params):
        states, _ = self._states_and_steps(
            params, lambda p: dict(square_avg=state_like(p), acc_delta=state_like(p)),
            capturable=group["capturable"])
        B.kernels.adadelta_step_(
            [p._data for p in params], [p.grad._data for p in params],
            [s["square_avg"]._data for s in states], [s["acc_delta"]._data for s in states],
            lr=kernel_scalar(group["lr"]), rho=group["rho"], eps=group["eps"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])
