"""RAdam: Adam with the variance of the adaptive learning rate rectified."""
from .. import backends as B
from .optimizer import Optimizer, check_adam_args, kernel_scalar, state_like


class RAdam(Optimizer):
    """RAdam, PyTorch's update (t counts this parameter's steps):

        g = grad (negated if maximize) + weight_decay * p    (or p *= 1 - lr * weight_decay
                                                               first, if decoupled)
        m = beta1 * m + (1 - beta1) * g,  v = beta2 * v + (1 - beta2) * g^2
        rho_inf = 2 / (1 - beta2) - 1,  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        p = p - lr * m / (1 - beta1^t) * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r_t  (rho_t > 5)
        p = p - lr * m / (1 - beta1^t)                                               (otherwise)
        with r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    """
    _integral_op = "lerp"           # its moment's m.lerp_(g, 1 - beta1) fails first
    _scalar_states = ("step",)
    _lerped_state = "exp_avg"

    _group_defaults = dict(foreach=None, maximize=False, differentiable=False,
                           decoupled_weight_decay=False, capturable=False)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group, params):
        states, steps = self._states_and_steps(
            params, lambda p: dict(exp_avg=state_like(p), exp_avg_sq=state_like(p)),
            capturable=group["capturable"])
        beta1, beta2 = group["betas"]
        B.kernels.radam_step_(
            [p._data for p in params], [p.grad._data for p in params],
            [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
            steps, lr=kernel_scalar(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"])
