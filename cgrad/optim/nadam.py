"""NAdam: Adam with Nesterov momentum (and optional decoupled weight decay)."""
from .. import backends as B
from .optimizer import (Optimizer, check_adam_args, check_nonnegative, kernel_scalar, scalar_state,
                        state_like)


class NAdam(Optimizer):
    """NAdam, PyTorch's update (t counts this parameter's steps):

        g = grad (negated if maximize) + weight_decay * p    (or p *= 1 - lr * weight_decay
                                                               first, if decoupled)
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)),  mu_product *= mu_t
        m = beta1 * m + (1 - beta1) * g,  v = beta2 * v + (1 - beta2) * g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_product) * g / d
              - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / d
    """
    _integral_op = "lerp"           # its moment's m.lerp_(g, 1 - beta1) fails first

    _group_defaults = dict(maximize=False, foreach=None, capturable=False, differentiable=False,
                           decoupled_weight_decay=False)
    _scalar_states = ("step", "mu_product")
    _lerped_state = "exp_avg"
    _capturable_tensors = "params, mu_products and state_steps"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_adam_args(lr, betas, eps, weight_decay)
        check_nonnegative(momentum_decay=momentum_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group, params):
        states, steps = self._states_and_steps(params, lambda p: dict(
            mu_product=scalar_state(1.0), exp_avg=state_like(p), exp_avg_sq=state_like(p)),
            capturable=group["capturable"])
        beta1, beta2 = group["betas"]
        B.kernels.nadam_step_(
            [p._data for p in params], [p.grad._data for p in params],
            [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
            [s["mu_product"]._data for s in states], steps, lr=kernel_scalar(group["lr"]),
            beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
            momentum_decay=group["momentum_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"])
