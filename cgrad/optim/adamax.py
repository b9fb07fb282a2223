"""Adamax: Adam with the infinity norm."""
from .. import backends as B
from .optimizer import Optimizer, check_adam_args, kernel_scalar, state_like


class Adamax(Optimizer):
    """Adamax, PyTorch's update (t counts this parameter's steps):

        g = grad (negated if maximize) + weight_decay * p
        m = beta1 * m + (1 - beta1) * g,  u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1^t) * m / u
    """
    _integral_op = "lerp"           # its moment's m.lerp_(g, 1 - beta1) fails first
    _scalar_states = ("step",)
    _lerped_state = "exp_avg"

    _group_defaults = dict(foreach=None, maximize=False, differentiable=False, capturable=False)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group, params):
        states, steps = self._states_and_steps(
            params, lambda p: dict(exp_avg=state_like(p), exp_inf=state_like(p)),
            capturable=group["capturable"])
        beta1, beta2 = group["betas"]
        B.kernels.adamax_step_(
            [p._data for p in params], [p.grad._data for p in params],
            [s["exp_avg"]._data for s in states], [s["exp_inf"]._data for s in states],
            steps, lr=kernel_scalar(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])
