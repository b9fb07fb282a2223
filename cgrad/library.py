"""cgrad.library: PyTorch's torch.library, for Python custom operators.

    @cgrad.library.custom_op("mylib::numpy_sin", mutates_args=())
    def numpy_sin(x: Tensor) -> Tensor:
        return cgrad.from_numpy(np.sin(x.numpy()))
    numpy_sin.register_autograd(backward, setup_context=setup_context)
    cgrad.ops.mylib.numpy_sin(x)            # the same op, as cgrad.ops.<namespace>.<name>

An operator is an OpOverload (cgrad.ops.mylib.numpy_sin.default) holding its schema and its
kernels by PyTorch's dispatch key. A call walks PyTorch's dispatcher order in Python: a
CompositeImplicitAutograd kernel runs as plain code; otherwise the autograd layer (an
autograd.Function named GeneratedBackwardFor_<ns>_<name>_<overload>, when an input requires
grad), then the version bump of the mutated arguments, then the CPU kernel (or the
CompositeExplicitAutograd one, a custom_op's device-less kernel). cgrad has no FakeTensor and
no compiler: a fake ("Meta") kernel is kept, and opcheck runs it on copies of the inputs to
compare its outputs' metadata with the real ones."""
import ast
import collections
import contextlib
import enum
import inspect
import logging
import re
import sys
import typing
import warnings
import weakref
from types import GenericAlias

import numpy as np

from . import _dtype
from ._device import device
from ._dtype import dtype
from .autograd import Function, grad_mode
from .tensor import Tensor

__all__ = ["Library", "define", "impl", "impl_abstract", "register_fake", "register_autograd",
           "register_kernel", "get_ctx", "custom_op", "infer_schema", "opcheck", "CustomOpDef"]

log = logging.getLogger(__name__)


# ---- schemas ----------------------------------------------------------------------------------
class Argument:
    """one argument of a schema: "Tensor(a0!)? x=None" """

    def __init__(self, text, kwarg_only):
        m = re.fullmatch(r"\s*(?P<type>\S.*?)\s+(?P<name>\w+)\s*(?:=\s*(?P<default>.+?))?\s*",
                         text)
        if m is None:
            raise RuntimeError(f"expected an argument (type and name) but found '{text.strip()}'")
        self.type, self.name, self.kwarg_only = m["type"], m["name"], kwarg_only
        self.has_default = m["default"] is not None
        self.default = _default_value(m["default"]) if self.has_default else None
        self.is_write = "!)" in self.type           # Tensor(a!): the op mutates it
        self.is_tensor = self.type.startswith("Tensor")
        self.is_tensor_list = self.is_tensor and "[]" in self.type


def _default_value(text):
    """a schema default ("None", "2.", '"hi"', "float32", "[1, 2]") as a Python value"""
    if text in ("None", "True", "False"):
        return {"None": None, "True": True, "False": False}[text]
    if hasattr(_dtype, text) and isinstance(getattr(_dtype, text), dtype):
        return getattr(_dtype, text)
    try:
        return ast.literal_eval(text + "0" if re.fullmatch(r"-?\d+\.", text) else text)
    except (ValueError, SyntaxError):
        return text                          # an enum's name (Mean, contiguous_format)


def _split_top_level(text):
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([" and 1 or (ch in ")]" and -1 or 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:])
    return parts


_IDENT = re.compile(r"[A-Za-z_]\w*")


def _expect_ident(text, where, follows):
    """PyTorch's schema parser's errors for a name that is not an identifier (follows: the
    character after the name in where)"""
    if not text or not (text[0].isalpha() or text[0] == "_"):
        found = "number" if text[:1].isdigit() else (text[:1] or follows)
        raise RuntimeError(f"expected ident but found '{found}' here:\n{where}\n")
    m = _IDENT.match(text)
    if m.end() != len(text):
        raise RuntimeError(f"expected eof but found '{text[m.end()]}' here:\n{where}\n")


class FunctionSchema:
    """a parsed schema: "name.overload(Tensor x, *, float a=1.) -> Tensor" (name optional)"""

    def __init__(self, text):
        self.text = text
        head, sep, rest = text.partition("(")
        if not sep:
            raise RuntimeError(f"expected '(' in the schema but found none here:\n{text}\n")
        self.name, _, self.overload_name = head.strip().partition(".")
        depth, end = 1, None
        for i, ch in enumerate(rest):              # the ")" closing the arguments
            depth += (ch == "(") - (ch == ")")
            if depth == 0:
                end = i
                break
        args_text, returns = rest[:end or 0], rest[end + 1:] if end is not None else ""
        arrow, _, ret = returns.partition("->")
        if end is None or arrow.strip() or not _:
            raise RuntimeError(f"expected '->' after the arguments here:\n{text}\n")
        self.arguments, kwarg_only = [], False
        for part in _split_top_level(args_text):
            if part.strip() == "*":
                kwarg_only = True
                continue
            self.arguments.append(Argument(part, kwarg_only))
        self.returns_text = ret.strip()
        inner = self.returns_text
        if inner.startswith("(") and inner.endswith(")"):
            inner = inner[1:-1]
        self.returns = [r.strip() for r in _split_top_level(inner)]
        self.returns_tuple = self.returns_text.startswith("(")

    def __str__(self):
        return getattr(self, "qualified", self.text)

    @property
    def signature(self):
        """"(Tensor x, float a=2.) -> Tensor": PyTorch prints a whole float default as "2." """
        return re.sub(r"=(-?\d+)\.0\b", r"=\1.", self.text[self.text.index("("):])

    @property
    def is_mutable(self):
        return any(a.is_write for a in self.arguments)

    def is_view(self):
        return any("(" in r and "!" not in r.split(")")[0] for r in self.returns)


def _normalized_qualname(qualname, api):
    if "::" not in qualname:
        raise ValueError(f"{api}: expected qualname to be of the form 'namespace::name' but got "
                         f"{qualname}")
    return qualname


# ---- the registry: cgrad.ops.<namespace>.<name>.<overload> -------------------------------------
_NAMESPACES = {}          # "mylib" -> _OpNamespace
_PENDING_FAKES = {}       # "mylib::foo" -> a fake registered before the op was defined


def _entry(obj, table, key, missing):
    """obj's table[key], for a __getattr__: else an AttributeError saying `missing` (a dunder
    name is never an entry)"""
    found = None if key.startswith("__") else obj.__dict__[table].get(key)
    if found is None:
        raise AttributeError(key if key.startswith("__") else missing)
    return found


class _OpNamespace:
    """cgrad.ops.mylib: the packets of the ops defined in namespace mylib"""

    def __init__(self, name):
        self.name, self._packets = name, {}

    def __getattr__(self, op_name):
        return _entry(self, "_packets", op_name, f"'_OpNamespace' '{self.name}' object has no "
                                                 f"attribute '{op_name}'")

    def __dir__(self):
        return sorted(self._packets)

    def __repr__(self):
        return f"<module 'cgrad.ops.{self.name}' from 'cgrad.ops'>"


def namespace(name):
    """cgrad.ops.<name> (made when first asked for, as in PyTorch)"""
    ns = _NAMESPACES.get(name)
    if ns is None:
        ns = _NAMESPACES[name] = _OpNamespace(name)
    return ns


class Tag(enum.Enum):
    """torch.Tag: what an operator is or does (pointwise, inplace, pt2_compliant_tag...), as
    an op's definition declares it; cgrad keeps an op's tags (OpOverload.tags), and they change
    nothing in how it runs"""
    core = 0
    cudagraph_unsafe = 1
    data_dependent_output = 2
    dynamic_output_shape = 3
    flexible_layout = 4
    generated = 5
    inplace = 6
    inplace_view = 7
    maybe_aliasing_or_mutating = 8
    needs_contiguous_strides = 9
    needs_exact_strides = 10
    needs_fixed_stride_order = 11
    nondeterministic_bitwise = 12
    nondeterministic_seeded = 13
    out = 14
    out_variant = 15
    pointwise = 16
    pt2_compliant_tag = 17
    reduction = 18
    view_copy = 19

    def __int__(self):
        return self.value

    __index__ = __int__


Tag.__module__ = "cgrad"


def _tags(tags):
    """a define's tags as a list: a Tag, or a sequence of them"""
    if isinstance(tags, Tag):
        return [tags]
    if isinstance(tags, (str, bytes)) or not all(isinstance(t, Tag) for t in tags):
        raise TypeError(f"define(): tags must be a cgrad.Tag or a sequence of them, got "
                        f"{tags!r}")
    return list(tags)


class OpOverloadPacket:
    """cgrad.ops.mylib.foo: the overloads of one op name; calling it calls the one that fits"""

    def __init__(self, ns, name):
        self._ns, self.__name__, self._overloads = ns, name, {}

    @property
    def _qualified_op_name(self):
        return f"{self._ns}::{self.__name__}"

    def __getattr__(self, overload):
        return _entry(self, "_overloads", overload, f"The underlying op of '{self._ns}."
                                                    f"{self.__name__}' has no overload name "
                                                    f"'{overload}'")

    def overloads(self):
        return list(self._overloads)

    def __call__(self, *args, **kwargs):
        ops = list(self._overloads.values())
        for op in ops[:-1]:                  # the first overload whose schema takes the call
            try:
                op._bind(args, kwargs)
            except RuntimeError:
                continue
            return op(*args, **kwargs)
        return ops[-1](*args, **kwargs)

    def __str__(self):
        return f"{self._ns}.{self.__name__}"

    def __repr__(self):
        return f"<OpOverloadPacket(op='{self._ns}.{self.__name__}')>"


_DEVICE_KEYS = {"cpu": "CPU", "cuda": "CUDA", "xpu": "XPU", "mps": "MPS", "meta": "Meta",
                "xla": "XLA", "hpu": "HPU", "mtia": "MTIA", "ipu": "IPU"}


def _dispatch_key_for_device(device_type):
    return _DEVICE_KEYS.get(device_type, device_type.upper())


class _Metadata:
    """the last argument of the generated autograd.Function: the keyword-only arguments, and
    the tensor lists' lengths (their tensors travel flat, so each can need a gradient)"""

    def __init__(self, kwargs, spec):
        self.kwargs, self.spec = kwargs, spec


def _flatten(args, schema):
    """the positional arguments with each Tensor[] spread out, and their lengths (None for
    the other arguments)"""
    flat, spec = [], []
    for a, arg in zip(args, schema.arguments):
        if arg.is_tensor_list and isinstance(a, (list, tuple)):
            flat.extend(a)
            spec.append(len(a))
        else:
            flat.append(a)
            spec.append(None)
    return flat, spec


def _unflatten(flat, spec):
    out, i = [], 0
    for n in spec:
        if n is None:
            out.append(flat[i])
            i += 1
        else:
            out.append(list(flat[i:i + n]))
            i += n
    return out


def _tensors_in(value):
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors_in(v)]
    return []


class OpOverload:
    """cgrad.ops.mylib.foo.default: one schema and its kernels, called as PyTorch's dispatcher
    would (see the module's docstring)"""

    def __init__(self, ns, schema, packet):
        self._schema, self.overloadpacket = schema, packet
        self._namespace, self._opname = ns, schema.name
        self._overloadname = schema.overload_name or "default"
        self._kernels = {}                      # dispatch key -> kernel
        self._fake = _PENDING_FAKES.pop(self._qualname, None)
        self._has_autograd = False              # a custom_op's, or register_autograd's
        self._backward_fn = self._setup_context_fn = None
        self._custom = None                     # the CustomOpDef, for a custom_op
        self.tags = []                          # (define's)
        self._generated = None
        schema.qualified = self.schema_text

    @property
    def _qualname(self):
        return f"{self._namespace}::{self._opname}"

    def name(self):
        overload = self._schema.overload_name
        return self._qualname + (f".{overload}" if overload else "")

    def __str__(self):
        return f"{self._namespace}.{self._opname}.{self._overloadname}"

    def __repr__(self):
        return (f"<OpOverload(op='{self._namespace}.{self._opname}', "
                f"overload='{self._overloadname}')>")

    @property
    def schema_text(self):
        """the schema with its qualified name: "mylib::foo(Tensor x) -> Tensor" """
        return self.name() + self._schema.signature

    # -- calling ----------------------------------------------------------------------------
    def _bind(self, args, kwargs):
        """(positional arguments, keyword-only arguments), defaults filled in, as the
        dispatcher hands them to a kernel; PyTorch's errors for a call that does not fit"""
        schema, positional, keyword = self._schema, [], {}
        n_positional = sum(not a.kwarg_only for a in schema.arguments)
        if len(args) > n_positional:
            raise RuntimeError(f"{self.name()}() takes {n_positional} positional argument(s) "
                               f"but {len(args)} was/were given.  Declaration: "
                               f"{self.schema_text}")
        known = {a.name for a in schema.arguments}
        for name in kwargs:
            if name not in known:
                raise RuntimeError(f"Unknown keyword argument '{name}' for operator "
                                   f"'{self.name()}'. Schema: {self.schema_text}")
        for i, arg in enumerate(schema.arguments):
            if not arg.kwarg_only and i < len(args):
                if arg.name in kwargs:
                    raise RuntimeError(f"Argument '{arg.name}' specified both as positional and "
                                       f"keyword argument. Schema: {self.schema_text}")
                value = args[i]
            elif arg.name in kwargs:
                value = kwargs[arg.name]
            elif arg.has_default:
                value = arg.default
            else:
                raise RuntimeError(f"{self.name()}() is missing value for argument "
                                   f"'{arg.name}'. Declaration: {self.schema_text}")
            if arg.kwarg_only:
                keyword[arg.name] = value
            else:
                positional.append(value)
        return positional, keyword

    def __call__(self, *args, **kwargs):
        implicit = self._kernels.get("CompositeImplicitAutograd")
        if implicit is not None:             # plain code: its own ops record the graph
            return implicit(*args, **kwargs)
        user_autograd = self._kernels.get("Autograd") or self._kernels.get("AutogradCPU")
        if user_autograd is not None:
            return user_autograd(*args, **kwargs)
        args, kwargs = self._bind(args, kwargs)
        if self._has_autograd and grad_mode.is_grad_enabled() and any(
                t.requires_grad for t in _tensors_in(args)):
            flat, spec = _flatten(args, self._schema)
            result = self._autograd_function().apply(*flat, _Metadata(kwargs, spec))
            if self._schema.returns == ["Tensor[]"] and isinstance(result, tuple):
                result = list(result)
            return result
        # without register_autograd on a Library op: the kernel's own ops record (PyTorch's
        # autograd fallback; it warns at backward, cgrad does not)
        return self._below_autograd(args, kwargs)

    def _below_autograd(self, args, kwargs):
        for arg, value in zip(self._schema.arguments, args):
            if arg.is_write:                     # ADInplaceOrView: the mutation is seen
                for t in _tensors_in(value):
                    t._version_counter.value += 1
        for arg in self._schema.arguments:
            if arg.is_write and arg.kwarg_only:
                for t in _tensors_in(kwargs.get(arg.name)):
                    t._version_counter.value += 1
        kernel = self._kernels.get("CPU") or self._kernels.get("CompositeExplicitAutograd")
        if kernel is None:
            raise NotImplementedError(
                f"Could not run '{self._qualname}' with arguments from the 'CPU' backend. This "
                "could be because the operator doesn't exist for this backend, or was omitted "
                "during the selective/custom build process (if using custom build). "
                f"'{self._qualname}' is only available for these backends: "
                f"[{', '.join(sorted(self._kernels))}].")
        return kernel(*args, **kwargs)

    def _autograd_function(self):
        if self._generated is None:
            self._generated = _make_autograd_function(self)
        return self._generated


def _make_autograd_function(op):
    """PyTorch's make_autograd_impl: an autograd.Function whose forward runs the op below
    autograd and the registered setup_context, and whose backward is the registered one"""
    has_kwarg_only = any(a.kwarg_only for a in op._schema.arguments)

    def forward(ctx, *args):
        metadata = args[-1]
        args = tuple(_unflatten(args[:-1], metadata.spec))
        result = op._below_autograd(args, metadata.kwargs)
        if op._setup_context_fn:
            if has_kwarg_only:
                op._setup_context_fn(ctx=ctx, inputs=args,
                                     keyword_only_inputs=metadata.kwargs, output=result)
            else:
                op._setup_context_fn(ctx=ctx, inputs=args, output=result)
        ctx._pt_spec = metadata.spec
        return tuple(result) if isinstance(result, list) else result

    def backward(ctx, *grads):
        if op._backward_fn is None:
            raise RuntimeError(f"Trying to backward through {op} but no autograd formula was "
                               "registered. Please use register_autograd to add one.")
        spec = ctx._pt_spec
        previous = ctx.needs_input_grad
        try:
            ctx.needs_input_grad = tuple(_unflatten(previous[:-1], spec))
            if op._schema.returns == ["Tensor[]"]:
                grads = (list(grads),)
            result = op._backward_fn(ctx, *grads)
        finally:
            ctx.needs_input_grad = previous
        result = result if isinstance(result, tuple) else (result,)
        if len(result) == len(spec):         # tensor lists' gradients as lists: spread out
            flat = []
            for n, g in zip(spec, result):
                flat.extend([None] * n if n is not None and g is None else
                            (g if n is not None else [g]))
            result = tuple(flat)
        return (*result, None)

    name = f"GeneratedBackwardFor_{op._namespace}_{op._opname}_{op._overloadname}"
    return type(name, (Function,), {"forward": staticmethod(forward),
                                    "backward": staticmethod(backward)})


def _lookup(qualname):
    """the OpOverload of "ns::name" or "ns::name.overload", or None"""
    ns, _, rest = qualname.partition("::")
    name, _, overload = rest.partition(".")
    packet = _NAMESPACES.get(ns) and _NAMESPACES[ns]._packets.get(name)
    if packet is None:
        return None
    return packet._overloads.get(overload or "default")


def _as_op(op, api):
    """the OpOverload meant by a qualname, a packet, an OpOverload or a CustomOpDef"""
    if isinstance(op, CustomOpDef):
        return op._opoverload
    if isinstance(op, OpOverloadPacket):
        return op._overloads.get("default") or next(iter(op._overloads.values()))
    if isinstance(op, OpOverload):
        return op
    if isinstance(op, str):
        found = _lookup(_normalized_qualname(op, api))
        if found is None:
            raise ValueError(f"{api}: could not find the operator {op}; please define it "
                             "first (torch.library.define or custom_op)")
        return found
    raise TypeError(f"{api}(op): expected op to be a string, OpOverload or CustomOpDef, "
                    f"got {type(op)}")


# ---- Library: the older registration API ------------------------------------------------------
_DEF_LIBRARIES = {}               # namespace -> weakref to the live Library(kind="DEF")


def _caller_location():
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else "<unknown>"


def _forget(qualnames, ns, kind):
    """a Library's ops and kernels go when it does, as in PyTorch"""
    for qualname, overload in qualnames:
        packet = _NAMESPACES.get(ns) and _NAMESPACES[ns]._packets.get(qualname)
        if packet is not None:
            packet._overloads.pop(overload, None)
            if not packet._overloads:
                del _NAMESPACES[ns]._packets[qualname]
    if kind == "DEF":
        _DEF_LIBRARIES.pop(ns, None)


class Library:
    """torch.library.Library(ns, kind): "DEF" defines the namespace's ops (once per
    namespace), "FRAGMENT" adds to it, "IMPL" registers kernels for ops defined elsewhere"""

    def __init__(self, ns, kind, dispatch_key=""):
        if kind not in ("IMPL", "DEF", "FRAGMENT"):
            raise ValueError(f"Unsupported kind: {kind}")
        if kind == "DEF":
            previous = _DEF_LIBRARIES.get(ns)
            if previous is not None and previous() is not None:
                raise RuntimeError(
                    f"Only a single TORCH_LIBRARY can be used to register the namespace {ns}; "
                    "please put all of your definitions in a single TORCH_LIBRARY block.  If "
                    "you were trying to specify implementations, consider using "
                    "TORCH_LIBRARY_IMPL (which can be duplicated).  If you really intended to "
                    "define operators for a single namespace in a distributed way, you can use "
                    "TORCH_LIBRARY_FRAGMENT to explicitly indicate this.  Previous registration "
                    f"of TORCH_LIBRARY was registered at {previous()._location}; latest "
                    f"registration was registered at {_caller_location()}")
            _DEF_LIBRARIES[ns] = weakref.ref(self)
        self.ns, self.kind, self.dispatch_key = ns, kind, dispatch_key
        self._location = _caller_location()
        self._op_defs = []                       # (name, overload) this library defined
        self._finalizer = weakref.finalize(self, _forget, self._op_defs, ns, kind)

    def __repr__(self):
        return f"Library(kind={self.kind}, ns={self.ns}, dispatch_key={self.dispatch_key})>"

    def define(self, schema, alias_analysis="", *, tags=()):
        """defines the op of "name(Tensor x) -> Tensor" in this namespace; returns its name"""
        if alias_analysis not in ("", "FROM_SCHEMA", "CONSERVATIVE"):
            raise RuntimeError(f"Invalid alias_analysis type {alias_analysis}")
        tags = _tags(tags)
        parsed = FunctionSchema(schema)
        _expect_ident(parsed.name, schema, "(")
        packet = namespace(self.ns)._packets.get(parsed.name)
        overload = parsed.overload_name or "default"
        if packet is not None and overload in packet._overloads:
            old = packet._overloads[overload]
            raise RuntimeError(
                f"Tried to register an operator ({self.ns}::{schema}) with the same name and "
                "overload name multiple times. Each overload's schema should only be "
                "registered with a single call to def(). Duplicate registration: registered "
                f"at {_caller_location()}. Original registration: registered at "
                f"{old._location}")
        if packet is None:
            packet = namespace(self.ns)._packets[parsed.name] = OpOverloadPacket(self.ns,
                                                                                 parsed.name)
        op = packet._overloads[overload] = OpOverload(self.ns, parsed, packet)
        op._location, op.tags = _caller_location(), tags
        self._op_defs.append((parsed.name, overload))
        return parsed.name

    def impl(self, op_name, fn, dispatch_key="", *, with_keyset=False, allow_override=False):
        """registers fn as op_name's kernel for dispatch_key ("CPU", "Meta",
        "CompositeImplicitAutograd" (the default), "Autograd", ...)"""
        if with_keyset:
            raise NotImplementedError("cgrad.library: with_keyset=True needs PyTorch's "
                                      "dispatch key sets, which cgrad does not have")
        if isinstance(op_name, OpOverload):
            op = op_name
        else:
            op = _lookup(f"{self.ns}::{op_name}")
            if op is None:
                raise RuntimeError(f"Could not find schema for {self.ns}::{op_name}")
        key = dispatch_key or self.dispatch_key or "CompositeImplicitAutograd"
        if key == "Meta":
            op._fake = fn
            return
        if key in op._kernels and not allow_override:
            warnings.warn(
                "Warning only once for all operators,  other operators may also be "
                "overridden.\n  Overriding a previously registered kernel for the same operator "
                f"and the same dispatch key\n  operator: {op.schema_text}\n  dispatch key: {key}",
                UserWarning, stacklevel=2)
        op._kernels[key] = fn

    def _destroy(self):
        self._finalizer()


_KEPT_LIBRARIES = []              # the FRAGMENT libraries of module-level define and custom_op


def _fragment(ns):
    lib = Library(ns, "FRAGMENT")
    _KEPT_LIBRARIES.append(lib)
    return lib


def define(qualname, schema, *, lib=None, tags=()):
    """torch.library.define("mylib::foo", "(Tensor x) -> Tensor")"""
    if not isinstance(qualname, str):
        raise ValueError(f"define(qualname, schema): expected qualname to be instance of str, "
                         f"got {type(qualname)}")
    ns, name = qualname.split("::")
    lib = lib or _fragment(ns)
    lib.define(name + schema, tags=tags)


def _device_or_key(t):
    return _dispatch_key_for_device(t) if t in _DEVICE_KEYS or t.islower() else t


def impl(qualname, types, func=None, *, lib=None):
    """torch.library.impl("mylib::foo", "cpu")(fn): a kernel for device types or dispatch
    keys; a decorator without func"""
    if isinstance(types, str):
        types = (types,)
    keys = [_device_or_key(t) for t in types]

    def register(func):
        op = _as_op(qualname, "impl")
        for key in keys:
            (lib or _fragment(op._namespace)).impl(op, func, key)
        return func

    return register if func is None else register(func)


def register_fake(op, func=None, /, *, lib=None, _stacklevel=1, allow_override=True):
    """the op's fake (shape-only) implementation; a decorator without func"""
    def register(func):
        if isinstance(op, CustomOpDef):
            return op.register_fake(func)
        if isinstance(op, str):
            target = _lookup(_normalized_qualname(op, "register_fake"))
            if target is None:                 # PyTorch accepts it before the definition
                _PENDING_FAKES[op] = func
                return func
        else:
            target = _as_op(op, "register_fake")
        if target._custom is not None:
            return target._custom.register_fake(func)
        target._fake = func
        return func

    return register if func is None else register(func)


def impl_abstract(qualname, func=None, *, lib=None, _stacklevel=1):
    """register_fake's old name (deprecated, as in PyTorch)"""
    warnings.warn("`torch.library.impl_abstract` was renamed to `torch.library.register_fake`. "
                  "Please use that instead; we will remove `torch.library.impl_abstract` in a "
                  "future version of PyTorch.", FutureWarning, stacklevel=2)
    return register_fake(qualname, func, lib=lib, _stacklevel=_stacklevel + 1)


def register_autograd(op, backward, /, *, setup_context=None, lib=None):
    """the op's backward formula (and setup_context, which saves what it needs)"""
    target = _as_op(op, "register_autograd")
    if target._custom is not None:
        return target._custom.register_autograd(backward, setup_context=setup_context)
    _check_functional(target, f"operator {target}")
    target._backward_fn, target._setup_context_fn = backward, setup_context
    target._has_autograd = True


def register_kernel(op, device_types, func=None, /, *, lib=None):
    """the op's kernel for device types ("cpu", ...); a decorator without func"""
    target = _as_op(op, "register_kernel")
    if target._custom is not None:
        return target._custom.register_kernel(device_types, func)
    if device_types is None:
        device_types = "CompositeExplicitAutograd"
    return impl(target, device_types, func, lib=lib)


def _check_functional(op, what):
    if op._schema.is_mutable or op._schema.is_view():
        raise RuntimeError(f"Cannot register autograd formula for non-functional {what} with "
                           f"schema {op.schema_text}. Please create a functional operator and "
                           "register an autograd formula for that.")


# ---- custom_op --------------------------------------------------------------------------------
class CustomOpDef:
    """what custom_op returns: callable as the function, with register_fake,
    register_autograd, register_kernel and set_kernel_enabled"""

    def __init__(self, namespace, name, schema, fn, tags=None):
        self._namespace, self._name, self._schema = namespace, name, schema
        self._init_fn = fn
        self._backend_fns = {}
        self._disabled_kernel = set()
        self._abstract_fn = None
        self._lib = _fragment(namespace)
        op_name = name.partition(".")[0]
        packet = _NAMESPACES.get(namespace) and _NAMESPACES[namespace]._packets.get(op_name)
        if packet is not None:                 # redefined: the new definition replaces it
            packet._overloads.pop(name.partition(".")[2] or "default", None)
        # (PyTorch's custom ops are pt2-compliant: that tag first, then the given ones)
        tags = [Tag.pt2_compliant_tag] + [t for t in _tags(() if tags is None else tags)
                                          if t is not Tag.pt2_compliant_tag]
        self._lib.define(name + schema, tags=tags)
        self._opoverload = _lookup(self._qualname)
        self._opoverload._custom = self
        self._opoverload._has_autograd = True
        if any(a.kwarg_only and a.is_tensor for a in self._opoverload._schema.arguments):
            raise NotImplementedError("custom_op with kwarg-only Tensor args. Please make your "
                                      "tensors not kwarg-only. Got: " + name + schema)

    @property
    def _qualname(self):
        return f"{self._namespace}::{self._name}"

    def __repr__(self):
        return f"<CustomOpDef({self._qualname})>"

    def __call__(self, *args, **kwargs):
        return self._opoverload(*args, **kwargs)

    @contextlib.contextmanager
    def set_kernel_enabled(self, device_type, enabled=True):
        """within the block, the device_type kernel is off (the function custom_op wrapped
        runs instead), or back on"""
        action = "enable" if enabled else "disable"
        originally_disabled = device_type in self._disabled_kernel
        if device_type not in self._backend_fns:
            log.warning("Attempted to %s kernel for %s but no kernel was registered for this "
                        "device type.", action, device_type)
        if not enabled:
            if originally_disabled:
                log.warning("Attempted to disable kernel for %s but it was already disabled.",
                            device_type)
            self._disabled_kernel.add(device_type)
        else:
            if not originally_disabled:
                log.warning("Attempted to enable kernel for  %s but it was already enabled.",
                            device_type)
            self._disabled_kernel.discard(device_type)
        try:
            yield
        finally:
            if originally_disabled:
                self._disabled_kernel.add(device_type)
            else:
                self._disabled_kernel.discard(device_type)

    def register_kernel(self, device_types, fn=None, /):
        """fn as the kernel for device_types ("cpu", "cuda", ...; None: every device)"""
        op = self._opoverload

        def inner(fn):
            types = [device_types] if device_types is None or isinstance(device_types, str) \
                else list(device_types)
            for device_type in types:
                if device_type not in self._backend_fns:
                    key = ("CompositeExplicitAutograd" if device_type is None
                           else _dispatch_key_for_device(device_type))
                    op._kernels[key] = self._checked_kernel(device_type)
                self._backend_fns[device_type] = fn
            return fn

        if device_types is not None and not any(a.is_tensor for a in op._schema.arguments):
            if not any(a.type.startswith("Device") for a in op._schema.arguments):
                raise ValueError("Functions without tensor inputs are required to have a "
                                 "`device: cgrad.device` argument")
        return inner if fn is None else inner(fn)

    def _checked_kernel(self, device_type):
        """the kernel the dispatcher calls: the registered function (or the wrapped one, if
        disabled), then PyTorch's check that no output aliases an input or another output"""
        def backend_impl(*args, **kwargs):
            fn = (self._init_fn if device_type in self._disabled_kernel
                  else self._backend_fns[device_type])
            result = fn(*args, **kwargs)
            if not self._opoverload._schema.is_view():
                _check_aliasing(self._name, args, kwargs, result)
            return result
        return backend_impl

    def register_fake(self, fn, /):
        """fn computes the outputs' metadata (shapes, dtypes, strides) without the data"""
        self._abstract_fn = fn
        self._opoverload._fake = fn
        return fn

    def register_autograd(self, backward, /, *, setup_context=None):
        """backward(ctx, *grads) gives the inputs' gradients; setup_context(ctx, inputs,
        output) (with keyword_only_inputs for keyword-only arguments) saves what it needs"""
        _check_functional(self._opoverload, f"operator {self}")
        self._opoverload._backward_fn = backward
        self._opoverload._setup_context_fn = setup_context


def _check_aliasing(name, args, kwargs, result):
    inputs = _tensors_in((args, kwargs))
    outputs = _tensors_in(result)
    for k, out in enumerate(outputs):
        others = inputs + outputs[:k]
        if any(out is t or np.may_share_memory(out._data, t._data) for t in others):
            raise RuntimeError(
                f"{name} (with implementation in {sys.modules[__name__]}): The output of this "
                "custom operator (1) must not also be an input to this custom operator and (2) "
                "may not alias any inputs to this custom operator or other returns. The most "
                "common way to trigger this error is if we have y = custom_op(x) and y and x "
                "are the same Tensor. Please instead return a clone of the offending output "
                "tensor(s) (e.g. return x.clone()) or refactor the custom operator to not "
                "return y.")


def custom_op(name, fn=None, /, *, mutates_args, device_types=None, schema=None, tags=None):
    """turns fn (with type hints) into the operator name ("mylib::foo"); a decorator without
    fn. mutates_args: the names of the arguments it mutates (or "unknown")"""
    def inner(fn):
        schema_str = (infer_schema(fn, mutates_args=mutates_args) if schema is None
                      else schema)
        namespace_, opname = name.split("::")
        _expect_ident(namespace_, name, ":")
        result = CustomOpDef(namespace_, opname, schema_str, fn, tags)
        if schema is not None:
            expected = {a.name for a in result._opoverload._schema.arguments if a.is_write}
            if expected != set(mutates_args):
                raise ValueError(
                    f"Attempted to create a custom op with `mutates_args={mutates_args}` and "
                    f"`schema={schema}. The schema suggests that the op mutates {expected}"
                    "which is different from what was provided to us in `mutates_args`. Please "
                    "make these consistent.")
        result.register_kernel(device_types)(fn)
        return result

    return inner if fn is None else inner(fn)


# ---- infer_schema -----------------------------------------------------------------------------
_Number = int | float | bool         # torch.types.Number


def _derived_types(base, name, list_base, optional_base_list, optional_list_base):
    def seqs(t):
        return (typing.Sequence[t], typing.List[t],  # noqa: UP006
                GenericAlias(collections.abc.Sequence, (t,)), GenericAlias(list, (t,)))
    result = [(base, name), (typing.Optional[base], f"{name}?")]
    if list_base:
        result += [(s, f"{name}[]") for s in seqs(base)]
    if optional_base_list:
        result += [(s, f"{name}?[]") for s in seqs(typing.Optional[base])]
    if optional_list_base:
        result += [(typing.Optional[s], f"{name}[]?") for s in seqs(base)]
    return result


SUPPORTED_PARAM_TYPES = dict(
    pair for line in [(Tensor, "Tensor", True, True, False), (int, "SymInt", True, False, True),
                      (float, "float", True, False, True), (bool, "bool", True, False, True),
                      (str, "str", False, False, False), (_Number, "Scalar", True, False, False),
                      (dtype, "ScalarType", False, False, False),
                      (device, "Device", False, False, False)]
    for pair in _derived_types(*line))

SUPPORTED_RETURN_TYPES = {Tensor: "Tensor", typing.List[Tensor]: "Tensor[]",  # noqa: UP006
                          list[Tensor]: "Tensor[]", int: "SymInt", float: "float",
                          bool: "bool", _Number: "Scalar"}


def _parse_return(annotation, error_fn):
    if annotation is None:
        return "()"
    if annotation is inspect.Parameter.empty:
        error_fn("No return type annotation was provided. Please add one.")
    if typing.get_origin(annotation) is not tuple:
        if annotation not in SUPPORTED_RETURN_TYPES:
            error_fn(f"Return has unsupported type {annotation}. "
                     f"The valid types are: {SUPPORTED_RETURN_TYPES}.")
        return SUPPORTED_RETURN_TYPES[annotation]
    args = typing.get_args(annotation)
    for arg in args:
        if arg not in SUPPORTED_RETURN_TYPES:
            error_fn(f"Return has unsupported type {annotation}. "
                     f"The valid types are: {SUPPORTED_RETURN_TYPES}.")
    output_ty = ", ".join(SUPPORTED_RETURN_TYPES[arg] for arg in args)
    return "((" + output_ty + "))" if len(args) == 1 else "(" + output_ty + ")"


def _tuple_to_list(tuple_type):
    type_args = typing.get_args(tuple_type)
    if tuple_type in (typing.Tuple, tuple) or not type_args:  # noqa: UP006
        return list
    if len(type_args) == 1 or (len(type_args) == 2 and type_args[1] is Ellipsis):
        return list[type_args[0]]
    return list[typing.Union[tuple(type_args)]]  # noqa: UP007


def infer_schema(prototype_function, /, *, mutates_args, op_name=None, tags=()):
    """PyTorch's schema string from the function's type hints:
    infer_schema(f, mutates_args=()) == "(Tensor x, SymInt[] dims) -> Tensor" """
    sig = inspect.signature(prototype_function)
    pf_globals = getattr(prototype_function, "__globals__", {})
    if type(mutates_args) is not str:
        mutates_args = tuple(mutates_args)

    def error_fn(what):
        raise ValueError(f"infer_schema(func): {what} Got func with signature {sig})")

    def unstringify(ty):
        if isinstance(ty, str):
            try:
                return eval(ty, pf_globals)   # noqa: S307  (the annotation's own text)
            except Exception as e:          # noqa: BLE001
                error_fn(f"Unsupported type annotation {ty}. It is not a type. "
                         f"({type(e).__name__}: {e})")
        return ty

    params, seen_args, saw_kwarg_only = [], set(), False
    for idx, (name, param) in enumerate(sig.parameters.items()):
        if param.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              inspect.Parameter.KEYWORD_ONLY):
            error_fn("We do not support positional-only args, varargs, or varkwargs.")
        if param.kind == inspect.Parameter.KEYWORD_ONLY and not saw_kwarg_only:
            params.append("*")
            saw_kwarg_only = True
        if param.annotation is inspect.Parameter.empty:
            error_fn(f"Parameter {name} must have a type annotation.")
        annotation = unstringify(param.annotation)
        if annotation not in SUPPORTED_PARAM_TYPES:
            if getattr(annotation, "__origin__", None) is tuple:
                list_type = _tuple_to_list(annotation)
                example = (f"For example, {list_type}.\n\n" if list_type in
                           SUPPORTED_PARAM_TYPES else "\n\n")
                error_fn(f"Parameter {name} has unsupported type {param.annotation}. We do not "
                         "support Tuple inputs in schema. As a workaround, please try to use "
                         f"List instead. {example}The valid types are: "
                         f"{SUPPORTED_PARAM_TYPES.keys()}.")
            error_fn(f"Parameter {name} has unsupported type {param.annotation}. "
                     f"The valid types are: {SUPPORTED_PARAM_TYPES.keys()}.")
        schema_type = SUPPORTED_PARAM_TYPES[annotation]
        if type(mutates_args) is str:
            if mutates_args != "unknown":
                raise ValueError("mutates_args must either be a sequence of the names of the "
                                 "arguments that are mutated or the string 'unknown'. ")
            if schema_type.startswith("Tensor"):
                schema_type = f"Tensor(a{idx}!){schema_type[len('Tensor'):]}"
        elif name in mutates_args:
            if not schema_type.startswith("Tensor"):
                error_fn(f"Parameter {name} is in mutable_args but only Tensors or collections "
                         "of Tensors can be mutated")
            schema_type = f"Tensor(a{idx}!){schema_type[len('Tensor'):]}"
        seen_args.add(name)
        if param.default is inspect.Parameter.empty:
            params.append(f"{schema_type} {name}")
            continue
        default = param.default
        if default is None or isinstance(default, (int, float, bool)):
            default_repr = str(default)
        elif isinstance(default, (str, device)):
            default_repr = f'"{default}"'
        elif isinstance(default, dtype):
            default_repr = str(default).rpartition(".")[2]
        else:
            error_fn(f"Parameter {name} has an unsupported default value type {type(default)}. "
                     "Please file an issue on GitHub so we can prioritize this.")
        params.append(f"{schema_type} {name}={default_repr}")
    if mutates_args != "unknown":
        not_seen = set(mutates_args) - seen_args
        if not_seen:
            error_fn(f"{not_seen} in mutates_args were not found in the custom op's signature. "
                     "mutates_args should contain the names of all args that the custom op "
                     "mutates, or just the string 'unknown' if you don't know.")
    ret = _parse_return(unstringify(sig.return_annotation), error_fn)
    if op_name is not None:
        return f"{op_name}({', '.join(params)}) -> {ret}"
    return f"({', '.join(params)}) -> {ret}"


# ---- fake implementations: get_ctx --------------------------------------------------------------
class FakeImplCtx:
    """what get_ctx() returns inside a fake implementation"""

    def __init__(self):
        self.dynamic = False

    def new_dynamic_size(self, *, min=0, max=None):  # noqa: A002  (PyTorch's names)
        """a size the data decides (an int standing for it here; opcheck then compares the
        outputs' ranks and dtypes only)"""
        if min < 0 or (max is not None and max < min):
            raise ValueError(f"ctx.new_dynamic_size(min={min}, max={max}): expected min to be "
                             "greater than or equal to 0 and max to be None or greater than or "
                             "equal to min")
        self.dynamic = True
        return min

    create_unbacked_symint = new_dynamic_size


_fake_ctx = [FakeImplCtx()]


def get_ctx():
    """the context of the running fake implementation (ctx.new_dynamic_size())"""
    return _fake_ctx[0]


# ---- opcheck ----------------------------------------------------------------------------------
class OpCheckError(Exception):
    pass


class MetadataMismatchError(RuntimeError):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _copy_inputs(value):
    """deep copies of the tensors (requires_grad kept), the rest as is"""
    if isinstance(value, Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_inputs(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy_inputs(v) for k, v in value.items()}
    return value


def _schema_check(op, args, kwargs, rtol, atol):
    """the schema's promises: no argument it does not list as mutable is mutated"""
    args, kwargs = _copy_inputs((args, kwargs))
    bound, kw = op._bind(args, kwargs)
    before = [[t.detach().clone() for t in _tensors_in(v)] for v in bound]
    op(*args, **kwargs)
    for arg, value, old in zip(op._schema.arguments, bound, before):
        changed = any(not np.array_equal(t._data, o._data, equal_nan=True)
                      for t, o in zip(_tensors_in(value), old))
        if changed and not arg.is_write:
            raise RuntimeError(f"Argument {arg.name} is not defined as mutable but was mutated")


def _autograd_registration_check(op, args, kwargs, rtol, atol):
    """an op whose inputs require grad has an autograd formula at an autograd key"""
    args, kwargs = _copy_inputs((args, kwargs))
    inputs = _tensors_in((args, kwargs))
    if not any(t.requires_grad for t in inputs):
        return
    if op._has_autograd or any(k in op._kernels for k in ("Autograd", "AutogradCPU",
                                                           "CompositeImplicitAutograd")):
        return
    outs = op(*args, **kwargs)
    if any(t.requires_grad and not any(t is i for i in inputs) for t in _tensors_in(outs)):
        raise AssertionError(
            f"{op.name()}: at least one output of this operator has requires_grad=True but the "
            "operator does not have an autograd kernel defined at an autograd key (e.g. "
            "DispatchKey::Autograd). This could mean that you have incorrectly registered an "
            "autograd kernel to a non-Autograd DispatchKey, which may lead to silently "
            "incorrect results. If your operator consists of regular PyTorch operations, "
            "consider not using an operator at all or registering your operator as "
            "CompositeImplicitAutograd. If you have an autograd.Function registered to a "
            "backend (CPU/CUDA/XPU) key, the correct location for it is the Autograd key.")


def _significant_strides_differ(real, fake):
    for idx, (size, a, b) in enumerate(zip(real.shape, real.stride(), fake.stride())):
        if size > 1 and a != b:
            return idx
    return None


def _fake_of(op):
    """the op's fake implementation; None where none is needed (or PyTorch makes a trivial
    one); raises PyTorch's error where one is missing"""
    if "CompositeImplicitAutograd" in op._kernels:
        return None
    if op._fake is None:
        if op._custom is not None and op._schema.returns_text == "()":
            return None
        if op._custom is not None:
            raise RuntimeError(
                f"There was no fake impl registered for {op._custom}. This is necessary for "
                "cgrad.compile/export/fx tracing to work. Please use "
                f"`{op._custom._init_fn.__name__}.register_fake` to add an fake impl.")
        raise RuntimeError(f"{op.name()}: no fake (Meta) implementation is registered "
                           "(cgrad's UnsupportedOperatorException)")
    return op._fake


def _fake_check(op, args, kwargs, rtol, atol):
    """the fake implementation gives the outputs' shapes, dtypes and strides"""
    fake = _fake_of(op)
    if fake is None:
        return
    args, kwargs = _copy_inputs((args, kwargs))
    fargs, fkwargs = op._bind(*_copy_inputs((args, kwargs)))
    ctx = _fake_ctx[0] = FakeImplCtx()
    try:
        with grad_mode.no_grad():
            fake_r = fake(*fargs, **fkwargs)
    finally:
        _fake_ctx[0] = FakeImplCtx()
    r = op(*args, **kwargs)
    context = f"When comparing the output of {op} on FakeTensor and concrete Tensors, found"
    r_flat = [r] if isinstance(r, Tensor) or r is None else list(r)
    f_flat = [fake_r] if isinstance(fake_r, Tensor) or fake_r is None else list(fake_r)
    if fake_r is None:
        return
    if len(f_flat) != len(r_flat):
        raise AssertionError(f"{context} mismatch in number of returns {len(f_flat)} != "
                             f"{len(r_flat)}")
    for idx, (real, fk) in enumerate(zip(r_flat, f_flat)):
        if isinstance(real, Tensor) != isinstance(fk, Tensor):
            raise AssertionError(f"{context} mismatched number of tensor outputs")
        if not isinstance(real, Tensor):
            continue
        if ctx.dynamic:                          # sizes the data decides: ranks only
            problem = (None if real.dim() == fk.dim() else
                       f"Shapes {real.shape} and {fk.shape} are not equal!")
        elif real.shape != fk.shape:
            problem = f"Shapes {real.shape} and {fk.shape} are not equal!"
        elif real.dtype != fk.dtype:
            problem = f"Dtypes {real.dtype} and {fk.dtype} are not equal!"
        elif _significant_strides_differ(real, fk) is not None:
            problem = (f"Stride mismatch! Strides are {real.stride()} and {fk.stride()} "
                       f"(mismatched at {_significant_strides_differ(real, fk)})!")
        else:
            problem = None
        if problem is not None:
            where = "" if len(r_flat) == 1 else f" for output[{idx}]"
            raise MetadataMismatchError(f"{context} mismatched tensor metadata{where}: "
                                        f"{problem}")


def _aot_dispatch_check(op, args, kwargs, rtol, atol):
    """what compiling the op needs (its fake implementation) and, where outputs require
    grad, a backward through it that gives gradients"""
    args, kwargs = _copy_inputs((args, kwargs))        # eager first: a missing backward shows
    inputs = [t for t in _tensors_in((args, kwargs)) if t.requires_grad]
    outs = [t for t in _tensors_in(op(*[a.clone() if isinstance(a, Tensor) else a
                                        for a in args], **kwargs)) if t.requires_grad]
    if inputs and outs:
        from .autograd import grad
        grad(outs, inputs, [o.detach().clone().fill_(1) for o in outs], allow_unused=True)
    _fake_of(op)


ALL_TEST_UTILS = {"test_schema": _schema_check,
                  "test_autograd_registration": _autograd_registration_check,
                  "test_faketensor": _fake_check,
                  "test_aot_dispatch_static": _aot_dispatch_check,
                  "test_aot_dispatch_dynamic": _aot_dispatch_check}
_OPCHECK_DEFAULT_UTILS = ("test_schema", "test_autograd_registration", "test_faketensor",
                          "test_aot_dispatch_dynamic")


def opcheck(op, args, kwargs=None, *, test_utils=_OPCHECK_DEFAULT_UTILS, raise_exception=True,
            atol=None, rtol=None):
    """checks a custom op's registrations on sample arguments: its schema (mutations), its
    autograd registration, its fake implementation, and a backward through it. Returns
    {test name: "SUCCESS" or the exception}; raises the first failure if raise_exception"""
    if (rtol is None) ^ (atol is None):
        raise ValueError("opcheck(op, ...): if you specify one of rtol/atol, you must specify "
                         "both")
    kwargs = {} if kwargs is None else kwargs
    if isinstance(op, CustomOpDef):
        op = op._opoverload
    if isinstance(op, OpOverloadPacket):
        if len(op._overloads) != 1:
            raise ValueError(f"opcheck(op, ...): op has {len(op._overloads)} overloads; please "
                             f"pass one of them (e.g. {op}.default)")
        op = next(iter(op._overloads.values()))
    if not isinstance(op, OpOverload):
        raise ValueError("opcheck(op, ...): op must be instance of cgrad.library.OpOverload, "
                         f"e.g. cgrad.ops.mylib.foo.default, got {type(op)}")
    if test_utils == "ALL":
        test_utils = tuple(ALL_TEST_UTILS)
    if isinstance(test_utils, str):
        test_utils = (test_utils,)
    if not isinstance(test_utils, (tuple, list)) or not set(test_utils) <= set(ALL_TEST_UTILS):
        raise ValueError(f"opcheck(op, ..., test_utils={test_utils}), expected test_utils to "
                         f"be subset of {tuple(ALL_TEST_UTILS)} but it was not")
    results = {}
    for name in test_utils:
        try:
            ALL_TEST_UTILS[name](op, args, kwargs, rtol, atol)
            results[name] = "SUCCESS"
        except Exception as ex:                 # noqa: BLE001  (reported, as PyTorch does)
            if raise_exception:
                raise OpCheckError(f"opcheck(op, ...): {name} failed with {ex} (scroll up for "
                                   "stack trace)") from ex
            results[name] = ex
    return results
