"""ASGD: averaged stochastic gradient descent."""
from .. import backends as B
from .optimizer import (Optimizer, check_lr, check_nonnegative, kernel_scalar, scalar_state,
                        state_like)


class ASGD(Optimizer):
    """Averaged SGD, PyTorch's update (t counts this parameter's steps; eta starts at lr and
    mu at 1):

        g = grad (negated if maximize) + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax)   (ax = p while mu is 1)
        eta = lr / (1 + lambd * lr * t)^alpha,  mu = 1 / max(1, t - t0)
    """

    _group_defaults = dict(foreach=None, maximize=False, differentiable=False, capturable=False)
    _scalar_states = ("step", "eta", "mu")
    _capturable_tensors = "params, mus, etas, and state_steps"

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check_nonnegative(weight_decay=weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group, params):
        states, steps = self._states_and_steps(params, lambda p: dict(
            eta=scalar_state(float(group["lr"])), mu=scalar_state(1.0), ax=state_like(p)),
            capturable=group["capturable"])
        B.kernels.asgd_step_(
            [p._data for p in params], [p.grad._data for p in params],
            [s["ax"]._data for s in states], [s["eta"]._data for s in states],
            [s["mu"]._data for s in states], steps, lr=kernel_scalar(group["lr"]),
            lambd=group["lambd"], alpha=group["alpha"], t0=group["t0"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])
