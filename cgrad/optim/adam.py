"""Adam and AdamW (decoupled weight decay)."""
from .. import backends as B
from ..tensor import Tensor
from .optimizer import Optimizer, check_adam_args, check_fused, kernel_scalar, state_like


class Adam(Optimizer):
    """Adam, PyTorch's update (t counts this parameter's steps):

        g = grad (negated if maximize) + weight_decay * p    (or p *= 1 - lr * weight_decay
                                                               first, if decoupled: AdamW)
        m = beta1 * m + (1 - beta1) * g,  v = beta2 * v + (1 - beta2) * g^2
        v_hat = max(v_hat, v) if amsgrad else v
        p = p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)
    """
    _integral_op = "lerp"           # its moment's m.lerp_(g, 1 - beta1) fails first
    _scalar_states = ("step",)
    _lerped_state = "exp_avg"

    _group_defaults = dict(amsgrad=False, maximize=False, foreach=None, capturable=False,
                           differentiable=False, decoupled_weight_decay=False, fused=None)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
        check_adam_args(lr, betas, eps, weight_decay)
        if not (all(isinstance(b, float) for b in betas)
                or all(isinstance(b, Tensor) for b in betas)):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, beta in enumerate(betas):
            if isinstance(beta, Tensor):
                if foreach and not capturable:
                    raise ValueError(f"betas[{i}] as a Tensor is not supported for "
                                     "capturable=False and foreach=True")
                if beta.numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        betas = tuple(b.squeeze() if isinstance(b, Tensor) else b for b in betas)  # 0-d, as PyTorch
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    def _update_group(self, group, params):
        amsgrad = group["amsgrad"]
        states, steps = self._states_and_steps(params, lambda p: dict(
            exp_avg=state_like(p), exp_avg_sq=state_like(p),
            **({"max_exp_avg_sq": state_like(p)} if amsgrad else {})),
            capturable=group["capturable"] and not group["fused"])   # fused ignores it
        # Tensor betas round in their dtype, but in PyTorch's fused step (doubles there)
        beta1, beta2 = map(float if group["fused"] else kernel_scalar, group["betas"])
        B.kernels.adam_step_(
            [p._data for p in params], [p.grad._data for p in params],
            [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
            [s["max_exp_avg_sq"]._data if amsgrad else None for s in states], steps,
            lr=kernel_scalar(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], amsgrad=amsgrad,
            maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"])


class AdamW(Adam):
    """Adam with decoupled weight decay (p *= 1 - lr * weight_decay before the Adam step);
    weight_decay defaults to 1e-2."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
