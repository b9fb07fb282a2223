"""Adagrad with learning-rate decay."""
from .. import backends as B
from .optimizer import (Optimizer, check_fused, check_lr, check_nonnegative, kernel_scalar,
                        scalar_state, state_like)


class Adagrad(Optimizer):
    """Adagrad, PyTorch's update (t counts this parameter's steps):

        g = grad (negated if maximize) + weight_decay * p
        s = s + g^2            (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
    """
    _integral_op = "addcmul"        # s.addcmul_(g, g) takes integers, not bools
    _scalar_states = ("step",)

    _group_defaults = dict(foreach=None, maximize=False, differentiable=False, fused=None)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr(lr)
        check_nonnegative(lr_decay=lr_decay, weight_decay=weight_decay,
                          initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)
        for group in self.param_groups:        # PyTorch's: the state of these up front
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p):
        """step 0 and the sum at the constructor's initial_accumulator_value (as PyTorch: not
        a group's own); parameters added later get theirs at their first step"""
        state = self.state[p]
        state["step"] = scalar_state()
        state["sum"] = state_like(p, self.defaults["initial_accumulator_value"])

    def _update_group(self, group, params):
        for p in params:
            if not self.state[p]:
                self._init_state(p)
            else:
                self._check_state(p, self.state[p])
        states = [self.state[p] for p in params]
        steps = [self._step_count(s) for s in states]
        B.kernels.adagrad_step_(
            [p._data for p in params], [p.grad._data for p in params],
            [s["sum"]._data for s in states], steps, lr=kernel_scalar(group["lr"]),
            lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
            eps=group["eps"], maximize=group["maximize"])
