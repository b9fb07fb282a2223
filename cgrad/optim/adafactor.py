"""Adafactor (Shazeer and Stern 2018), PyTorch's form: a factored second moment for matrices
(row and column means), relative step sizes and update clipping."""
from .. import backends as B
from .._dtype import bool_
from ..tensor import Tensor
from .optimizer import Optimizer, kernel_scalar, state_like


class Adafactor(Optimizer):
    """Adafactor with PyTorch's defaults (lr 1e-2, beta2_decay -0.8, eps (None, 1e-3), d 1)"""
    _scalar_states = ("step",)
    _param_shaped_states = False

    _group_defaults = dict(foreach=None)

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _with_grad(self, group):
        for p in group["params"]:
            if p.grad is not None and not p.is_floating_point():     # PyTorch's finfo(p.dtype)
                if group["maximize"] and p.dtype == bool_:            # (after -grad)
                    raise self._integral_error(group, p._data.dtype)
                raise TypeError("torch.finfo() requires a floating point input type. Use "
                                "torch.iinfo to handle 'torch.finfo'")
        return super()._with_grad(group)

    @staticmethod
    def _buffers(p):
        """a matrix's row and column second moments (its last dim, then the one before, kept
        as size 1), or a vector's full one"""
        g = p.grad
        if g.ndim > 1:
            return dict(row_var=g.new_zeros(*g.shape[:-1], 1),
                        col_var=g.new_zeros(*g.shape[:-2], 1, g.shape[-1]))
        return dict(variance=state_like(p))

    def _update_group(self, group, params):
        states, steps = self._states_and_steps(params, self._buffers)
        eps1, eps2 = group["eps"]

        def arrays(key):
            return [s[key]._data if key in s else None for s in states]
        B.kernels.adafactor_step_(
            [p._data for p in params], [p.grad._data for p in params], arrays("row_var"),
            arrays("col_var"), arrays("variance"), steps, lr=kernel_scalar(group["lr"]),
            beta2_decay=group["beta2_decay"], eps1=eps1, eps2=eps2, d=group["d"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])
