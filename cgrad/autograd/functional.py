"""cgrad.autograd.functional: vjp, jvp, jacobian, hessian, vhp and hvp of a function of
Tensors, as PyTorch's: reverse mode throughout, jvp and hvp by the double-backward trick (a
backward recorded with create_graph is linear in its output gradient, so differentiating it
again in that gradient gives the forward product)."""
from . import grad as _grad
from .grad_mode import enable_grad


def _as_tuple(x, arg_name, fn_name):
    """(whether x was a tuple, x as a tuple of Tensors; a list is refused, as by PyTorch)"""
    from ..tensor import Tensor
    is_tuple = isinstance(x, tuple)
    items = tuple(x) if is_tuple else (x,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            if is_tuple:
                raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                                f"tuple of Tensors but the value at index {i} has type "
                                f"{type(el)}.")
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the given {arg_name} has type {type(el)}.")
    return is_tuple, items


def _tuple_postprocess(res, to_unpack):
    """Unpack res the way the user passed inputs and got outputs (a pair for jacobian's
    nested tuples)"""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph):
    """Leaves of a new graph (detached copies sharing memory), unless create_graph keeps the
    graph of an input that requires grad (a view of it, so as not to touch its own .grad)"""
    return tuple(t.view_as(t) if create_graph and t.requires_grad
                 else t.detach().requires_grad_(need_graph) for t in inputs)


def _grad_postprocess(results, create_graph):
    if isinstance(results[0], tuple):
        return tuple(_grad_postprocess(r, create_graph) for r in results)
    return results if create_graph else tuple(r.detach() for r in results)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but "
                               f"got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prepend = f"Entry {i} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {el_other.shape} but "
                               f"got {el_v.shape}.")


def _checked_v(v, other, is_other_tuple, fn_name, create_graph, none_allowed_if):
    """v as a tuple of Tensors shaped as other (the outputs for vjp, else the inputs); None
    only where other is one Tensor of one element"""
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _grad_preprocess(v, create_graph, False)
        _validate_v(v, other, is_other_tuple)
    elif len(other) != 1 or other[0].nelement() != 1:
        raise RuntimeError(f"The vector v can only be None if {none_allowed_if} a single "
                           "Tensor with a single element.")
    return v


_NOT_DIFFERENTIABLE = {      # PyTorch's strict-mode messages, by what was checked
    "outputs": "Output {i} of the user-provided function does not require gradients. The "
               "outputs must be computed in a differentiable manner from the input when "
               "running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the "
                   "user-provided function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided "
                "function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).",
    "hessian": "The hessian of the user-provided function with respect to input {i} is "
               "independent of the input. This is not allowed in strict mode. You should "
               "ensure that your function is thrice differentiable and that the hessian "
               "depends on the inputs.",
}
_INDEPENDENT = {             # ... and for a gradient that is missing, by stage
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _check_requires_grad(tensors, what, strict):
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(_INDEPENDENT["back"].format(i=i))
        if not t.requires_grad:
            raise RuntimeError(_NOT_DIFFERENTIABLE[what].format(i=i))


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False,
                   retain_graph=None):
    """autograd.grad over the outputs that require grad; None for every input if none does"""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    kept = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    return _grad([o for o, _ in kept], inputs, [g for _, g in kept], retain_graph=retain_graph,
                 create_graph=create_graph, allow_unused=True)


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    """zeros where an input got no gradient (strict: PyTorch's RuntimeError instead, also for
    a gradient outside the graph when create_graph)"""
    from .. import zeros_like
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i=i))
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            kind = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {kind} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               "create_graph=True.")
        out.append(g)
    return tuple(out)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at inputs"""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph, True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs),
                                              "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        v = _checked_v(v, outputs, is_outputs_tuple, "vjp", create_graph,
                       "the user-provided function returns")
        grads = _autograd_grad(outputs, inputs, v, create_graph)
        result = _fill_in_zeros(grads, inputs, strict, create_graph, "back")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product at inputs"""
    from .. import zeros_like
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph, True)
        v = _checked_v(v, inputs, is_inputs_tuple, "jvp", create_graph,
                       "the input to the user-provided function is")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs),
                                              "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        # u^T J, recorded: differentiated in u, it gives J v
        u = tuple(zeros_like(out, requires_grad=True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, u, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
        grads = _autograd_grad(grad_inputs, u, v, create_graph)
        result = _fill_in_zeros(grads, outputs, strict, create_graph, "back_trick")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_outputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """d func(inputs) / d inputs: of shape output.shape + input.shape, nested tuples (output i,
    input j) where func takes or returns several Tensors. One backward per output element;
    strategy="forward-mode" (under PyTorch's conditions) and vectorize give the same Jacobian,
    computed so."""
    from .. import stack, zeros
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        # PyTorch's conditions for forward mode; the same Jacobian then comes from reverse mode
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`strict=False` or `strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse "
                                      "Hessian is only implemented for `vectorize=True`.")
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs),
                                              "outputs of the user-provided function",
                                              "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                               "`vectorized=True` are not supported together. Please either set "
                               "`strict=False` or `vectorize=False`.")
        result = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            flat = out.reshape(-1)
            for k in range(out.nelement()):
                grads = _autograd_grad((flat[k],), inputs, create_graph=create_graph,
                                       retain_graph=True)
                for j, (row, g) in enumerate(zip(rows, grads)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {j}. This is not allowed "
                                               "in strict mode.")
                        g = zeros(inputs[j].shape, dtype=inputs[j].dtype)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(f"The jacobian of the user-provided function is "
                                           f"independent of input {j}. This is not allowed in "
                                           "strict mode when create_graph=True.")
                    row.append(g)
            blocks = tuple(stack(row).reshape(out.shape + inp.shape) if row
                           else zeros(out.shape + inp.shape, dtype=inp.dtype)
                           for row, inp in zip(rows, inputs))
            if strategy == "forward-mode":      # a tangent has its output's dtype
                blocks = tuple(b.to(out.dtype) for b in blocks)
            result.append(blocks)
        result = _grad_postprocess(tuple(result), create_graph)
    if strategy == "forward-mode":      # PyTorch's forward mode nests lists, not tuples
        result = [list(blocks) for blocks in result]
    return _tuple_postprocess(result, (is_outputs_tuple, is_inputs_tuple))


def _single_output(func, fn_name, strict):
    """func, checked to return one Tensor of one element (hessian, vhp, hvp)"""
    def checked(*inputs):
        out = func(*inputs)
        is_tuple, outs = _as_tuple(out, "outputs of the user-provided function", fn_name)
        _check_requires_grad(outs, "outputs", strict)
        if is_tuple:
            raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
        if out.nelement() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                               "contain a single element")
        return out
    return checked


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func at inputs: the jacobian of its gradient"""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    scalar = _single_output(func, "hessian", strict)

    def gradient(*inp):
        jac = jacobian(lambda *x: scalar(*x).squeeze(), inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac
    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _tuple_postprocess(result, (is_inputs_tuple, is_inputs_tuple))


def _second_order(func, inputs, v, create_graph, strict, fn_name, trick):
    """(func(inputs), v^T H) for vhp, or (func(inputs), H v) by the double-backward trick"""
    from .. import zeros_like
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
        inputs = _grad_preprocess(inputs, create_graph, True)
        v = _checked_v(v, inputs, is_inputs_tuple, fn_name, create_graph,
                       "the input to the user-provided function is")
        output = _single_output(func, fn_name, strict)(*inputs)
        jac = _autograd_grad((output,), inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        if trick:
            u = tuple(zeros_like(t, requires_grad=True) for t in inputs)
            back = _autograd_grad(jac, inputs, u, create_graph=True)
            _check_requires_grad(back, "hessian", strict)
            grads = _autograd_grad(back, u, v, create_graph)
        else:
            grads = _autograd_grad(jac, inputs, v, create_graph)
        result = _fill_in_zeros(grads, inputs, strict, create_graph,
                                "double_back_trick" if trick else "double_back")
    output = _grad_postprocess((output,), create_graph)[0]
    return output, _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar func"""
    return _second_order(func, inputs, v, create_graph, strict, "vhp", trick=False)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar func"""
    return _second_order(func, inputs, v, create_graph, strict, "hvp", trick=True)


__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]
