"""PyTorch's intermediate and advanced tutorials, condensed, run on cgrad and on torch.

Each tutorial is a function of the `torch` module and a `log` (the tutorial's prints), written
as the tutorial writes it: every torch call it makes, with its datasets, torchvision and gym
replaced by small synthetic NumPy data of the same shapes. Weights and data come from NumPy,
so that cgrad and torch print the same numbers; the test runs each one on both libraries and
compares the printed lines, numbers within a tolerance and everything else exactly.
"""
import collections
import copy
import functools
import importlib
import math
import os
import random
import re
import string
import tempfile
import warnings

import numpy as np
import pytest

import cgrad


class Log:
    """The tutorial's print: keeps the lines"""
    def __init__(self):
        self.lines = []

    def __call__(self, *args, sep=" "):
        self.lines.extend(sep.join(str(a) for a in args).splitlines() or [""])


def numpy_randn(torch, rng, *shape, dtype=None):
    """torch.randn's stand-in, from a NumPy generator"""
    dtype = dtype or torch.float32
    array = rng.standard_normal(shape).astype(np.float64 if dtype == torch.float64 else np.float32)
    return torch.tensor(array, dtype=dtype)


def numpy_rand(torch, rng, *shape, dtype=None):
    """torch.rand's stand-in, from a NumPy generator"""
    dtype = dtype or torch.float32
    array = rng.random(shape).astype(np.float64 if dtype == torch.float64 else np.float32)
    return torch.tensor(array, dtype=dtype)


def numpy_init(torch, module, seed):
    """Every parameter uniform in +-1/sqrt(fan_in), as nn.Linear and nn.Conv2d draw them"""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _, p in module.named_parameters():
            fan_in = p[0].numel() if p.dim() > 1 else p.numel()
            bound = 1 / math.sqrt(fan_in)
            dtype = np.float64 if p.dtype == torch.float64 else np.float32
            p.copy_(torch.tensor(rng.uniform(-bound, bound, tuple(p.shape)).astype(dtype)))
    return module


# ---- torch.func: Jacobians, Hessians, hvp, vhp ----------------------------------------------
def jacobians_hessians(torch, log):
    F = torch.nn.functional
    from functools import partial
    jacrev, jacfwd, hessian = torch.func.jacrev, torch.func.jacfwd, torch.func.hessian
    vmap, vjp, jvp, grad = torch.func.vmap, torch.func.vjp, torch.func.jvp, torch.func.grad
    rng = np.random.default_rng(0)

    def predict(weight, bias, x):
        return F.linear(x, weight, bias).tanh()

    D = 16
    weight = numpy_randn(torch, rng, D, D)
    bias = numpy_randn(torch, rng, D)
    x = numpy_randn(torch, rng, D)

    def compute_jac(xp):
        jacobian_rows = [torch.autograd.grad(predict(weight, bias, xp), xp, vec)[0]
                         for vec in unit_vectors]
        return torch.stack(jacobian_rows)

    xp = x.clone().requires_grad_()
    unit_vectors = torch.eye(D)
    jacobian = compute_jac(xp)
    log(jacobian.shape)
    log(jacobian[0])

    _, vjp_fn = vjp(partial(predict, weight, bias), x)
    ft_jacobian, = vmap(vjp_fn)(unit_vectors)
    log(torch.allclose(ft_jacobian, jacobian))

    ft_jacobian = jacrev(predict, argnums=2)(weight, bias, x)
    log(torch.allclose(ft_jacobian, jacobian))

    ft_jac_weight, ft_jac_bias = jacrev(predict, argnums=(0, 1))(weight, bias, x)
    log(ft_jac_weight.shape, ft_jac_bias.shape)
    # the tutorial's reference: jacrev on one argument at a time
    ref_weight = jacrev(lambda w: predict(w, bias, x))(weight)
    ref_bias = jacrev(lambda b: predict(weight, b, x))(bias)
    log(torch.allclose(ft_jac_weight, ref_weight), torch.allclose(ft_jac_bias, ref_bias))

    Din, Dout = 32, 48
    weight = numpy_randn(torch, rng, Dout, Din)
    bias = numpy_randn(torch, rng, Dout)
    x = numpy_randn(torch, rng, Din)
    log(weight.shape)
    using_fwd = jacfwd(predict, argnums=2)(weight, bias, x)
    using_bwd = jacrev(predict, argnums=2)(weight, bias, x)
    log(torch.allclose(using_fwd, using_bwd, atol=1e-6), using_fwd.shape)

    Din, Dout = 24, 8
    weight = numpy_randn(torch, rng, Dout, Din)
    bias = numpy_randn(torch, rng, Dout)
    x = numpy_randn(torch, rng, Din)
    hess_api = hessian(predict, argnums=2)(weight, bias, x)
    hess_fwdfwd = jacfwd(jacfwd(predict, argnums=2), argnums=2)(weight, bias, x)
    hess_revrev = jacrev(jacrev(predict, argnums=2), argnums=2)(weight, bias, x)
    log(hess_api.shape, torch.allclose(hess_api, hess_fwdfwd, atol=1e-6),
        torch.allclose(hess_api, hess_revrev, atol=1e-6))
    log(hess_api[0, :2, :3])

    batch_size, Din, Dout = 6, 7, 5
    weight = numpy_randn(torch, rng, Dout, Din)
    log(f"weight shape = {weight.shape}")
    bias = numpy_randn(torch, rng, Dout)
    x = numpy_randn(torch, rng, batch_size, Din)
    compute_batch_jacobian = vmap(jacrev(predict, argnums=2), in_dims=(None, None, 0))
    batch_jacobian0 = compute_batch_jacobian(weight, bias, x)

    def predict_with_output_summed(weight, bias, x):
        return predict(weight, bias, x).sum(0)

    batch_jacobian1 = jacrev(predict_with_output_summed, argnums=2)(weight, bias, x).movedim(1, 0)
    log(batch_jacobian0.shape, torch.allclose(batch_jacobian0, batch_jacobian1))
    compute_batch_jacobian = jacrev(predict_with_output_summed, argnums=2)
    log(compute_batch_jacobian(weight, bias, x).shape)

    compute_batch_hessian = vmap(hessian(predict, argnums=2), in_dims=(None, None, 0))
    batch_hess = compute_batch_hessian(weight, bias, x)
    log(batch_hess.shape)
    log(batch_hess[1, 2, :2, :3])

    def hvp(f, primals, tangents):
        return jvp(grad(f), primals, tangents)[1]

    def f(x):
        return x.sin().sum()

    x = numpy_randn(torch, rng, 64)
    tangent = numpy_randn(torch, rng, 64)
    result = hvp(f, (x,), (tangent,))
    log(result[:4])

    def hvp_revrev(f, primals, tangents):
        _, vjp_fn = vjp(grad(f), *primals)
        return vjp_fn(*tangents)

    result_hvp_revrev = hvp_revrev(f, (x,), (tangent,))
    log(type(result_hvp_revrev).__name__, torch.allclose(result, result_hvp_revrev[0]))

    def vhp(f, primals, tangents):            # vector-Hessian product: vjp of grad
        return torch.autograd.functional.vhp(f, primals, tangents)

    value, v = vhp(f, x, tangent)
    log(value, torch.allclose(v, result))


# ---- torch.func: per-sample gradients -------------------------------------------------------
def per_sample_grads(torch, log):
    nn, F = torch.nn, torch.nn.functional
    from_func = torch.func

    class SimpleCNN(nn.Module):
        def __init__(self):
            super(SimpleCNN, self).__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, 1)
            self.conv2 = nn.Conv2d(8, 16, 3, 1)
            self.fc1 = nn.Linear(16 * 4 * 4, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    def loss_fn(predictions, targets):
        return F.nll_loss(predictions, targets)

    rng = np.random.default_rng(1)
    batch_size = 6
    data = numpy_randn(torch, rng, batch_size, 1, 12, 12)
    targets = torch.tensor(rng.integers(0, 10, batch_size))
    model = numpy_init(torch, SimpleCNN(), 2)
    predictions = model(data)
    loss = loss_fn(predictions, targets)
    log(loss)

    def compute_grad(sample, target):
        sample = sample.unsqueeze(0)
        target = target.unsqueeze(0)
        prediction = model(sample)
        loss = loss_fn(prediction, target)
        return torch.autograd.grad(loss, list(model.parameters()))

    def compute_sample_grads(data, targets):
        sample_grads = [compute_grad(data[i], targets[i]) for i in range(batch_size)]
        sample_grads = zip(*sample_grads)
        sample_grads = [torch.stack(shards) for shards in sample_grads]
        return sample_grads

    per_sample_grads = compute_sample_grads(data, targets)
    log(per_sample_grads[0].shape)
    log(per_sample_grads[-1][:2])

    functional_call, vmap, grad = from_func.functional_call, from_func.vmap, from_func.grad
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def compute_loss(params, buffers, sample, target):
        batch = sample.unsqueeze(0)
        targets = target.unsqueeze(0)
        predictions = functional_call(model, (params, buffers), (batch,))
        loss = loss_fn(predictions, targets)
        return loss

    ft_compute_grad = grad(compute_loss)
    ft_compute_sample_grad = vmap(ft_compute_grad, in_dims=(None, None, 0, 0))
    ft_per_sample_grads = ft_compute_sample_grad(params, buffers, data, targets)
    log(list(ft_per_sample_grads), [tuple(g.shape) for g in ft_per_sample_grads.values()])
    for per_sample_grad, ft_per_sample_grad in zip(per_sample_grads, ft_per_sample_grads.values()):
        log(torch.allclose(per_sample_grad, ft_per_sample_grad, atol=3e-3, rtol=1e-5),
            ft_per_sample_grad.requires_grad, ft_per_sample_grad.grad_fn)


# ---- torch.func: model ensembling -----------------------------------------------------------
def model_ensembling(torch, log):
    nn, F = torch.nn, torch.nn.functional

    class SimpleMLP(nn.Module):
        def __init__(self):
            super(SimpleMLP, self).__init__()
            self.fc1 = nn.Linear(784, 32)
            self.fc2 = nn.Linear(32, 32)
            self.fc3 = nn.Linear(32, 10)

        def forward(self, x):
            x = x.flatten(1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.fc2(x)
            x = F.relu(x)
            x = self.fc3(x)
            return x

    rng = np.random.default_rng(3)
    device = "cpu"
    num_models = 4
    data = numpy_randn(torch, rng, 6, 8, 1, 28, 28)
    targets = torch.tensor(rng.integers(0, 10, 48))
    models = [numpy_init(torch, SimpleMLP(), i).to(device) for i in range(num_models)]
    log(targets.shape, targets.dtype)

    minibatches = data[:num_models]
    predictions_diff_minibatch_loop = [model(minibatch) for model, minibatch in zip(models, minibatches)]
    minibatch = data[0]
    predictions2 = [model(minibatch) for model in models]

    from_func = torch.func
    params, buffers = from_func.stack_module_state(models)
    log(list(params), buffers)
    log(params["fc1.weight"].shape, params["fc1.weight"].requires_grad,
        params["fc1.weight"].is_leaf)

    base_model = copy.deepcopy(models[0])
    base_model = base_model.to("meta")
    log(base_model.fc1.weight.device, base_model.fc1.weight.shape, base_model.fc1.weight.is_meta)

    def fmodel(params, buffers, x):
        return from_func.functional_call(base_model, (params, buffers), (x,))

    log([p.size(0) for p in params.values()])
    log(minibatches.shape == (num_models, 8, 1, 28, 28))
    predictions1_vmap = torch.vmap(fmodel)(params, buffers, minibatches)
    log(predictions1_vmap.shape, predictions1_vmap.grad_fn is not None)
    log(torch.allclose(predictions1_vmap, torch.stack(predictions_diff_minibatch_loop),
                       atol=1e-3, rtol=1e-5))
    predictions2_vmap = torch.vmap(fmodel, in_dims=(0, 0, None))(params, buffers, minibatch)
    log(torch.allclose(predictions2_vmap, torch.stack(predictions2), atol=1e-3, rtol=1e-5))
    log(predictions2_vmap[1, :2])


# ---- torch.func: neural tangent kernels -----------------------------------------------------
def neural_tangent_kernels(torch, log):
    nn = torch.nn
    functional_call, vmap, vjp, jvp, jacrev = (torch.func.functional_call, torch.func.vmap,
                                               torch.func.vjp, torch.func.jvp, torch.func.jacrev)

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, (3, 3))
            self.conv2 = nn.Conv2d(4, 4, (3, 3))
            self.conv3 = nn.Conv2d(4, 4, (3, 3))
            self.fc = nn.Linear(4 * 4 * 4, 3)

        def forward(self, x):
            x = self.conv1(x)
            x = x.relu()
            x = self.conv2(x)
            x = x.relu()
            x = self.conv3(x)
            x = x.flatten(1)
            x = self.fc(x)
            return x

    rng = np.random.default_rng(4)
    x_train = numpy_randn(torch, rng, 4, 3, 10, 10)
    x_test = numpy_randn(torch, rng, 2, 3, 10, 10)
    net = numpy_init(torch, CNN(), 5)
    net.eval()
    params = {k: v.detach() for k, v in net.named_parameters()}

    def fnet_single(params, x):
        return functional_call(net, params, (x.unsqueeze(0),)).squeeze(0)

    def empirical_ntk_jacobian_contraction(fnet_single, params, x1, x2, compute="full"):
        jac1 = vmap(jacrev(fnet_single), (None, 0))(params, x1)
        jac1 = jac1.values()
        jac1 = [j.flatten(2) for j in jac1]
        jac2 = vmap(jacrev(fnet_single), (None, 0))(params, x2)
        jac2 = jac2.values()
        jac2 = [j.flatten(2) for j in jac2]
        einsum_expr = None
        if compute == "full":
            einsum_expr = "Naf,Mbf->NMab"
        elif compute == "trace":
            einsum_expr = "Naf,Maf->NM"
        elif compute == "diagonal":
            einsum_expr = "Naf,Maf->NMa"
        else:
            assert False
        result = torch.stack([torch.einsum(einsum_expr, j1, j2) for j1, j2 in zip(jac1, jac2)])
        result = result.sum(0)
        return result

    result = empirical_ntk_jacobian_contraction(fnet_single, params, x_train, x_test)
    log(result.shape)
    log(result[0, 1])
    result = empirical_ntk_jacobian_contraction(fnet_single, params, x_train, x_test, "trace")
    log(result.shape)
    log(result)
    result = empirical_ntk_jacobian_contraction(fnet_single, params, x_train, x_test, "diagonal")
    log(result.shape)

    def empirical_ntk_ntk_vps(func, params, x1, x2, compute="full"):
        def get_ntk(x1, x2):
            def func_x1(params):
                return func(params, x1)

            def func_x2(params):
                return func(params, x2)

            output, vjp_fn = vjp(func_x1, params)

            def get_ntk_slice(vec):
                vjps = vjp_fn(vec)
                _, jvps = jvp(func_x2, (params,), vjps)
                return jvps

            basis = torch.eye(output.numel(), dtype=output.dtype, device=output.device).view(output.numel(), -1)
            return vmap(get_ntk_slice)(basis)

        result = vmap(vmap(get_ntk, (None, 0)), (0, None))(x1, x2)
        if compute == "full":
            return result
        if compute == "trace":
            return torch.einsum("NMKK->NM", result)
        if compute == "diagonal":
            return torch.einsum("NMKK->NMK", result)

    with torch.backends.cudnn.flags(allow_tf32=False):
        result_from_jacobian_contraction = empirical_ntk_jacobian_contraction(fnet_single, params, x_test, x_train)
        result_from_ntk_vps = empirical_ntk_ntk_vps(fnet_single, params, x_test, x_train)
    log(result_from_ntk_vps.shape)
    log(torch.allclose(result_from_jacobian_contraction, result_from_ntk_vps, atol=1e-5))
    log(torch.allclose(empirical_ntk_ntk_vps(fnet_single, params, x_test, x_train, "trace"),
                       empirical_ntk_jacobian_contraction(fnet_single, params, x_test, x_train,
                                                          "trace"), atol=1e-5))


# ---- forward-mode AD ------------------------------------------------------------------------
def forward_mode_ad(torch, log):
    nn = torch.nn
    fwAD = importlib.import_module(torch.__name__ + ".autograd.forward_ad")
    rng = np.random.default_rng(6)
    primal = numpy_randn(torch, rng, 10, 10)
    tangent = numpy_randn(torch, rng, 10, 10)

    def fn(x, y):
        return x ** 2 + y ** 2

    with fwAD.dual_level():
        dual_input = fwAD.make_dual(primal, tangent)
        log(fwAD.unpack_dual(dual_input).tangent is tangent)
        dual_input_alt = fwAD.make_dual(primal, tangent.T)
        log(fwAD.unpack_dual(dual_input_alt).tangent is not tangent)
        plain_tensor = numpy_randn(torch, rng, 10, 10)
        dual_output = fn(dual_input, plain_tensor)
        jvp = fwAD.unpack_dual(dual_output).tangent
        log(type(fwAD.unpack_dual(dual_output)).__name__, fwAD.unpack_dual(dual_output)._fields)
        log(jvp[0, :4], torch.allclose(jvp, 2 * primal * tangent))
    log(fwAD.unpack_dual(dual_output).tangent is None)

    model = numpy_init(torch, nn.Linear(5, 5), 7)
    input = numpy_randn(torch, rng, 16, 5)
    params = {name: p for name, p in model.named_parameters()}
    tangents = {name: numpy_rand(torch, rng, *p.shape) for name, p in params.items()}
    with fwAD.dual_level():
        for name, p in params.items():
            delattr(model, name)
            setattr(model, name, fwAD.make_dual(p, tangents[name]))
        out = model(input)
        jvp = fwAD.unpack_dual(out).tangent
    log(jvp[0], jvp.shape)

    model = numpy_init(torch, nn.Linear(5, 5), 7)
    dual_params = {}
    with fwAD.dual_level():
        for name, p in params.items():
            dual_params[name] = fwAD.make_dual(p, tangents[name])
        out = torch.func.functional_call(model, dual_params, input)
        jvp2 = fwAD.unpack_dual(out).tangent
    log(torch.allclose(jvp, jvp2))

    class Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, foo):
            result = torch.exp(foo)
            ctx.result = result
            return result

        @staticmethod
        def jvp(ctx, gI):
            gO = gI * ctx.result
            del ctx.result
            return gO

    fn = Fn.apply
    primal = numpy_randn(torch, rng, 10, 10, dtype=torch.double).requires_grad_()
    tangent = numpy_randn(torch, rng, 10, 10)
    with fwAD.dual_level():
        dual_input = fwAD.make_dual(primal, tangent)
        dual_output = fn(dual_input)
        jvp = fwAD.unpack_dual(dual_output).tangent
    log(jvp.dtype, jvp[1, :3], dual_output.grad_fn)
    log(torch.autograd.gradcheck(Fn.apply, (primal,), check_forward_ad=True,
                                 check_backward_ad=False, check_undefined_grad=False,
                                 check_batched_grad=False))

    # the functional API (torch.func.jvp)
    primal0, tangent0, primal1, tangent1 = (numpy_randn(torch, rng, 10, 10) for _ in range(4))
    primal_out, tangent_out = torch.func.jvp(fn_sq := (lambda x, y: x ** 2 + y ** 2),
                                             (primal0, primal1), (tangent0, tangent1))
    log(tangent_out[0, :3], torch.allclose(primal_out, fn_sq(primal0, primal1)))
    new_fn = functools.partial(fn_sq, y=torch.ones(10, 10))
    primal_out, tangent_out = torch.func.jvp(new_fn, (primal0,), (tangent0,))
    log(torch.allclose(tangent_out, 2 * primal0 * tangent0))

    model = numpy_init(torch, nn.Linear(5, 5), 8)
    input = numpy_randn(torch, rng, 16, 5)
    params = dict(model.named_parameters())
    tangents = {name: numpy_rand(torch, rng, *p.shape) for name, p in params.items()}
    buffers = dict(model.named_buffers())

    def func_params_only(params):
        return torch.func.functional_call(model, (params, buffers), (input,))

    model_output, jvp_out = torch.func.jvp(func_params_only, (params,), (tangents,))
    log(model_output.shape, jvp_out[0])


# ---- double backward with custom functions --------------------------------------------------
def double_backward_custom_functions(torch, log):
    rng = np.random.default_rng(9)

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**2

        @staticmethod
        def backward(ctx, grad_out):
            x, = ctx.saved_tensors
            return grad_out * 2 * x

    x = numpy_rand(torch, rng, 3, 3, dtype=torch.double).requires_grad_()
    log(torch.autograd.gradcheck(Square.apply, x))
    log(torch.autograd.gradgradcheck(Square.apply, x))

    x = torch.tensor(1., requires_grad=True).clone()
    out = Square.apply(x)
    grad_x, = torch.autograd.grad(out, x, create_graph=True)
    log(out, grad_x)
    log(type(out.grad_fn).__name__, [type(f).__name__ for f, _ in grad_x.grad_fn.next_functions])

    class Exp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            result = torch.exp(x)
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad_out):
            result, = ctx.saved_tensors
            return result * grad_out

    x = torch.tensor(1., requires_grad=True, dtype=torch.double).clone()
    log(torch.autograd.gradcheck(Exp.apply, x))
    log(torch.autograd.gradgradcheck(Exp.apply, x))
    out = Exp.apply(x)
    grad_x, = torch.autograd.grad(out, x, create_graph=True)
    log(grad_x, torch.autograd.grad(grad_x, x)[0])

    class Sinh(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            expx = torch.exp(x)
            expnegx = torch.exp(-x)
            ctx.save_for_backward(expx, expnegx)
            return (expx - expnegx) / 2, expx, expnegx

        @staticmethod
        def backward(ctx, grad_out, _grad_out_exp, _grad_out_negexp):
            expx, expnegx = ctx.saved_tensors
            grad_input = grad_out * (expx + expnegx) / 2
            grad_input += _grad_out_exp * expx
            grad_input -= _grad_out_negexp * expnegx
            return grad_input

    def sinh(x):
        return Sinh.apply(x)[0]

    x = numpy_rand(torch, rng, 3, 3, dtype=torch.double).requires_grad_()
    log(torch.autograd.gradcheck(sinh, x))
    log(torch.autograd.gradgradcheck(sinh, x))
    out = sinh(x)
    grad_x, = torch.autograd.grad(out.sum(), x, create_graph=True)
    log(grad_x[0], torch.autograd.grad(grad_x.sum(), x)[0][0])

    class SinhBad(torch.autograd.Function):
        # what NOT to do: the intermediates are saved on ctx, outside the graph
        @staticmethod
        def forward(ctx, x):
            expx = torch.exp(x)
            expnegx = torch.exp(-x)
            ctx.expx = expx
            ctx.expnegx = expnegx
            return (expx - expnegx) / 2

        @staticmethod
        def backward(ctx, grad_out):
            expx = ctx.expx
            expnegx = ctx.expnegx
            grad_input = grad_out * (expx + expnegx) / 2
            return grad_input

    x = torch.tensor(0.5, requires_grad=True, dtype=torch.double)
    out = SinhBad.apply(x)
    grad_x, = torch.autograd.grad(out, x, create_graph=True)
    log(grad_x, grad_x.requires_grad)   # the second derivative is silently lost
    try:
        torch.autograd.gradgradcheck(SinhBad.apply, x)
    except Exception as e:
        log(type(e).__name__, str(e).splitlines()[0])

    def cube_forward(x):
        return x**3

    def cube_backward(grad_out, x):
        return grad_out * 3 * x**2

    def cube_backward_backward(grad_out, sav_grad_out, x):
        return grad_out * sav_grad_out * 6 * x

    def cube_backward_backward_grad_out(grad_out, x):
        return grad_out * 3 * x**2

    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return cube_forward(x)

        @staticmethod
        def backward(ctx, grad_out):
            x, = ctx.saved_tensors
            return CubeBackward.apply(grad_out, x)

    class CubeBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, grad_out, x):
            ctx.save_for_backward(x, grad_out)
            return cube_backward(grad_out, x)

        @staticmethod
        def backward(ctx, grad_out):
            x, sav_grad_out = ctx.saved_tensors
            dx = cube_backward_backward(grad_out, sav_grad_out, x)
            dgrad_out = cube_backward_backward_grad_out(grad_out, x)
            return dgrad_out, dx

    x = torch.tensor(2., requires_grad=True, dtype=torch.double)
    log(torch.autograd.gradcheck(Cube.apply, x))
    log(torch.autograd.gradgradcheck(Cube.apply, x))
    out = Cube.apply(x)
    grad_x, = torch.autograd.grad(out, x, create_graph=True)
    log(grad_x, torch.autograd.grad(grad_x, x))


# ---- fusing convolution and batch norm with a custom function -------------------------------
def fuse_conv_bn(torch, log):
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    once_differentiable = importlib.import_module(
        torch.__name__ + ".autograd.function").once_differentiable
    rng = np.random.default_rng(10)

    def convolution_backward(grad_out, X, weight):
        grad_input = F.conv2d(X.transpose(0, 1), grad_out.transpose(0, 1)).transpose(0, 1)
        grad_X = F.conv_transpose2d(grad_out, weight)
        return grad_X, grad_input

    class Conv2D(torch.autograd.Function):
        @staticmethod
        def forward(ctx, X, weight):
            ctx.save_for_backward(X, weight)
            return F.conv2d(X, weight)

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_out):
            X, weight = ctx.saved_tensors
            return convolution_backward(grad_out, X, weight)

    weight = numpy_rand(torch, rng, 5, 3, 3, 3, dtype=torch.double).requires_grad_()
    X = numpy_rand(torch, rng, 10, 3, 7, 7, dtype=torch.double).requires_grad_()
    log(torch.autograd.gradcheck(Conv2D.apply, (X, weight)))
    # the same backward through torch.nn.grad
    out = Conv2D.apply(X, weight)
    g = torch.ones_like(out)
    grad_X = torch.nn.grad.conv2d_input(X.shape, weight, g)
    grad_w = torch.nn.grad.conv2d_weight(X, weight.shape, g)
    gX, gw = torch.autograd.grad(out, (X, weight), g)
    log(torch.allclose(gX, grad_X), torch.allclose(gw, grad_w), out.grad_fn)
    try:
        torch.autograd.grad(torch.autograd.grad(out.sum(), X, create_graph=True)[0].sum(), X)
    except RuntimeError as e:
        log(type(e).__name__, str(e))

    def unsqueeze_all(t):
        return t[None, :, None, None]

    def batch_norm_backward(grad_out, X, sum, sqrt_var, N, eps):
        tmp = ((X - unsqueeze_all(sum) / N) * grad_out).sum(dim=(0, 2, 3))
        tmp *= -1
        d_denom = tmp / (sqrt_var + eps)**2
        d_var = d_denom / (2 * sqrt_var)
        d_mean_dx = grad_out / unsqueeze_all(sqrt_var + eps)
        d_mean_dx = unsqueeze_all(-d_mean_dx.sum(dim=(0, 2, 3)) / N)
        grad_input = X * unsqueeze_all(d_var * N)
        grad_input += unsqueeze_all(-d_var * sum)
        grad_input *= 2 / ((N - 1) * N)
        grad_input += d_mean_dx
        grad_input *= unsqueeze_all(sqrt_var + eps)
        grad_input += grad_out
        grad_input /= unsqueeze_all(sqrt_var + eps)
        return grad_input

    class BatchNorm(torch.autograd.Function):
        @staticmethod
        def forward(ctx, X, eps=1e-3):
            sum = X.sum(dim=(0, 2, 3))
            var = X.var(unbiased=True, dim=(0, 2, 3))
            N = X.numel() / X.size(1)
            sqrt_var = torch.sqrt(var)
            ctx.save_for_backward(X)
            ctx.eps = eps
            ctx.sum = sum
            ctx.N = N
            ctx.sqrt_var = sqrt_var
            mean = sum / N
            denom = sqrt_var + eps
            out = X - unsqueeze_all(mean)
            out /= unsqueeze_all(denom)
            return out

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_out):
            X, = ctx.saved_tensors
            return batch_norm_backward(grad_out, X, ctx.sum, ctx.sqrt_var, ctx.N, ctx.eps)

    a = numpy_rand(torch, rng, 1, 2, 3, 4, dtype=torch.double).requires_grad_()
    log(torch.autograd.gradcheck(BatchNorm.apply, (a,), fast_mode=False))

    class FusedConvBN2DFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, X, conv_weight, eps=1e-3):
            assert X.ndim == 4
            ctx.save_for_backward(X, conv_weight)
            X = F.conv2d(X, conv_weight)
            sum = X.sum(dim=(0, 2, 3))
            var = X.var(unbiased=True, dim=(0, 2, 3))
            N = X.numel() / X.size(1)
            sqrt_var = torch.sqrt(var)
            ctx.eps = eps
            ctx.sum = sum
            ctx.N = N
            ctx.sqrt_var = sqrt_var
            mean = sum / N
            denom = sqrt_var + eps
            out = X - unsqueeze_all(mean)
            out /= unsqueeze_all(denom)
            return out

        @staticmethod
        def backward(ctx, grad_out):
            X, conv_weight, = ctx.saved_tensors
            X_conv_out = F.conv2d(X, conv_weight)
            grad_out = batch_norm_backward(grad_out, X_conv_out, ctx.sum, ctx.sqrt_var,
                                           ctx.N, ctx.eps)
            grad_X, grad_input = convolution_backward(grad_out, X, conv_weight)
            return grad_X, grad_input, None, None, None, None, None

    weight = numpy_rand(torch, rng, 5, 3, 3, 3, dtype=torch.double).requires_grad_()
    X = numpy_rand(torch, rng, 2, 3, 4, 4, dtype=torch.double).requires_grad_()
    log(torch.autograd.gradcheck(FusedConvBN2DFunction.apply, (X, weight)))

    class FusedConvBN(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, exp_avg_factor=0.1,
                     eps=1e-3, device=None, dtype=None):
            super(FusedConvBN, self).__init__()
            factory_kwargs = {'device': device, 'dtype': dtype}
            weight_shape = (out_channels, in_channels, kernel_size, kernel_size)
            self.conv_weight = nn.Parameter(torch.empty(*weight_shape, **factory_kwargs))
            num_features = out_channels
            self.num_features = num_features
            self.eps = eps
            self.reset_parameters()

        def forward(self, X):
            return FusedConvBN2DFunction.apply(X, self.conv_weight, self.eps)

        def reset_parameters(self) -> None:
            nn.init.kaiming_uniform_(self.conv_weight, a=math.sqrt(5))

    class Net(nn.Module):
        def __init__(self, fused=True):
            super(Net, self).__init__()
            self.fused = fused
            if fused:
                self.convbn1 = FusedConvBN(1, 8, 3)
                self.convbn2 = FusedConvBN(8, 8, 3)
            else:
                self.conv1 = nn.Conv2d(1, 8, 3, 1, bias=False)
                self.bn1 = nn.BatchNorm2d(8, affine=False, track_running_stats=False)
                self.conv2 = nn.Conv2d(8, 8, 3, 1, bias=False)
                self.bn2 = nn.BatchNorm2d(8, affine=False, track_running_stats=False)
            self.fc1 = nn.Linear(8 * 4 * 4, 16)
            self.dropout = nn.Dropout(0.5)
            self.fc2 = nn.Linear(16, 10)

        def forward(self, x):
            if self.fused:
                x = self.convbn1(x)
            else:
                x = self.conv1(x)
                x = self.bn1(x)
            F.relu_(x)
            if self.fused:
                x = self.convbn2(x)
            else:
                x = self.conv2(x)
                x = self.bn2(x)
            F.relu_(x)
            x = F.max_pool2d(x, 2)
            F.relu_(x)
            x = x.flatten(1)
            x = self.fc1(x)
            x = self.dropout(x)
            F.relu_(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    data = numpy_randn(torch, rng, 4, 16, 1, 12, 12)
    target = torch.tensor(rng.integers(0, 10, (4, 16)))
    for fused in (True, False):
        model = numpy_init(torch, Net(fused=fused), 11)
        log(model)
        model.eval()                    # the dropout off, so that both print the same numbers
        optimizer = optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
        for epoch in range(1, 3):
            for batch_idx in range(4):
                optimizer.zero_grad()
                output = model(data[batch_idx])
                loss = F.nll_loss(output, target[batch_idx])
                loss.backward()
                optimizer.step()
                log('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                    epoch, batch_idx * 16, 64, 100. * batch_idx / 4, loss.item()))
            scheduler.step()
        log(output.grad_fn, scheduler.get_last_lr())


# ---- extending torch.func with autograd.Function --------------------------------------------
def extending_func(torch, log):
    rng = np.random.default_rng(12)

    def to_numpy(tensor):
        return tensor.cpu().numpy()

    class NumpySort(torch.autograd.Function):
        @staticmethod
        def forward(x, dim):
            device = x.device
            x = to_numpy(x)
            ind = np.argsort(x, axis=dim)
            ind_inv = np.argsort(ind, axis=dim)
            result = np.take_along_axis(x, ind, axis=dim)
            return (
                torch.tensor(result, device=device),
                torch.tensor(ind, device=device),
                torch.tensor(ind_inv, device=device),
            )

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, dim = inputs
            _, ind, ind_inv = output
            ctx.mark_non_differentiable(ind, ind_inv)
            ctx.save_for_backward(ind, ind_inv)
            ctx.dim = dim

        @staticmethod
        def backward(ctx, grad_output, _0, _1):
            ind, ind_inv = ctx.saved_tensors
            return NumpyTake.apply(grad_output, ind_inv, ind, ctx.dim), None

        @staticmethod
        def vmap(info, in_dims, x, dim):
            x_bdim, _ = in_dims
            x = x.movedim(x_bdim, 0)
            dim = dim if dim >= 0 else dim + x.dim() - 1
            return NumpySort.apply(x, dim + 1), (0, 0, 0)

    class NumpyTake(torch.autograd.Function):
        @staticmethod
        def forward(x, ind, ind_inv, dim):
            device = x.device
            x = to_numpy(x)
            ind = to_numpy(ind)
            return torch.tensor(np.take_along_axis(x, ind, dim), device=device)

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, ind, ind_inv, dim = inputs
            ctx.save_for_backward(ind, ind_inv)
            ctx.dim = dim

        @staticmethod
        def backward(ctx, grad_output):
            ind, ind_inv = ctx.saved_tensors
            result = NumpyTake.apply(grad_output, ind_inv, ind, ctx.dim)
            return result, None, None, None

        @staticmethod
        def vmap(info, in_dims, x, ind, ind_inv, dim):
            x_bdim, ind_bdim, ind_inv_bdim, _ = in_dims
            logical_dim = x.dim() if x_bdim is None else x_bdim - 1
            dim = dim if dim >= 0 else dim + logical_dim

            def maybe_expand_bdim_at_front(x, x_bdim):
                if x_bdim is None:
                    return x.expand(info.batch_size, *x.shape)
                return x.movedim(x_bdim, 0)

            x = maybe_expand_bdim_at_front(x, x_bdim)
            ind = maybe_expand_bdim_at_front(ind, ind_bdim)
            ind_inv = maybe_expand_bdim_at_front(ind_inv, ind_inv_bdim)
            return NumpyTake.apply(x, ind, ind_inv, dim + 1), 0

    def numpy_sort(x, dim=-1):
        result, _, _ = NumpySort.apply(x, dim)
        return result

    x = numpy_randn(torch, rng, 2, 3)
    result = numpy_sort(x)
    log(result, torch.allclose(result, torch.sort(x)[0]))
    grad_x = torch.func.grad(lambda x: numpy_sort(x).sum())(x)
    log(torch.allclose(grad_x, torch.ones_like(x)))
    xr = x.clone().requires_grad_()
    y = numpy_sort(xr)
    log(y.grad_fn is not None, NumpySort.apply(xr, -1)[1].requires_grad)
    (y * torch.arange(3.)).sum().backward()
    log(xr.grad)

    x = numpy_randn(torch, rng, 2, 3)
    result = torch.vmap(numpy_sort)(x)
    log(torch.allclose(result, numpy_sort(result, 1)))
    log(torch.vmap(numpy_sort, in_dims=1)(x.T.contiguous()).shape)

    class MyCube(torch.autograd.Function):
        @staticmethod
        def forward(x):
            dx = 3 * x ** 2
            result = x ** 3
            return result, dx

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, = inputs
            result, dx = output
            ctx.save_for_backward(x, dx)

        @staticmethod
        def backward(ctx, grad_output, grad_dx):
            x, dx = ctx.saved_tensors
            result = grad_output * dx + grad_dx * 6 * x
            return result

    def my_cube(x):
        result, dx = MyCube.apply(x)
        return result

    x = numpy_randn(torch, rng)
    ggx = torch.func.grad(torch.func.grad(my_cube))(x)
    log(torch.allclose(ggx, 6 * x), ggx)

    class MyCubeGen(torch.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x):
            result = x ** 3
            dx = 3 * x ** 2
            return result, dx

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, = inputs
            result, dx = output
            ctx.save_for_backward(x, dx)

        @staticmethod
        def backward(ctx, grad_output, grad_dx):
            x, dx = ctx.saved_tensors
            result = grad_output * dx + grad_dx * 6 * x
            return result

    def my_cube(x):
        result, dx = MyCubeGen.apply(x)
        return result

    x = numpy_randn(torch, rng, 3)
    result = torch.vmap(my_cube)(x)
    log(torch.allclose(result, x ** 3))
    log(torch.vmap(torch.func.grad(my_cube))(x))

    class MyExp(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, = inputs
            ctx.save_for_backward(output)
            ctx.save_for_forward(output)

        @staticmethod
        def backward(ctx, grad_output):
            result, = ctx.saved_tensors
            return grad_output * result

        @staticmethod
        def jvp(ctx, x_tangent):
            result, = ctx.saved_tensors
            return x_tangent * result

    x = numpy_randn(torch, rng, 4)
    t = numpy_randn(torch, rng, 4)
    out, tangent = torch.func.jvp(MyExp.apply, (x,), (t,))
    log(out, tangent)
    log(torch.func.jacfwd(MyExp.apply)(x).diagonal(), torch.func.jacrev(MyExp.apply)(x).shape)


TUTORIALS = [jacobians_hessians, per_sample_grads, model_ensembling, neural_tangent_kernels,
             forward_mode_ad, double_backward_custom_functions, fuse_conv_bn, extending_func]


# ---- comparing ------------------------------------------------------------------------------
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf")


def run(tutorial, module):
    log = Log()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tutorial(module, log)
    # cgrad's classes say cgrad where PyTorch's say torch (cgrad.Size, cgrad.float32)
    return [re.sub(r"\bcgrad\.", "torch.", line) for line in log.lines]


def assert_same_lines(got, want, rtol=1e-4, atol=2e-4):
    assert len(got) == len(want), "\n".join(got) + "\n---- torch:\n" + "\n".join(want)
    for g, w in zip(got, want):
        assert NUMBER.sub("#", g) == NUMBER.sub("#", w), f"\ncgrad: {g}\ntorch: {w}"
        for a, b in zip(NUMBER.findall(g), NUMBER.findall(w)):
            if any(c in a + b for c in ".en"):
                assert math.isclose(float(a), float(b), rel_tol=rtol, abs_tol=atol) or a == b, \
                    f"\ncgrad: {g}\ntorch: {w}"
            else:
                assert a == b, f"\ncgrad: {g}\ntorch: {w}"


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda t: t.__name__)
def test_tutorial_prints_what_torch_prints(tutorial, backend):
    torch = pytest.importorskip("torch")
    assert_same_lines(run(tutorial, cgrad), run(tutorial, torch))


if __name__ == "__main__":       # python tests/test_tutorials_advanced.py [name]: side by side
    import sys
    import torch
    for tutorial in TUTORIALS:
        if len(sys.argv) > 1 and tutorial.__name__ not in sys.argv[1:]:
            continue
        print("=" * 20, tutorial.__name__)
        want = run(tutorial, torch)
        try:
            got = run(tutorial, cgrad)
        except Exception:
            import traceback
            traceback.print_exc()
            continue
        for g, w in zip(got, want):
            mark = "  " if NUMBER.sub("#", g) == NUMBER.sub("#", w) else "!!"
            print(f"{mark} C {g}\n   T {w}" if mark == "!!" else f"   {g}")
        if len(got) != len(want):
            print("!! line counts differ", len(got), len(want))
        try:
            assert_same_lines(got, want)
        except AssertionError as e:
            print("!! MISMATCH", e)
