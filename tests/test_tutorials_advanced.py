"""PyTorch's intermediate and advanced tutorials, condensed, run on cgrad and on torch.

Each tutorial is a function of the `torch` module and a `log` (the tutorial's prints), written
as the tutorial writes it: every torch call it makes, with its datasets, torchvision and gym
replaced by small synthetic NumPy data of the same shapes. Weights and data come from NumPy,
so that cgrad and torch print the same numbers; the test runs each one on both libraries and
compares the printed lines, numbers within a tolerance and everything else exactly.
"""
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
from test_grid_sample import _stn_net

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
    # (PyTorch's tangent here requires grad: its formula for addmm multiplies a zero tangent
    # by the weight; cgrad's tangents require grad where they depend on such a tensor)
    log(jvp[0].detach(), jvp.shape)

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
    log(model_output.shape, jvp_out[0].detach(), model_output.requires_grad)


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

    class MyCubeGen(MyCube):        # the tutorial's MyCube again, with:
        generate_vmap_rule = True

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
    log(torch.func.jacrev(MyExp.apply)(x).diagonal())
    try:                        # jacfwd vmaps over MyExp, which has no vmap rule
        torch.func.jacfwd(MyExp.apply)(x)
    except RuntimeError as e:
        log(type(e).__name__, e)
    MyExp.generate_vmap_rule = True
    log(torch.func.jacfwd(MyExp.apply)(x).diagonal())
    try:
        torch.vmap(numpy_sort_no_rule := lambda x: NumpySort.apply(x, -1)[0])(x[None])
        NumpySort.vmap = torch.autograd.Function.vmap
        torch.vmap(numpy_sort_no_rule)(x[None])
    except RuntimeError as e:
        log(type(e).__name__, e)


# ---- parametrizations -----------------------------------------------------------------------
def parametrizations(torch, log):
    nn = torch.nn
    parametrize = importlib.import_module(torch.__name__ + ".nn.utils.parametrize")
    rng = np.random.default_rng(13)

    def symmetric(X):
        return X.triu() + X.triu(1).transpose(-1, -2)

    X = numpy_rand(torch, rng, 3, 3)
    A = symmetric(X)
    log(torch.allclose(A, A.T))
    log(A)

    class LinearSymmetric(nn.Module):
        def __init__(self, n_features):
            super().__init__()
            self.weight = nn.Parameter(numpy_rand(torch, rng, n_features, n_features))

        def forward(self, x):
            A = symmetric(self.weight)
            return x @ A

    layer = LinearSymmetric(3)
    out = layer(numpy_rand(torch, rng, 8, 3))
    log(out.shape, out.grad_fn)

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    layer = numpy_init(torch, nn.Linear(3, 3), 14)
    parametrize.register_parametrization(layer, "weight", Symmetric())
    A = layer.weight
    log(torch.allclose(A, A.T))
    log(A)

    class Skew(nn.Module):
        def forward(self, X):
            A = X.triu(1)
            return A - A.transpose(-1, -2)

    cnn = numpy_init(torch, nn.Conv2d(in_channels=5, out_channels=8, kernel_size=3), 15)
    parametrize.register_parametrization(cnn, "weight", Skew())
    log(cnn.weight[0, 1])
    log(cnn.weight[2, 2])

    layer = numpy_init(torch, nn.Linear(3, 3), 16)
    log(f"Unparametrized:\n{layer}")
    parametrize.register_parametrization(layer, "weight", Symmetric())
    log(f"\nParametrized:\n{layer}")
    log(layer.parametrizations)
    log(layer.parametrizations.weight)
    log(layer.parametrizations.weight[0])
    log(dict(layer.named_parameters()))
    log(layer.parametrizations.weight.original)
    symmetric = Symmetric()
    weight_orig = layer.parametrizations.weight.original
    log(torch.dist(layer.weight, symmetric(weight_orig)))
    log(parametrize.is_parametrized(layer), parametrize.is_parametrized(layer, "bias"),
        type(layer).__name__, [k for k, _ in layer.named_modules()])
    log(list(layer.state_dict()))

    class NoisyParametrization(nn.Module):
        def forward(self, X):
            log("Computing the Parametrization")
            return X

    layer = nn.Linear(4, 4)
    parametrize.register_parametrization(layer, "weight", NoisyParametrization())
    log("Here, layer.weight is recomputed every time we call it")
    foo = layer.weight + layer.weight.T
    bar = layer.weight.sum()
    with parametrize.cached():
        log("Here, it is computed just the first time layer.weight is called")
        foo = layer.weight + layer.weight.T
        bar = layer.weight.sum()
    log(foo.shape, bar.grad_fn)

    class CayleyMap(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.register_buffer("Id", torch.eye(n))

        def forward(self, X):
            return torch.linalg.solve(self.Id - X, self.Id + X)

    layer = numpy_init(torch, nn.Linear(3, 3), 17)
    parametrize.register_parametrization(layer, "weight", Skew())
    parametrize.register_parametrization(layer, "weight", CayleyMap(3))
    X = layer.weight
    log(torch.dist(X.T @ X, torch.eye(3)) < 1e-5)
    log(layer.parametrizations.weight)

    class MatrixExponential(nn.Module):
        def forward(self, X):
            return torch.matrix_exp(X)

    layer_orthogonal = numpy_init(torch, nn.Linear(3, 3), 18)
    parametrize.register_parametrization(layer_orthogonal, "weight", Skew())
    parametrize.register_parametrization(layer_orthogonal, "weight", MatrixExponential())
    X = layer_orthogonal.weight
    log(torch.dist(X.T @ X, torch.eye(3)) < 1e-5, X)

    layer_spd = numpy_init(torch, nn.Linear(3, 3), 19)
    parametrize.register_parametrization(layer_spd, "weight", Symmetric())
    parametrize.register_parametrization(layer_spd, "weight", MatrixExponential())
    X = layer_spd.weight
    log(torch.dist(X, X.T))
    log((torch.linalg.eigvalsh(X) > 0.).all())

    class Skew(nn.Module):
        def forward(self, X):
            A = X.triu(1)
            return A - A.transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu(1)

    layer = nn.Linear(3, 3)
    parametrize.register_parametrization(layer, "weight", Skew())
    X = numpy_rand(torch, rng, 3, 3)
    X = X - X.T
    layer.weight = X
    log(torch.dist(layer.weight, X))
    log(layer.parametrizations.weight.original)

    class CayleyMap(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.register_buffer("Id", torch.eye(n))

        def forward(self, X):
            return torch.linalg.solve(self.Id - X, self.Id + X)

        def right_inverse(self, A):
            return torch.linalg.solve(A + self.Id, self.Id - A)

    layer_orthogonal = nn.Linear(3, 3)
    parametrize.register_parametrization(layer_orthogonal, "weight", Skew())
    parametrize.register_parametrization(layer_orthogonal, "weight", CayleyMap(3))
    X = torch.tensor(np.linalg.qr(rng.standard_normal((3, 3)))[0].astype(np.float32))
    if X.det() < 0.:
        X[0].neg_()
    layer_orthogonal.weight = X
    log(torch.dist(layer_orthogonal.weight, X) < 1e-5)

    class PruningParametrization(nn.Module):
        def __init__(self, X, p_drop=0.2):
            super().__init__()
            mask = torch.full_like(X, 1.0 - p_drop)
            self.mask = torch.bernoulli(mask)
            self.mask = torch.tensor(rng.random(tuple(X.shape)) < 1 - p_drop).float()

        def forward(self, X):
            return X * self.mask

        def right_inverse(self, A):
            return A

    layer = nn.Linear(3, 4)
    X = numpy_rand(torch, rng, *layer.weight.shape)
    log(f"Initialization matrix:\n{X}")
    parametrize.register_parametrization(layer, "weight", PruningParametrization(layer.weight))
    layer.weight = X
    log(f"\nInitialized weight:\n{layer.weight}")

    for leave_parametrized in (True, False):
        layer = numpy_init(torch, nn.Linear(3, 3), 20)
        log("Before:")
        log(layer)
        log(layer.weight)
        parametrize.register_parametrization(layer, "weight", Skew())
        log("\nParametrized:")
        log(layer)
        log(layer.weight)
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=leave_parametrized)
        log("\nAfter:")
        log(layer)
        log(layer.weight)

    # torch.nn.utils.parametrizations: orthogonal and spectral_norm on the same layer
    P = importlib.import_module(torch.__name__ + ".nn.utils.parametrizations")
    layer = P.orthogonal(numpy_init(torch, nn.Linear(4, 3), 21))
    Q = layer.weight
    log(type(layer.parametrizations.weight[0]).__name__, Q.shape,
        torch.dist(Q @ Q.T, torch.eye(3)) < 1e-5)


# ---- pruning --------------------------------------------------------------------------------
def pruning(torch, log):
    nn, F = torch.nn, torch.nn.functional
    prune = importlib.import_module(torch.__name__ + ".nn.utils.prune")
    device = "cpu"

    class LeNet(nn.Module):
        def __init__(self):
            super(LeNet, self).__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(-1, int(x.nelement() / x.shape[0]))
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    def hooks(module):      # the hook ids are process-wide counters: their order is compared
        return list(module._forward_pre_hooks.values())

    model = numpy_init(torch, LeNet().to(device=device), 22)
    module = model.conv1
    log(list(module.named_parameters())[1])
    log(list(module.named_buffers()))
    prune.random_unstructured(module, name="weight", amount=0.3)
    log([name for name, _ in module.named_parameters()])
    log([(name, b.shape, b.dtype, int(b.sum())) for name, b in module.named_buffers()])
    log(module.weight.shape, module.weight.grad_fn, int((module.weight == 0).sum()))
    log([type(h).__name__ for h in hooks(module)])
    prune.l1_unstructured(module, name="bias", amount=3)
    log([name for name, _ in module.named_parameters()])
    log(list(module.named_buffers())[1])
    log(module.bias)
    log([type(h).__name__ for h in hooks(module)])

    prune.ln_structured(module, name="weight", amount=0.5, n=2, dim=0)
    log(int((module.weight == 0).all(dim=(1, 2, 3)).sum()), int((module.weight == 0).sum()) >= 75)
    for hook in hooks(module):
        if hook._tensor_name == "weight":
            break
    log([type(h).__name__ for h in hook], type(hook).__name__)
    log(model.state_dict().keys())

    prune.remove(module, "weight")
    log([name for name, _ in module.named_parameters()])
    log([name for name, _ in module.named_buffers()])
    log(type(module.weight).__name__, module.weight.requires_grad)

    new_model = numpy_init(torch, LeNet(), 23)
    for name, module in new_model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            prune.l1_unstructured(module, name="weight", amount=0.2)
        elif isinstance(module, torch.nn.Linear):
            prune.l1_unstructured(module, name="weight", amount=0.4)
    log(dict(new_model.named_buffers()).keys())
    log(new_model.fc3.weight[0, :6])

    model = numpy_init(torch, LeNet(), 24)
    parameters_to_prune = (
        (model.conv1, "weight"),
        (model.conv2, "weight"),
        (model.fc1, "weight"),
        (model.fc2, "weight"),
        (model.fc3, "weight"),
    )
    prune.global_unstructured(parameters_to_prune, pruning_method=prune.L1Unstructured, amount=0.2)
    for name in ("conv1", "conv2", "fc1", "fc2", "fc3"):
        w = getattr(model, name).weight
        log("Sparsity in {}.weight: {:.2f}%".format(
            name, 100. * float(torch.sum(w == 0)) / float(w.nelement())))
    log("Global sparsity: {:.2f}%".format(
        100. * float(torch.sum(model.conv1.weight == 0) + torch.sum(model.conv2.weight == 0)
                     + torch.sum(model.fc1.weight == 0) + torch.sum(model.fc2.weight == 0)
                     + torch.sum(model.fc3.weight == 0))
        / float(model.conv1.weight.nelement() + model.conv2.weight.nelement()
                + model.fc1.weight.nelement() + model.fc2.weight.nelement()
                + model.fc3.weight.nelement())))
    x = numpy_randn(torch, np.random.default_rng(25), 2, 1, 32, 32)
    out = model(x)
    out.sum().backward()
    log(out, model.fc1.weight_orig.grad[0, :4], model.fc1.weight_orig.grad.eq(0).sum())

    class FooBarPruningMethod(prune.BasePruningMethod):
        """Prune every other entry in a tensor"""
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            mask = default_mask.clone()
            mask.view(-1)[::2] = 0
            return mask

    def foobar_unstructured(module, name):
        FooBarPruningMethod.apply(module, name)
        return module

    model = LeNet()
    foobar_unstructured(model.fc3, name="bias")
    log(model.fc3.bias_mask)
    log(prune.is_pruned(model), prune.is_pruned(LeNet()))


# ---- spatial transformer networks -----------------------------------------------------------
def spatial_transformer(torch, log):
    F, optim = torch.nn.functional, torch.optim
    rng = np.random.default_rng(26)
    device = "cpu"
    torch.manual_seed(0)    # the dropout masks: the same in each run of one library

    model = _stn_net(torch).to(device)      # the tutorial's Net (test_grid_sample.py)
    numpy_init(torch, model, 27)
    model.fc_loc[2].weight.data.zero_()
    model.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))
    log(model)
    # a learnable synthetic "MNIST": the label is the quadrant of a bright blob
    n = 64
    images = rng.standard_normal((n, 1, 28, 28)).astype(np.float32) * 0.1
    labels = rng.integers(0, 4, n)
    for k, c in enumerate(labels):
        r, s = divmod(int(c), 2)
        images[k, 0, 4 + 12 * r:12 + 12 * r, 4 + 12 * s:12 + 12 * s] += 1
    data_all, target_all = torch.tensor(images), torch.tensor(labels)
    batches = [(data_all[i:i + 16], target_all[i:i + 16]) for i in range(0, n, 16)]

    optimizer = optim.SGD(model.parameters(), lr=0.05)

    def train(epoch, losses):
        model.train()
        for batch_idx, (data, target) in enumerate(batches):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    def test():
        with torch.no_grad():
            model.eval()
            test_loss = 0
            correct = 0
            for data, target in batches:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, size_average=False).item()
                pred = output.max(1, keepdim=True)[1]
                correct += pred.eq(target.view_as(pred)).sum().item()
            test_loss /= n
            log('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'
                .format(test_loss, correct, n, 100. * correct / n))
            return test_loss

    first = test()
    with torch.no_grad():
        transformed = model.stn(data_all[:4])
    log(transformed.shape, torch.allclose(transformed, data_all[:4], atol=1e-5))
    theta = torch.tensor([[[0.8, -0.2, 0.1], [0.3, 0.9, -0.1]]]).repeat(2, 1, 1)
    grid = F.affine_grid(theta, (2, 1, 6, 5), align_corners=False)
    log(grid.shape, grid[0, 0])
    sample = F.grid_sample(data_all[:2, :, :6, :5], grid, align_corners=False)
    log(sample[1, 0, :2])
    theta.requires_grad_()
    img = data_all[:2, :, :6, :5].clone().requires_grad_()
    F.grid_sample(img, F.affine_grid(theta, (2, 1, 6, 5)), padding_mode="border").sum().backward()
    log(theta.grad[0], img.grad[0, 0, 0])

    losses = []
    for epoch in range(1, 4):
        train(epoch, losses)
    model.eval()
    with torch.no_grad():
        last = sum(F.nll_loss(model(d), t, reduction="sum").item() for d, t in batches) / n
    log(last < first, sum(losses[-4:]) < sum(losses[:4]))



# ---- sequence models and LSTM: the part-of-speech tagger ------------------------------------
def lstm_tagger(torch, log):
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    rng = np.random.default_rng(28)
    lstm = numpy_init(torch, nn.LSTM(3, 3), 29)
    inputs = [numpy_randn(torch, rng, 1, 3) for _ in range(5)]
    hidden = (numpy_randn(torch, rng, 1, 1, 3), numpy_randn(torch, rng, 1, 1, 3))
    for i in inputs:
        out, hidden = lstm(i.view(1, 1, -1), hidden)
    inputs = torch.cat(inputs).view(len(inputs), 1, -1)
    hidden = (numpy_randn(torch, rng, 1, 1, 3), numpy_randn(torch, rng, 1, 1, 3))
    out, hidden = lstm(inputs, hidden)
    # (out.grad_fn is PyTorch's MkldnnRnnLayerBackward0 where oneDNN runs the LSTM: cgrad's is
    # that of PyTorch without oneDNN, StackBackward0)
    log(out.detach(), out.requires_grad)
    log(hidden)

    def prepare_sequence(seq, to_ix):
        idxs = [to_ix[w] for w in seq]
        return torch.tensor(idxs, dtype=torch.long)

    training_data = [
        ("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
        ("Everybody read that book".split(), ["NN", "V", "DET", "NN"])
    ]
    word_to_ix = {}
    for sent, tags in training_data:
        for word in sent:
            if word not in word_to_ix:
                word_to_ix[word] = len(word_to_ix)
    log(word_to_ix)
    tag_to_ix = {"DET": 0, "NN": 1, "V": 2}
    EMBEDDING_DIM = 6
    HIDDEN_DIM = 6

    class LSTMTagger(nn.Module):
        def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
            super(LSTMTagger, self).__init__()
            self.hidden_dim = hidden_dim
            self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
            self.lstm = nn.LSTM(embedding_dim, hidden_dim)
            self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

        def forward(self, sentence):
            embeds = self.word_embeddings(sentence)
            lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
            tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
            tag_scores = F.log_softmax(tag_space, dim=1)
            return tag_scores

    model = numpy_init(torch, LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix)), 30)
    log(model)
    loss_function = nn.NLLLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with torch.no_grad():
        inputs = prepare_sequence(training_data[0][0], word_to_ix)
        tag_scores = model(inputs)
        log(tag_scores)
    for epoch in range(100):
        for sentence, tags in training_data:
            model.zero_grad()
            sentence_in = prepare_sequence(sentence, word_to_ix)
            targets = prepare_sequence(tags, tag_to_ix)
            tag_scores = model(sentence_in)
            loss = loss_function(tag_scores, targets)
            loss.backward()
            optimizer.step()
        if epoch % 25 == 0:
            log(epoch, loss)
    with torch.no_grad():
        inputs = prepare_sequence(training_data[0][0], word_to_ix)
        tag_scores = model(inputs)
        log(tag_scores)
        log(tag_scores.argmax(1))


# ---- word embeddings: the N-gram language model and CBOW ------------------------------------
def word_embeddings(torch, log):
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    word_to_ix = {"hello": 0, "world": 1}
    embeds = numpy_init(torch, nn.Embedding(2, 5), 31)
    lookup_tensor = torch.tensor([word_to_ix["hello"]], dtype=torch.long)
    hello_embed = embeds(lookup_tensor)
    log(hello_embed)

    CONTEXT_SIZE = 2
    EMBEDDING_DIM = 10
    test_sentence = """When forty winters shall besiege thy brow,
    And dig deep trenches in thy beauty's field,
    Thy youth's proud livery so gazed on now,
    Will be a totter'd weed of small worth held:
    Then being asked, where all thy beauty lies,
    Where all the treasure of thy lusty days;""".split()
    ngrams = [([test_sentence[i - j - 1] for j in range(CONTEXT_SIZE)], test_sentence[i])
              for i in range(CONTEXT_SIZE, len(test_sentence))]
    log(ngrams[:3])
    vocab = sorted(set(test_sentence))
    word_to_ix = {word: i for i, word in enumerate(vocab)}

    class NGramLanguageModeler(nn.Module):
        def __init__(self, vocab_size, embedding_dim, context_size):
            super(NGramLanguageModeler, self).__init__()
            self.embeddings = nn.Embedding(vocab_size, embedding_dim)
            self.linear1 = nn.Linear(context_size * embedding_dim, 128)
            self.linear2 = nn.Linear(128, vocab_size)

        def forward(self, inputs):
            embeds = self.embeddings(inputs).view((1, -1))
            out = F.relu(self.linear1(embeds))
            out = self.linear2(out)
            log_probs = F.log_softmax(out, dim=1)
            return log_probs

    losses = []
    loss_function = nn.NLLLoss()
    model = numpy_init(torch, NGramLanguageModeler(len(vocab), EMBEDDING_DIM, CONTEXT_SIZE), 32)
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    for epoch in range(4):
        total_loss = 0
        for context, target in ngrams:
            context_idxs = torch.tensor([word_to_ix[w] for w in context], dtype=torch.long)
            model.zero_grad()
            log_probs = model(context_idxs)
            loss = loss_function(log_probs, torch.tensor([word_to_ix[target]], dtype=torch.long))
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
        losses.append(total_loss)
    log(losses)
    log(model.embeddings.weight[word_to_ix["beauty"]])

    raw_text = """We are about to study the idea of a computational process.
    Computational processes are abstract beings that inhabit computers.
    As they evolve, processes manipulate other abstract things called data.""".split()
    vocab = sorted(set(raw_text))
    vocab_size = len(vocab)
    word_to_ix = {word: i for i, word in enumerate(vocab)}
    data = []
    for i in range(CONTEXT_SIZE, len(raw_text) - CONTEXT_SIZE):
        context = ([raw_text[i - j - 1] for j in range(CONTEXT_SIZE)]
                   + [raw_text[i + j + 1] for j in range(CONTEXT_SIZE)])
        target = raw_text[i]
        data.append((context, target))
    log(data[:2])

    class CBOW(nn.Module):
        def __init__(self, vocab_size, embedding_dim):
            super().__init__()
            self.embeddings = nn.Embedding(vocab_size, embedding_dim)
            self.linear = nn.Linear(embedding_dim, vocab_size)

        def forward(self, inputs):
            embeds = self.embeddings(inputs).sum(dim=0, keepdim=True)
            return F.log_softmax(self.linear(embeds), dim=-1)

    def make_context_vector(context, word_to_ix):
        idxs = [word_to_ix[w] for w in context]
        return torch.tensor(idxs, dtype=torch.long)

    log(make_context_vector(data[0][0], word_to_ix))
    model = numpy_init(torch, CBOW(vocab_size, EMBEDDING_DIM), 33)
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    for epoch in range(3):
        total = 0
        for context, target in data:
            model.zero_grad()
            loss = loss_function(model(make_context_vector(context, word_to_ix)),
                                 torch.tensor([word_to_ix[target]]))
            loss.backward()
            optimizer.step()
            total += loss.item()
        log(f"{total:.4f}")


# ---- NLP from scratch: classifying names with a character-level RNN -------------------------
def char_rnn_classification(torch, log):
    nn, F = torch.nn, torch.nn.functional
    all_letters = string.ascii_letters + " .,;'"
    n_letters = len(all_letters)
    category_lines = {"English": ["Smith", "Jones", "Taylor", "Brown", "Williams"],
                      "French": ["Dubois", "Laurent", "Lefebvre", "Moreau", "Girard"],
                      "Japanese": ["Abe", "Sato", "Suzuki", "Takahashi", "Yamamoto"]}
    all_categories = list(category_lines)
    n_categories = len(all_categories)

    def letterToIndex(letter):
        return all_letters.find(letter)

    def letterToTensor(letter):
        tensor = torch.zeros(1, n_letters)
        tensor[0][letterToIndex(letter)] = 1
        return tensor

    def lineToTensor(line):
        tensor = torch.zeros(len(line), 1, n_letters)
        for li, letter in enumerate(line):
            tensor[li][0][letterToIndex(letter)] = 1
        return tensor

    log(letterToTensor('J'))
    log(lineToTensor('Jones').size())

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(RNN, self).__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(input_size, hidden_size)
            self.h2h = nn.Linear(hidden_size, hidden_size)
            self.h2o = nn.Linear(hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, input, hidden):
            hidden = F.tanh(self.i2h(input) + self.h2h(hidden))
            output = self.h2o(hidden)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, self.hidden_size)

    n_hidden = 32
    rnn = numpy_init(torch, RNN(n_letters, n_hidden, n_categories), 34)
    input = letterToTensor('A')
    hidden = torch.zeros(1, n_hidden)
    output, next_hidden = rnn(input, hidden)
    input = lineToTensor('Albert')
    hidden = torch.zeros(1, n_hidden)
    output, next_hidden = rnn(input[0], hidden)
    log(output)

    def categoryFromOutput(output):
        top_n, top_i = output.topk(1)
        category_i = top_i[0].item()
        return all_categories[category_i], category_i

    log(categoryFromOutput(output))
    pick = random.Random(35)

    def randomChoice(l):
        return l[pick.randint(0, len(l) - 1)]

    def randomTrainingExample():
        category = randomChoice(all_categories)
        line = randomChoice(category_lines[category])
        category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
        line_tensor = lineToTensor(line)
        return category, line, category_tensor, line_tensor

    criterion = nn.NLLLoss()
    learning_rate = 0.05

    def train(category_tensor, line_tensor):
        hidden = rnn.initHidden()
        rnn.zero_grad()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        loss = criterion(output, category_tensor)
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item()

    current_loss, all_losses = 0, []
    for iter in range(1, 301):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output, loss = train(category_tensor, line_tensor)
        current_loss += loss
        if iter % 100 == 0:
            guess, guess_i = categoryFromOutput(output)
            correct = '✓' if guess == category else '✗ (%s)' % category
            log('%d %d%% %.4f %s / %s %s' % (iter, iter / 300 * 100, loss, line, guess, correct))
            all_losses.append(current_loss / 100)
            current_loss = 0
    log(all_losses[-1] < all_losses[0])

    confusion = torch.zeros(n_categories, n_categories)

    def evaluate(line_tensor):
        hidden = rnn.initHidden()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        return output

    for i in range(30):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output = evaluate(line_tensor)
        guess, guess_i = categoryFromOutput(output)
        category_i = all_categories.index(category)
        confusion[category_i][guess_i] += 1
    for i in range(n_categories):
        confusion[i] = confusion[i] / confusion[i].sum()
    log(confusion)

    def predict(input_line, n_predictions=3):
        log('\n> %s' % input_line)
        with torch.no_grad():
            output = evaluate(lineToTensor(input_line))
            topv, topi = output.topk(n_predictions, 1, True)
            predictions = []
            for i in range(n_predictions):
                value = topv[0][i].item()
                category_index = topi[0][i].item()
                log('(%.2f) %s' % (value, all_categories[category_index]))
                predictions.append([value, all_categories[category_index]])

    predict('Dovesky')
    predict('Satoshi')


# ---- language modeling with nn.Transformer --------------------------------------------------
def transformer_language_model(torch, log):
    nn = torch.nn
    TransformerEncoder, TransformerEncoderLayer = nn.TransformerEncoder, nn.TransformerEncoderLayer
    device = "cpu"

    class TransformerModel(nn.Module):
        def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.5):
            super().__init__()
            self.model_type = 'Transformer'
            self.pos_encoder = PositionalEncoding(d_model, dropout)
            encoder_layers = TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
            self.transformer_encoder = TransformerEncoder(encoder_layers, nlayers)
            self.embedding = nn.Embedding(ntoken, d_model)
            self.d_model = d_model
            self.linear = nn.Linear(d_model, ntoken)
            self.init_weights()

        def init_weights(self):
            initrange = 0.1
            self.embedding.weight.data.uniform_(-initrange, initrange)
            self.linear.bias.data.zero_()
            self.linear.weight.data.uniform_(-initrange, initrange)

        def forward(self, src, src_mask=None):
            src = self.embedding(src) * math.sqrt(self.d_model)
            src = self.pos_encoder(src)
            if src_mask is None:
                src_mask = nn.Transformer.generate_square_subsequent_mask(len(src)).to(device)
            output = self.transformer_encoder(src, src_mask)
            output = self.linear(output)
            return output

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            position = torch.arange(max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, 1, d_model)
            pe[:, 0, 0::2] = torch.sin(position * div_term)
            pe[:, 0, 1::2] = torch.cos(position * div_term)
            self.register_buffer('pe', pe)

        def forward(self, x):
            x = x + self.pe[:x.size(0)]
            return self.dropout(x)

    rng = np.random.default_rng(36)
    ntokens = 40
    # synthetic corpus with structure to learn: token i+1 usually follows token i
    stream = np.cumsum(rng.integers(0, 3, 2400) == 0) % ntokens
    train_data = torch.tensor(stream[:2000], dtype=torch.long)
    val_data = torch.tensor(stream[2000:], dtype=torch.long)

    def batchify(data, bsz):
        seq_len = data.size(0) // bsz
        data = data[:seq_len * bsz]
        data = data.view(bsz, seq_len).t().contiguous()
        return data.to(device)

    batch_size = 20
    eval_batch_size = 10
    train_data = batchify(train_data, batch_size)
    val_data = batchify(val_data, eval_batch_size)
    log(train_data.shape, val_data.shape, train_data.is_contiguous())
    bptt = 10

    def get_batch(source, i):
        seq_len = min(bptt, len(source) - 1 - i)
        data = source[i:i + seq_len]
        target = source[i + 1:i + 1 + seq_len].reshape(-1)
        return data, target

    emsize, d_hid, nlayers, nhead, dropout = 16, 16, 2, 2, 0.0
    model = TransformerModel(ntokens, emsize, nhead, d_hid, nlayers, dropout).to(device)
    numpy_init(torch, model, 37)
    log(model.pos_encoder.pe.shape, model.pos_encoder.pe[3, 0, :4], list(dict(model.named_buffers())))
    log(nn.Transformer.generate_square_subsequent_mask(4))
    log(model.transformer_encoder.layers[0])
    criterion = nn.CrossEntropyLoss()
    lr = 5.0
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.95)

    def train(model):
        model.train()
        total_loss = 0.
        log_interval = 5
        num_batches = len(train_data) // bptt
        for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
            data, targets = get_batch(train_data, i)
            output = model(data)
            output_flat = output.view(-1, ntokens)
            loss = criterion(output_flat, targets)
            optimizer.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            total_loss += loss.item()
            if batch % log_interval == 0 and batch > 0:
                lr = scheduler.get_last_lr()[0]
                cur_loss = total_loss / log_interval
                ppl = math.exp(cur_loss)
                log(f'| epoch {epoch:3d} | {batch:5d}/{num_batches:5d} batches | '
                    f'lr {lr:02.2f} | loss {cur_loss:5.2f} | ppl {ppl:8.2f} | norm {norm:.3f}')
                total_loss = 0

    def evaluate(model, eval_data):
        model.eval()
        total_loss = 0.
        with torch.no_grad():
            for i in range(0, eval_data.size(0) - 1, bptt):
                data, targets = get_batch(eval_data, i)
                seq_len = data.size(0)
                output = model(data)
                output_flat = output.view(-1, ntokens)
                total_loss += seq_len * criterion(output_flat, targets).item()
        return total_loss / (len(eval_data) - 1)

    best_val_loss = float('inf')
    epochs = 2
    with tempfile.TemporaryDirectory() as tempdir:
        best_model_params_path = os.path.join(tempdir, "best_model_params.pt")
        for epoch in range(1, epochs + 1):
            train(model)
            val_loss = evaluate(model, val_data)
            val_ppl = math.exp(val_loss)
            log('-' * 89)
            log(f'| end of epoch {epoch:3d} | valid loss {val_loss:5.2f} | valid ppl {val_ppl:8.2f}')
            log('-' * 89)
            if val_loss < best_val_loss:
                best_val_loss = val_loss
                torch.save(model.state_dict(), best_model_params_path)
            scheduler.step()
        log(model.load_state_dict(torch.load(best_model_params_path)))
    test_loss = evaluate(model, val_data)
    log(f'| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):8.2f}')


# ---- reinforcement learning (DQN) -----------------------------------------------------------
def dqn(torch, log):
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    from collections import deque, namedtuple
    from itertools import count
    device = "cpu"
    Transition = namedtuple('Transition', ('state', 'action', 'next_state', 'reward'))

    class ReplayMemory(object):
        def __init__(self, capacity):
            self.memory = deque([], maxlen=capacity)

        def push(self, *args):
            self.memory.append(Transition(*args))

        def sample(self, batch_size):
            return pick.sample(self.memory, batch_size)

        def __len__(self):
            return len(self.memory)

    class DQN(nn.Module):
        def __init__(self, n_observations, n_actions):
            super(DQN, self).__init__()
            self.layer1 = nn.Linear(n_observations, 32)
            self.layer2 = nn.Linear(32, 32)
            self.layer3 = nn.Linear(32, n_actions)

        def forward(self, x):
            x = F.relu(self.layer1(x))
            x = F.relu(self.layer2(x))
            return self.layer3(x)

    class CartPoleLike:
        """gym's CartPole-v1 dynamics in NumPy: 4 observations, 2 actions, reward 1 a step"""
        def __init__(self, seed):
            self.rng = np.random.default_rng(seed)

        def reset(self):
            self.state = self.rng.uniform(-0.05, 0.05, 4)
            self.steps = 0
            return self.state.astype(np.float32), {}

        def step(self, action):
            x, x_dot, theta, theta_dot = self.state
            force = 10.0 if action == 1 else -10.0
            cos, sin = math.cos(theta), math.sin(theta)
            temp = (force + 0.05 * theta_dot ** 2 * sin) / 1.1
            thetaacc = (9.8 * sin - cos * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cos ** 2 / 1.1))
            xacc = temp - 0.05 * thetaacc * cos / 1.1
            x, x_dot = x + 0.02 * x_dot, x_dot + 0.02 * xacc
            theta, theta_dot = theta + 0.02 * theta_dot, theta_dot + 0.02 * thetaacc
            self.state = np.array([x, x_dot, theta, theta_dot])
            self.steps += 1
            terminated = bool(abs(x) > 2.4 or abs(theta) > 0.2095)
            return self.state.astype(np.float32), 1.0, terminated, self.steps >= 60, {}

    BATCH_SIZE = 16
    GAMMA = 0.99
    EPS_START = 0.9
    EPS_END = 0.05
    EPS_DECAY = 100
    TAU = 0.005
    LR = 1e-3
    env = CartPoleLike(38)
    pick = random.Random(39)
    n_actions = 2
    state, info = env.reset()
    n_observations = len(state)
    policy_net = numpy_init(torch, DQN(n_observations, n_actions), 40).to(device)
    target_net = DQN(n_observations, n_actions).to(device)
    log(target_net.load_state_dict(policy_net.state_dict()))
    optimizer = optim.AdamW(policy_net.parameters(), lr=LR, amsgrad=True)
    memory = ReplayMemory(10000)
    steps_done = 0

    def select_action(state):
        nonlocal steps_done
        sample = pick.random()
        eps_threshold = EPS_END + (EPS_START - EPS_END) * math.exp(-1. * steps_done / EPS_DECAY)
        steps_done += 1
        if sample > eps_threshold:
            with torch.no_grad():
                return policy_net(state).max(1).indices.view(1, 1)
        else:
            return torch.tensor([[pick.randrange(n_actions)]], device=device, dtype=torch.long)

    losses = []

    def optimize_model():
        if len(memory) < BATCH_SIZE:
            return
        transitions = memory.sample(BATCH_SIZE)
        batch = Transition(*zip(*transitions))
        non_final_mask = torch.tensor(tuple(map(lambda s: s is not None, batch.next_state)),
                                      device=device, dtype=torch.bool)
        non_final_next_states = torch.cat([s for s in batch.next_state if s is not None])
        state_batch = torch.cat(batch.state)
        action_batch = torch.cat(batch.action)
        reward_batch = torch.cat(batch.reward)
        state_action_values = policy_net(state_batch).gather(1, action_batch)
        next_state_values = torch.zeros(BATCH_SIZE, device=device)
        with torch.no_grad():
            next_state_values[non_final_mask] = target_net(non_final_next_states).max(1).values
        expected_state_action_values = (next_state_values * GAMMA) + reward_batch
        criterion = nn.SmoothL1Loss()
        loss = criterion(state_action_values, expected_state_action_values.unsqueeze(1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(policy_net.parameters(), 100)
        optimizer.step()
        losses.append(loss)

    episode_durations = []
    for i_episode in range(4):
        state, info = env.reset()
        state = torch.tensor(state, dtype=torch.float32, device=device).unsqueeze(0)
        for t in count():
            action = select_action(state)
            observation, reward, terminated, truncated, _ = env.step(action.item())
            reward = torch.tensor([reward], device=device)
            done = terminated or truncated
            if terminated:
                next_state = None
            else:
                next_state = torch.tensor(observation, dtype=torch.float32, device=device).unsqueeze(0)
            memory.push(state, action, next_state, reward)
            state = next_state
            optimize_model()
            target_net_state_dict = target_net.state_dict()
            policy_net_state_dict = policy_net.state_dict()
            for key in policy_net_state_dict:
                target_net_state_dict[key] = policy_net_state_dict[key] * TAU + target_net_state_dict[key] * (1 - TAU)
            target_net.load_state_dict(target_net_state_dict)
            if done:
                episode_durations.append(t + 1)
                break
    log(episode_durations, len(memory), memory.memory[0].action, memory.memory[0].reward)
    log(losses[0], losses[-1])
    log(target_net.layer3.bias, policy_net.layer3.bias)
    durations_t = torch.tensor(episode_durations, dtype=torch.float)
    means = durations_t.unfold(0, 2, 1).mean(1).view(-1)
    means = torch.cat((torch.zeros(1), means))
    log(means, durations_t.numpy())


TUTORIALS = [jacobians_hessians, per_sample_grads, model_ensembling, neural_tangent_kernels,
             forward_mode_ad, double_backward_custom_functions, fuse_conv_bn, extending_func,
             parametrizations, pruning, spatial_transformer, lstm_tagger, word_embeddings,
             char_rnn_classification, transformer_language_model, dqn]


# ---- comparing ------------------------------------------------------------------------------
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf")


def run(tutorial, module):
    log = Log()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tutorial(module, log)
    # cgrad's classes say cgrad where PyTorch's say torch (cgrad.Size, cgrad.float32)
    # and objects' addresses differ
    return [re.sub(r" at 0x[0-9a-f]+", " at 0x", re.sub(r"\bcgrad\.", "torch.", line))
            for line in log.lines]


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


_torch_lines = {}       # torch's prints, once for both backends


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda t: t.__name__)
def test_tutorial_prints_what_torch_prints(tutorial, backend):
    torch = pytest.importorskip("torch")
    if tutorial not in _torch_lines:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)        # (its threads only wait for the other tests' cores)
        try:
            _torch_lines[tutorial] = run(tutorial, torch)
        finally:
            torch.set_num_threads(threads)
    assert_same_lines(run(tutorial, cgrad), _torch_lines[tutorial])


# ---- what the tutorials found, each against torch -------------------------------------------
def test_module_to_meta_keeps_shapes_and_dtypes(backend):
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        model = lib.nn.Linear(3, 2).double().to("meta")
        w = model.weight
        assert (str(w.device), w.is_meta, w.is_cpu, w.requires_grad) == ("meta", True, False, True)
        assert str(w.dtype).split(".")[1] == "float64" and tuple(w.shape) == (2, 3)
        assert repr(w).replace("torch.", "cgrad.") == (
            "Parameter containing:\ntensor(..., device='meta', size=(2, 3), dtype=cgrad.float64,"
            "\n       requires_grad=True)")
        with pytest.raises(NotImplementedError, match="Please use torch.nn.Module.to_empty"):
            model.to("cpu")
        empty = model.to_empty(device="cpu").weight
        assert (str(empty.device), tuple(empty.shape), empty.requires_grad) == ("cpu", (2, 3), True)

        x = lib.ones(2, 3, requires_grad=True).to("meta")
        assert repr(x) == "tensor(..., device='meta', size=(2, 3), grad_fn=<ToCopyBackward0>)"
        assert repr(x.detach()[0]) == "tensor(..., device='meta', size=(3,))"  # views stay meta
        assert repr(x.view(6)) == "tensor(..., device='meta', size=(6,), grad_fn=<ViewBackward0>)"
        assert repr(lib.empty(4, dtype=lib.int64, device="meta")) == \
            "tensor(..., device='meta', size=(4,), dtype=" + lib.__name__ + ".int64)"
        assert lib.zeros_like(x).is_meta and lib.zeros(2, device=lib.device("meta")).is_meta
        for made in (x.new_zeros(2, 1), x.new_ones(3), x.new_full((2,), 5.0), x.new_empty(2),
                     x.new_tensor([1, 2], dtype=lib.int64)):
            assert made.is_meta and not made.requires_grad
        made = lib.zeros(2, device="meta", requires_grad=True)
        assert (made.requires_grad, made.is_leaf, made.is_meta) == (True, True, True)
        with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor; no data!"):
            x.to("cpu")
        with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor; no data!"):
            x.tolist()
        with pytest.raises(TypeError, match="can't convert meta device type tensor to numpy"):
            x.detach().numpy()
        with pytest.raises(RuntimeError, match="Tensor.item.. cannot be called on meta tensors"):
            x[0, 0].item()
    with pytest.raises(NotImplementedError, match="cgrad has no meta kernels"):
        cgrad.ones(2).to("meta") * 2            # (PyTorch computes the meta result's shape)


def test_functional_call_runs_a_meta_skeleton(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w, b, x = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 2)), rng.standard_normal((4, 3))
    outs = []
    for lib in (cgrad, torch):
        base = copy.deepcopy(lib.nn.Linear(3, 2).double()).to("meta")
        params = {"weight": lib.tensor(w), "bias": lib.tensor(b)}
        run_one = lambda p, x: lib.func.functional_call(base, p, (x,))
        outs.append(lib.vmap(run_one, in_dims=(0, None))(params, lib.tensor(x)).detach().numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12)


def _no_rule_functions(lib):
    class OldStyle(lib.autograd.Function):          # forward(ctx, ...): no setup_context
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Exp(lib.autograd.Function):               # setup_context, no vmap rule, no jvp
        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx, g):
            return g * ctx.saved_tensors[0]

    class Both(Exp):
        generate_vmap_rule = True

        @staticmethod
        def vmap(info, in_dims, x):
            return Both.apply(x), 0

    return OldStyle, Exp, Both


def test_custom_function_under_func_transforms_raises_as_torch(backend):
    torch = pytest.importorskip("torch")
    got = []
    for lib in (cgrad, torch):
        OldStyle, Exp, Both = _no_rule_functions(lib)
        x = lib.tensor([0.5, -1.0, 2.0])
        calls = [lambda: lib.func.grad(lambda x: OldStyle.apply(x).sum())(x),
                 lambda: lib.vmap(OldStyle.apply)(x),
                 lambda: lib.vmap(Exp.apply)(x),
                 lambda: lib.func.jacfwd(Exp.apply)(x),
                 lambda: lib.func.hessian(lambda x: Exp.apply(x).sum())(x),
                 lambda: lib.func.jvp(Exp.apply, (x,), (x,)),
                 lambda: lib.func.linearize(Exp.apply, x),
                 lambda: lib.vmap(Both.apply)(x),
                 lambda: Exp.vmap(None, (0,), x)]
        errors = []
        for call in calls:
            with pytest.raises(Exception) as info:
                call()
            errors.append((type(info.value).__name__, str(info.value)))
        # what works: reverse mode, and vmap with a rule or a generated one
        values = [lib.func.grad(lambda x: Exp.apply(x).sum())(x), lib.func.jacrev(Exp.apply)(x),
                  lib.func.vjp(Exp.apply, x)[0], OldStyle.apply(x)]
        Exp.generate_vmap_rule = True
        values.append(lib.vmap(Exp.apply)(x))
        got.append((errors, [v.numpy().tolist() for v in values]))
    assert got[0][0] == got[1][0]
    np.testing.assert_allclose(np.concatenate([np.ravel(v) for v in got[0][1]]),
                               np.concatenate([np.ravel(v) for v in got[1][1]]), rtol=1e-6)


def test_custom_function_node_prints_its_module(backend):
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        OldStyle, _, _ = _no_rule_functions(lib)
        node = OldStyle.apply(lib.ones(2, requires_grad=True)).grad_fn
        assert repr(node) == f"<{lib.__name__}.autograd.function.OldStyleBackward object at " \
                             f"{hex(id(node))}>"
        assert type(node).__name__ == "OldStyleBackward"
    assert repr(cgrad.linalg.det(cgrad.eye(2, requires_grad=True)).grad_fn).startswith(
        "<LinalgDetBackward0 object")          # cgrad's own Functions print as PyTorch's ops


def test_dist_is_its_own_node(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    for p in (2, 1, 3, float("inf")):
        results = []
        for lib in (cgrad, torch):
            ta, tb = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
            d = lib.dist(ta, tb, p)
            d.backward()
            results.append((d.grad_fn.name(), d.item(), ta.grad.numpy(), tb.grad.numpy()))
        assert results[0][0] == results[1][0] == "DistBackward0"
        for mine, theirs in zip(results[0][1:], results[1][1:]):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    for lib in (cgrad, torch):
        with pytest.raises(RuntimeError, match="norm... input dtype should be either floating "
                                               "point or complex. Got Long instead."):
            lib.dist(lib.ones(2, dtype=lib.int64), lib.ones(2, dtype=lib.int64))


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
