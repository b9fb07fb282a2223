"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize."""
from .. import backends as B
from ..tensor import Tensor
from .optimizer import Optimizer, check_fused, kernel_scalar


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's update:

        g = grad (negated if maximize) + weight_decay * p
        b = g at the first step, else momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b          (when momentum != 0)
        p = p - lr * g
    """

    _group_defaults = dict(nesterov=False, maximize=False, foreach=None, differentiable=False,
                           fused=False)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:                    # (a NaN lr passes, as in PyTorch's SGD)
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    def _integral_error(self, group, dtype):
        # _integral_update runs PyTorch's ops, and their errors
        return super()._integral_error(group, dtype) if group["fused"] else None

    def _update_group(self, group, params):
        if not all(p._data.dtype.kind == "f" for p in params):
            for p in [p for p in params if p._data.dtype.kind != "f"]:
                self._integral_update(group, p)
            params = [p for p in params if p._data.dtype.kind == "f"]
        uses_momentum = group["momentum"] != 0
        bufs = [self.state[p].get("momentum_buffer") if uses_momentum else None
                for p in params]
        for p, buf in zip(params, bufs):
            if buf is not None:
                self._check_state(p, self.state[p])
        arrays = [None if b is None else b._data for b in bufs]
        B.kernels.sgd_step_([p._data for p in params], [p.grad._data for p in params],
                            arrays, lr=kernel_scalar(group["lr"]), momentum=group["momentum"],
                            dampening=group["dampening"],
                            weight_decay=group["weight_decay"],
                            nesterov=group["nesterov"], maximize=group["maximize"])
        if uses_momentum:          # the kernel filled the first-step buffers in
            for p, buf, arr in zip(params, bufs, arrays):
                if buf is None:
                    self.state[p]["momentum_buffer"] = Tensor._make(arr)

    def _integral_update(self, group, p):
        """An integer or bool parameter's update as PyTorch's single-tensor SGD runs it: with
        integer hyperparameters it is integer arithmetic; a float one fails in its op."""
        grad = -p.grad if group["maximize"] else p.grad
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.clone().detach()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(grad, alpha=-group["lr"])
