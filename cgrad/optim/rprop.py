"""Rprop: resilient backpropagation."""
from .. import backends as B
from .optimizer import Optimizer, check_lr, state_like


class Rprop(Optimizer):
    """Rprop, PyTorch's update (each element has its own step size, starting at lr):

        g = grad (negated if maximize)
        s = step_size * (etaplus if g * prev > 0, etaminus if < 0, 1 if 0),
            clamped to step_sizes = (min, max)
        g = 0 where the sign flipped (s took etaminus)
        p = p - sign(g) * s,  prev = g
    """
    _scalar_states = ("step",)
    _gradient_first = True
    # PyTorch's Rprop fails on an integer or bool parameter naming the C type
    _cast_names = {"Long": "long int", "Int": "int", "Short": "short int", "Char": "signed char",
                   "Byte": "unsigned char", "Bool": "bool"}

    _group_defaults = dict(foreach=None, maximize=False, differentiable=False, capturable=False)

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group, params):
        states, _ = self._states_and_steps(params, lambda p: dict(
            prev=state_like(p),
            step_size=state_like(p, float(group["lr"]))),
            capturable=group["capturable"])
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        B.kernels.rprop_step_(
            [p._data for p in params], [p.grad._data for p in params],
            [s["prev"]._data for s in states], [s["step_size"]._data for s in states],
            etaminus=etaminus, etaplus=etaplus, step_size_min=step_size_min,
            step_size_max=step_size_max, maximize=group["maximize"])
