"""RMSprop, plain or centered, with optional momentum."""
from .. import backends as B
from .optimizer import Optimizer, check_lr, check_nonnegative, kernel_scalar, state_like


class RMSprop(Optimizer):
    """RMSprop, PyTorch's update:

        g = grad (negated if maximize) + weight_decay * p
        v = alpha * v + (1 - alpha) * g^2
        a = alpha * a + (1 - alpha) * g;  d = sqrt(v - a^2) + eps   (centered)
                                          d = sqrt(v) + eps         (otherwise)
        b = momentum * b + g / d;  p = p - lr * b                   (momentum > 0)
        p = p - lr * g / d                                          (otherwise)
    """
    _scalar_states = ("step",)
    _lerped_state = "grad_avg"           # (centered)

    _group_defaults = dict(momentum=0, centered=False, foreach=None, maximize=False,
                           differentiable=False, capturable=False)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_lr(lr)
        check_nonnegative(eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group, params):
        momentum, centered = group["momentum"], group["centered"]
        states, _ = self._states_and_steps(params, lambda p: dict(
            square_avg=state_like(p),
            **({"momentum_buffer": state_like(p)} if momentum > 0 else {}),
            **({"grad_avg": state_like(p)} if centered else {})),
            capturable=group["capturable"])
        B.kernels.rmsprop_step_(
            [p._data for p in params], [p.grad._data for p in params],
            [s["square_avg"]._data for s in states],
            [s["momentum_buffer"]._data if momentum > 0 else None for s in states],
            [s["grad_avg"]._data if centered else None for s in states],
            lr=kernel_scalar(group["lr"]), alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=momentum, centered=centered,
            maximize=group["maximize"])
