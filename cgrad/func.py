"""cgrad.func: PyTorch's function transforms (torch.func), built on cgrad's autograd.

- grad, grad_and_value, vjp, jacrev: reverse mode on new leaves (views of the inputs that
  require grad, so that a transform nests, grad(grad(f)), and its result stays differentiable
  by a surrounding backward). jvp, jacfwd and hessian give the same values by reverse mode
  (jvp by the double-backward trick, as cgrad.autograd.functional.jvp): cgrad has no forward
  mode. jvp_products, jvp's core, also gives cgrad.autograd.forward_ad its tangents.
- vmap runs the function once per slice along the mapped dims and stacks the results:
  PyTorch's values and shapes (and gradients through them), not its speed (PyTorch batches
  each op instead of looping).
- functional_call runs a module with other tensors in place of its parameters and buffers.

Inputs and outputs may be nested tuples, lists and dicts of tensors (pytrees), as in PyTorch.
"""
import contextlib

from . import random as _random
from ._functions import stack
from .autograd import function as _function, grad as _autograd_grad
from .autograd.function import AccumulateGrad, grad_edge
from .autograd.grad_mode import enable_grad, is_grad_enabled
from .creation import zeros, zeros_like
from .tensor import Tensor

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp",
           "stack_module_state", "vjp", "vmap", "linearize", "replace_all_batch_norm_modules_"]


# ---- pytrees: nested tuples, lists and dicts, anything else a leaf --------------------------
def _flatten(tree):
    """(leaves, spec): spec rebuilds the tree from leaves (_unflatten)"""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for item in tree:
            item_leaves, spec = _flatten(item)
            leaves += item_leaves
            specs.append(spec)
        return leaves, (type(tree), None, specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for item in tree.values():
            item_leaves, spec = _flatten(item)
            leaves += item_leaves
            specs.append(spec)
        return leaves, (type(tree), list(tree), specs)
    return [tree], None


def _unflatten(leaves, spec):
    it = iter(leaves)

    def build(spec):
        if spec is None:
            return next(it)
        kind, keys, specs = spec
        items = [build(s) for s in specs]
        if keys is not None:
            return kind(zip(keys, items))
        if kind in (tuple, list):
            return kind(items)
        return kind(*items)                 # a namedtuple
    return build(spec)


def _describe(spec, indent=0):
    """PyTorch's TreeSpec(...) text of a spec, for its error messages: children after the
    first on new lines, indented two more spaces per level"""
    if spec is None:
        return "*"
    kind, keys, specs = spec
    indent += 2
    children = f",\n{' ' * indent}".join(_describe(s, indent) for s in specs)
    return f"TreeSpec({kind.__name__}, {keys}, [{children}])"


@contextlib.contextmanager
def _transform(vmapping=False, forward=False):
    """a transform runs the user's function: custom Functions called there must support it
    (autograd.function.transforms counts the nesting)"""
    levels = _function.transforms
    levels[0] += 1
    levels[1] += vmapping
    levels[2] += forward
    try:
        yield
    finally:
        levels[0] -= 1
        levels[1] -= vmapping
        levels[2] -= forward


# ---- differentiating -----------------------------------------------------------------------
def _argnums_tuple(argnums, n_args):
    """argnums as a tuple of non-negative positions, checked against n_args as PyTorch does"""
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    if isinstance(argnums, tuple) and not argnums:
        raise RuntimeError("argnums must be non-empty")
    for a in nums:
        if not isinstance(a, int):
            raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(a)}")
        if not -n_args <= a < n_args:
            raise RuntimeError(f"Got argnum={a}, but only {n_args} positional inputs")
    positions = tuple(a % n_args for a in nums)
    if len(set(positions)) != len(positions):
        raise RuntimeError(f"argnums elements must be unique, got {positions}")
    return positions


def _as_leaves(tree):
    """The tensors of tree as the leaves this transform differentiates by: a view of a tensor
    that requires grad in grad mode (its graph, and any outer transform's, stay connected),
    else a detached alias that requires grad. Also whether any was a view (then results keep
    their graphs)."""
    leaves, spec = _flatten(tree)
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(leaf)}")
    enabled = is_grad_enabled()           # (under no_grad, a view would not be recorded)
    new = [t.view_as(t) if enabled and t.requires_grad else t.detach().requires_grad_()
           for t in leaves]
    return new, spec, enabled and any(t.requires_grad for t in leaves)


def _reaches_outside(tree, leaves):
    """whether a tensor of tree depends on a tensor that requires grad other than the new
    leaves (say a parameter func closes over): then the results keep their graphs, as in
    PyTorch, where a surrounding backward reaches that tensor through them"""
    ours = {id(grad_edge(x)) for group in leaves for x in group}
    stack = [grad_edge(t) for t in _flatten(tree)[0] if isinstance(t, Tensor)]
    seen = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is AccumulateGrad:
            if id(node) not in ours:
                return True
            continue
        stack.extend(node.parents)
    return False


def _prepared(args, argnums):
    """args with those at argnums replaced by new leaves: (args, [leaves per argnum],
    [spec per argnum], whether any input's graph continues outside)"""
    args = list(args)
    all_leaves, specs, outer = [], [], False
    for a in argnums:
        leaves, spec, keeps = _as_leaves(args[a])
        args[a] = _unflatten(leaves, spec)
        all_leaves.append(leaves)
        specs.append(spec)
        outer = outer or keeps
    return args, all_leaves, specs, outer


def _grads(outputs, inputs, grad_outputs, keep_graph):
    """d outputs / d inputs (zeros where an input is unused, or no output depends on any
    input), as a list"""
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    linked = [(y, g) for y, g in zip(outputs, grad_outputs) if y.requires_grad]
    found = [None] * len(inputs)
    if linked:
        found = _autograd_grad([y for y, _ in linked], inputs, [g for _, g in linked],
                               retain_graph=True, create_graph=keep_graph, allow_unused=True)
    return [g if g is not None else zeros_like(x) for g, x in zip(found, inputs)]


def _detached(tree, keep_graph):
    """tree with its tensors detached, unless an outer graph continues through them"""
    if keep_graph:
        return tree
    leaves, spec = _flatten(tree)
    return _unflatten([t.detach() if isinstance(t, Tensor) else t for t in leaves], spec)


def _traced(func, args, kwargs, argnums, has_aux, api):
    """func called on new leaves for the arguments at argnums: (output, aux, leaves per
    argnum, their specs, whether an outer graph continues)"""
    args, leaves, specs, outer = _prepared(args, _argnums_tuple(argnums, len(args)))
    with enable_grad(), _transform():
        out = func(*args, **kwargs)
    output, aux = _split_aux(out, has_aux, api)
    outer = outer or (is_grad_enabled() and _reaches_outside(output, leaves))
    return output, aux, leaves, specs, outer


def _per_argument(results, leaves, specs, argnums):
    """results (one per leaf, in order) regrouped as the arguments at argnums were: one
    argument's tree for an int argnums, a tuple of them for a tuple"""
    found = iter(results)
    per_arg = [_unflatten([next(found) for _ in group], spec)
               for group, spec in zip(leaves, specs)]
    return per_arg[0] if isinstance(argnums, int) else tuple(per_arg)


def _split_aux(out, has_aux, api):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: "
                           "(output, aux) if has_aux is True")
    for leaf in _flatten(out[1])[0]:           # as PyTorch: aux holds nothing but tensors
        if not isinstance(leaf, Tensor):
            raise RuntimeError(f"Expected tensors, got unsupported type {type(leaf)}")
    return out


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient of func's scalar output with respect to the arguments
    at argnums, that output); with has_aux, func returns (output, aux) and the value is
    (output, aux)."""
    def wrapper(*args, **kwargs):
        output, aux, leaves, specs, outer = _traced(func, args, kwargs, argnums, has_aux,
                                                    "grad_and_value(f)(*args)")
        if not isinstance(output, Tensor):
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                               f"Tensor, got {type(output)}")
        if output.ndim != 0:
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar "
                               f"Tensor, got tensor with {output.ndim} dims. Maybe you wanted to "
                               "use the vjp or jacrev APIs instead?")
        flat = [x for group in leaves for x in group]
        g = _per_argument(_grads([output], flat, None, outer), leaves, specs, argnums)
        value = _detached(output, outer)
        return (_detached(g, outer),
                (value, _detached(aux, outer)) if has_aux else value)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of func's scalar output with respect to the
    arguments at argnums (a tuple of them for a tuple argnums); with has_aux, func returns
    (output, aux) and the function returns (gradient, aux)."""
    both = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = both(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]): vjp_fn(cotangents) gives the cotangents (shaped as
    the output) times the Jacobian, as a tuple with one entry per primal."""
    every = tuple(range(len(primals)))
    output, aux, leaves, specs, outer = _traced(func, primals, {}, every, has_aux,
                                                    "vjp(f, *primals)")
    out_leaves, out_spec = _flatten(output)
    for t in out_leaves:
        if not isinstance(t, Tensor):
            raise RuntimeError(f"vjp(f, *primals): expected f(*primals) to return only tensors, "
                               f"got unsupported type {type(t)}")
        _check_floating(t)
    flat = [x for group in leaves for x in group]

    def vjp_fn(cotangents):
        cot_leaves, cot_spec = _flatten(cotangents)
        if _describe(cot_spec) != _describe(out_spec):
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function. cotangents: "
                               f"{_describe(cot_spec)}, primal output: {_describe(out_spec)}")
        found = _grads(out_leaves, flat, cot_leaves, outer)
        return _detached(_per_argument(found, leaves, specs, every), outer)

    value = _detached(output, outer)
    return (value, vjp_fn, _detached(aux, outer)) if has_aux else (value, vjp_fn)


def _check_floating(y):
    if not (y.is_floating_point() or y.is_complex()):
        raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or complex "
                           f"Tensors, got Tensor with dtype {y.dtype}")


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), the Jacobian times tangents): by the double-backward trick (a
    backward recorded with create_graph is linear in its output gradient u; differentiating
    it in u along the tangents gives J t)."""
    for name, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, tuple):
            raise RuntimeError(f"jvp(f, primals, tangents): Expected {name} to be a tuple. "
                               "E.g. it should be valid to call f(*primals).")
    given, primals_spec = _flatten(primals)
    tan_leaves, tan_spec = _flatten(tangents)
    if _describe(primals_spec) != _describe(tan_spec):
        raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to have "
                           f"the same python structure. For example, if primals is a tuple of "
                           f"3 tensors, tangents also must be. Got primals with structure "
                           f"{_describe(primals_spec)} and tangents with structure "
                           f"{_describe(tan_spec)}")
    for name, leaves in (("primals", given), ("tangents", tan_leaves)):
        if not leaves:
            raise RuntimeError(f"jvp(f, primals, tangents): Expected {name} to contain at least "
                               "one Tensor.")
        for v in leaves:
            if not isinstance(v, Tensor):
                raise RuntimeError(f"jvp(f, primals, tangents): Expected {name} to only contain "
                                   f"Tensors, got {type(v)}")
    for x, t in zip(given, tan_leaves):
        for name, v in (("primal", x), ("tangent", t)):     # as make_dual checks them
            if not (v.is_floating_point() or v.is_complex()):
                raise ValueError(f"Expected {name} to be floating point or complex, but got: "
                                 f"{v.dtype}")
        check_tangent_size(x, t)
    args, leaves, specs, outer = _prepared(primals, tuple(range(len(primals))))
    flat = [x for group in leaves for x in group]
    with enable_grad(), _transform(forward=True):
        out = func(*args)
    output, aux = _split_aux(out, has_aux, "jvp(f, primals, tangents)")
    outer = outer or (is_grad_enabled() and _reaches_outside(output, leaves))
    out_leaves, out_spec = _flatten(output)
    if not out_leaves:
        raise RuntimeError("jvp(f, primals, tangents): Expected f to be a function that has "
                           "non-empty output (got output = [])")
    for y in out_leaves:
        if not isinstance(y, Tensor):
            raise RuntimeError(f"jvp(f, primals, tangents): expected f(*primals) to return only "
                               f"tensors, got unsupported type {type(y)}")
    found = jvp_products(out_leaves, flat, tan_leaves, outer) or [zeros_like(y)
                                                                  for y in out_leaves]
    result = (_detached(output, outer), _detached(_unflatten(found, out_spec), outer))
    return result + (_detached(aux, outer),) if has_aux else result


def check_tangent_size(x, t):
    if t.shape != x.shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(x.shape)} while the given forward gradient is of size "
                           f"{list(t.shape)}.")


def jvp_products(outputs, inputs, tangents, keep_graph):
    """The Jacobian of each output times tangents (one per input), as a list; None if no
    input reaches the outputs. By the double-backward trick: the backward of the outputs on
    u, recorded, is linear in u, so its gradient in u along the tangents is J t."""
    return _along(*_backward_in_u(outputs, inputs), tangents, keep_graph)


def _backward_in_u(outputs, inputs):
    """(us, back): u (zeros that require grad) per output, and the backward of the outputs
    on u to each input, recorded (None where an input does not reach them)"""
    with enable_grad():
        us = [zeros_like(y).requires_grad_() for y in outputs]
        linked = [(y, u) for y, u in zip(outputs, us) if y.requires_grad]   # (others: J = 0)
        if not linked:
            return us, [None] * len(inputs)
        back = _autograd_grad([y for y, _ in linked], inputs, [u for _, u in linked],
                              create_graph=True, allow_unused=True)
    return us, back


def _along(us, back, tangents, keep_graph):
    """J t for each output (the gradient of back in u along the tangents; back's graph is
    kept for further calls), or None if no input reaches the outputs"""
    used = [(g, t) for g, t in zip(back, tangents) if g is not None]
    if not used:
        return None
    return _grads([g for g, _ in used], us, [t for _, t in used], keep_graph)


def linearize(func, *primals):
    """(func(*primals), jvp_fn): jvp_fn(*tangents) is jvp(func, primals, tangents)[1], from
    one recorded backward that every call reuses (PyTorch traces the forward-mode graph once;
    cgrad keeps jvp's double-backward graph). func runs twice, as in PyTorch."""
    with _transform(forward=True):
        output = func(*primals)
    flat_primals, primals_spec = _flatten(primals)
    meta = [(p.shape, p.dtype) for p in flat_primals]
    args, leaves, _, outer = _prepared(primals, tuple(range(len(primals))))
    with enable_grad(), _transform(forward=True):
        out_leaves, out_spec = _flatten(func(*args))
    us, back = _backward_in_u(out_leaves, [x for group in leaves for x in group])

    def jvp_fn(*tangents):
        flat, spec = _flatten(tangents)
        if _describe(spec) != _describe(primals_spec):
            raise RuntimeError(f"Expected the tangents {_describe(spec)} to have the same "
                               f"argspec as the primals {_describe(primals_spec)}")
        for i, (t, (shape, dtype)) in enumerate(zip(flat, meta)):
            for what, got, want in (("shape", t.shape, shape), ("dtype", t.dtype, dtype)):
                if got != want:
                    raise RuntimeError(f"tangent:{i} with {what} {got} in flattened pytree "
                                       f"doesn't match the {what} {want} of the corresponding "
                                       "primal.")
        keep = is_grad_enabled() and (outer or any(t.requires_grad for t in flat))
        found = _along(us, back, flat, keep) or [zeros_like(y) for y in out_leaves]
        return _unflatten(found, out_spec)
    return output, jvp_fn


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """A function returning func's Jacobian with respect to the arguments at argnums: for
    each output tensor and each input tensor, a tensor of shape output.shape + input.shape
    (one backward per output element)."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    def wrapper(*args, **kwargs):
        output, aux, leaves, specs, outer = _traced(func, args, kwargs, argnums, has_aux,
                                                    "vjp(f, *primals)")
        out_leaves, out_spec = _flatten(output)
        flat = [x for group in leaves for x in group]
        blocks = []
        for y in out_leaves:
            if not isinstance(y, Tensor):
                raise RuntimeError(f"vjp(f, *primals): expected f(*primals) to return only "
                                   f"tensors, got unsupported type {type(y)}")
            _check_floating(y)
            with enable_grad():              # (the elements of y, recorded)
                elements = [y.reshape(-1)[k] for k in range(y.numel())]
            rows = [_grads([e], flat, None, outer) for e in elements]
            blocks.append([_stack_rows([r[i] for r in rows], y.shape, x)
                           for i, x in enumerate(flat)])
        jac = _detached(_unflatten([_per_argument(b, leaves, specs, argnums) for b in blocks],
                                   out_spec), outer)
        return (jac, _detached(aux, outer)) if has_aux else jac
    return wrapper


def _stack_rows(rows, out_shape, x):
    """rows (one gradient per output element) as a tensor of out_shape + x.shape"""
    if not rows:
        return zeros(tuple(out_shape) + tuple(x.shape), dtype=x.dtype)
    return stack(rows).reshape(tuple(out_shape) + tuple(x.shape))


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """jacrev's values (cgrad computes forward-mode Jacobians by reverse mode)"""
    _check_randomness(randomness)
    by_reverse = jacrev(func, argnums, has_aux=has_aux)

    def wrapper(*args, **kwargs):
        with _randomness(randomness), _transform(vmapping=True, forward=True):
            return by_reverse(*args, **kwargs)      # (PyTorch's jacfwd vmaps func's jvp)
    return wrapper


def hessian(func, argnums=0):
    """The Jacobian of the Jacobian of func's output (its Hessian for a scalar output)"""
    return jacfwd(jacrev(func, argnums), argnums)


# ---- vmap ----------------------------------------------------------------------------------
def _check_randomness(randomness):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")


def _refuse_random():
    raise RuntimeError("vmap: called random operation while in randomness error mode. Please "
                       "either use the 'same' or 'different' randomness flags on vmap or "
                       "perform the randomness operation out of vmap")


@contextlib.contextmanager
def _randomness(mode):
    """"error": random draws raise; "same": every slice draws the same numbers (the
    generator's state is put back before each, by the caller); "different": as they come"""
    previous = _random._draw_check
    if mode == "error":
        _random._draw_check = _refuse_random
    try:
        yield
    finally:
        _random._draw_check = previous


def _in_dims_per_leaf(in_dims, args, name):
    """each leaf of args with its in_dim (in_dims: an int or None for all, or a tuple with one
    entry per argument, each an int / None or a tree matching that argument)"""
    if not isinstance(in_dims, (int, tuple)) or isinstance(in_dims, bool):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` "
                         f"to be int or a (potentially nested) tuple matching the structure of "
                         f"inputs, got: {type(in_dims)}.")
    pairs = []

    def walk(dims, tree):
        if dims is None or isinstance(dims, int):
            leaves, _ = _flatten(tree)
            pairs.extend((leaf, dims) for leaf in leaves)
            return
        leaves, spec = _flatten(tree)
        dim_leaves, dim_spec = _flatten(dims)
        if spec is None or _describe(spec) != _describe(dim_spec):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                             f"compatible with the structure of `inputs`. in_dims has structure "
                             f"{_describe(dim_spec)} but inputs has structure {_describe(spec)}.")
        pairs.extend(zip(leaves, dim_leaves))

    if isinstance(in_dims, int):
        walk(in_dims, tuple(args))
    elif len(in_dims) != len(args):
        walk(in_dims, tuple(args))              # raises, naming both structures
    else:
        for dims, arg in zip(in_dims, args):
            walk(dims, arg)
    for leaf, dim in pairs:
        if dim is None:
            continue
        if not isinstance(leaf, Tensor):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} "
                             f"for an input but the input is of type {type(leaf)}. We cannot "
                             f"vmap over non-Tensor arguments, please use None as the "
                             f"respective in_dim")
        if not -leaf.ndim <= dim < leaf.ndim:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} "
                             f"for some input, but that input is a Tensor of dimensionality "
                             f"{leaf.ndim} so expected in_dim to satisfy -{leaf.ndim} <= in_dim "
                             f"< {leaf.ndim}.")
    return pairs


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over a dim of its inputs: func runs on each slice (the mapped dims removed)
    and its outputs are stacked along out_dims. Unmapped inputs (in_dim None) and keyword
    arguments are passed whole to every call."""
    _check_randomness(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")
    name = getattr(func, "__name__", type(func).__name__)

    def wrapper(*args, **kwargs):
        pairs = _in_dims_per_leaf(in_dims, args, name)
        sizes = [leaf.shape[dim] for leaf, dim in pairs if dim is not None]
        if not sizes:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): At least one of "
                             f"the inputs must be a Tensor that is mapped over (i.e. in_dims is "
                             f"not None)")
        if len(set(sizes)) > 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sizes} for the mapped dimension")
        _, spec = _flatten(tuple(args))
        state = _random.default_generator.get_state() if randomness == "same" else None
        results = []
        with _randomness(randomness), _transform(vmapping=True):
            for i in range(sizes[0]):
                if state is not None:
                    _random.default_generator.set_state(state)
                leaves = [leaf if dim is None else leaf.select(dim, i) for leaf, dim in pairs]
                results.append(func(*_unflatten(leaves, spec), **kwargs))
        return _stacked(results, out_dims, name, sizes[0], func, pairs, spec, kwargs)
    return wrapper


def _stacked(results, out_dims, name, size, func, pairs, args_spec, kwargs):
    """the per-slice outputs stacked along out_dims, in their tree"""
    if size == 0:       # func still runs once, on zero slices: the outputs' shapes and dtypes
        zero_slices = [leaf if dim is None else _zeros_slice(leaf, dim) for leaf, dim in pairs]
        with _transform(vmapping=True):
            results = [func(*_unflatten(zero_slices, args_spec), **kwargs)]
    leaves_per, spec = zip(*(_flatten(r) for r in results))
    spec = spec[0]
    n = len(leaves_per[0])
    if isinstance(out_dims, int) or out_dims is None:
        dims = [out_dims] * n
    else:
        dims = _flatten(out_dims)[0]
        if len(dims) != n:
            dims = _broadcast_out_dims(out_dims, results[0], name)
    out = []
    for k, dim in enumerate(dims):
        column = [leaves[k] for leaves in leaves_per]
        if dim is None:
            first = column[0]
            if isinstance(first, Tensor) and any(
                    not (c.shape == first.shape and bool((c == first).all())) for c in column[1:]):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor "
                                 f"when out_dim is None")
            out.append(first)
            continue
        if not isinstance(column[0], Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(column[0])}. Did you mean to set out_dims= to None for "
                             f"output?")
        stacked = stack(column, dim)
        out.append(stacked if size else stacked.narrow(dim, 0, 0))
    return _unflatten(out, spec)


def _zeros_slice(leaf, dim):
    """a zero slice of leaf without dim (a stand-in for a slice of an empty batch)"""
    shape = list(leaf.shape)
    del shape[dim]
    return leaf.new_zeros(shape)


def _broadcast_out_dims(out_dims, result, name):
    """out_dims as one dim per output leaf: each entry of a tuple out_dims covers one output
    (an int or None for the whole of it)"""
    if not isinstance(result, tuple) or len(out_dims) != len(result):
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                         f"compatible with the structure of `outputs`.")
    dims = []
    for d, r in zip(out_dims, result):
        dims += [d] * len(_flatten(r)[0])
    return dims


# ---- modules -------------------------------------------------------------------------------
def _module_names(module):
    """{dotted name: (owning module, attribute, registry)} of every parameter and buffer,
    tied ones under each of their names; and {id of tensor: its names}"""
    places, tied = {}, {}
    for prefix, owner in module.named_modules(remove_duplicate=False):
        for registry in ("_parameters", "_buffers"):
            for attr, value in owner.__dict__[registry].items():
                full = f"{prefix}.{attr}" if prefix else attr
                places[full] = (owner, attr, registry)
                if value is not None:
                    tied.setdefault(id(value), []).append(full)
    return places, tied


@contextlib.contextmanager
def _swapped(module, values, tie_weights, strict):
    """module with values (dotted name -> tensor) in place of its parameters and buffers"""
    places, tied = _module_names(module)
    if tie_weights:
        values = dict(values)
        for names in tied.values():
            given = [n for n in names if n in values]
            if len({id(values[n]) for n in given}) > 1:
                raise ValueError(f"functional_call got multiple values for keys {sorted(given)}, "
                                 f"which are tied. Consider using tie_weights=False")
            for n in names:
                if given:
                    values.setdefault(n, values[given[0]])
    if strict:
        unexpected = [n for n in values if n not in places]
        missing = [n for n in places if n not in values]
        if unexpected or missing:
            lines = [f"Error(s) in reparametrizing for {module._get_name()}:"]
            if unexpected:
                lines.append("\tUnexpected key(s): " + ", ".join(f"'{n}'" for n in unexpected)
                             + ".")
            if missing:
                lines.append("\tMissing key(s): " + ", ".join(f"'{n}'" for n in missing) + ".")
            raise RuntimeError("\n".join(lines))
    saved = []
    try:
        for full, value in values.items():
            if full in places:
                owner, attr, registry = places[full]
                table = owner.__dict__[registry]
            else:                           # not a parameter or buffer: a plain attribute
                path, _, attr = full.rpartition(".")
                try:
                    owner = module.get_submodule(path)
                except AttributeError:
                    continue
                table = owner.__dict__
            saved.append((table, attr, table.get(attr, _MISSING)))
            table[attr] = value
        yield
    finally:
        for table, attr, old in reversed(saved):
            if old is _MISSING:
                del table[attr]
            else:
                table[attr] = old


_MISSING = object()


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """module(*args, **kwargs) with the tensors of parameter_and_buffer_dicts (a dict of dotted
    names, or a tuple of such dicts) in place of its parameters and buffers, then restored.
    In-place updates inside (BatchNorm's running stats) go to the given tensors."""
    dicts = (parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (tuple, list))
             else (parameter_and_buffer_dicts,))
    values = {}
    for d in dicts:
        repeated = [k for k in d if k in values]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                             f"functional call is ambiguous")
        values.update(d)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, values, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def stack_module_state(models):
    """(params, buffers): each parameter's (and buffer's) values across models, stacked along
    a new first dim: new leaves (parameters requiring grad) for vmap over an ensemble"""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/"
                           "eval mode.")
    first = type(models[0])
    if not all(type(m) is first for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    params = {name: stack([dict(m.named_parameters())[name].detach() for m in models])
              .requires_grad_(p.requires_grad)
              for name, p in models[0].named_parameters()}
    buffers = {name: stack([dict(m.named_buffers())[name] for m in models])
               for name, _ in models[0].named_buffers()}
    return params, buffers


def replace_all_batch_norm_modules_(root):
    """In place: every batch norm in root (root too) that tracks running statistics stops
    (no running_mean, running_var or num_batches_tracked; it normalises by each batch's), as
    vmap over a model needs. Returns root."""
    from .nn.modules import _BatchNorm
    for module in root.modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            module.running_mean = module.running_var = module.num_batches_tracked = None
            module.track_running_stats = False
    return root
