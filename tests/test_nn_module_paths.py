"""PyTorch's torch.nn.modules.<submodule> paths for cgrad's nn classes: imports from them run
and give cgrad's classes; the utils helpers and a custom _Loss behave as torch's."""
import importlib

import pytest

import cgrad
from cgrad.nn import _torch_paths

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", sorted(_torch_paths._CONTENTS) + ["module"])
def test_each_submodule_holds_torchs_names(name):
    ours = importlib.import_module(f"cgrad.nn.modules.{name}")
    theirs = importlib.import_module(f"torch.nn.modules.{name}")
    assert getattr(cgrad.nn.modules, name) is ours
    for attr in _torch_paths._CONTENTS.get(name, "Module _IncompatibleKeys _addindent").split():
        assert hasattr(theirs, attr), attr                       # a name PyTorch has there
        got = getattr(ours, attr)
        if not attr.startswith("_") and hasattr(cgrad.nn, attr):
            assert got is getattr(cgrad.nn, attr)                # cgrad's own class
        assert callable(got) and callable(getattr(theirs, attr))


def test_the_common_imports_run():
    from cgrad.nn.modules.batchnorm import _BatchNorm
    from cgrad.nn.modules.conv import _ConvNd
    from cgrad.nn.modules.loss import _Loss, _WeightedLoss
    from cgrad.nn.modules.module import Module
    assert isinstance(cgrad.nn.BatchNorm2d(3), _BatchNorm)
    assert isinstance(cgrad.nn.Conv2d(1, 1, 3), _ConvNd)
    assert isinstance(cgrad.nn.CrossEntropyLoss(), _WeightedLoss)
    assert issubclass(_WeightedLoss, _Loss) and issubclass(_Loss, Module)


def test_a_custom_loss_on_loss_base_as_torch():
    results = []
    for lib in (torch, cgrad):
        base = importlib.import_module(f"{lib.__name__}.nn.modules.loss")

        class SquaredError(base._Loss):
            def forward(self, a, b):
                e = (a - b) ** 2
                return e.mean() if self.reduction == "mean" else e.sum()

        a, b = lib.tensor([1., 2., 4.]), lib.tensor([0., 0., 1.])
        results.append((SquaredError()(a, b).item(), SquaredError(reduction="sum")(a, b).item(),
                        repr(SquaredError())))
    assert results[0] == results[1]


def test_utils_helpers_as_torch():
    t, c = importlib.import_module("torch.nn.modules.utils"), cgrad.nn.modules.utils
    for name in ("_single", "_pair", "_triple", "_quadruple"):
        for value in (3, (1, 2), [4, 5, 6]):
            assert getattr(c, name)(value) == getattr(t, name)(value)
        assert getattr(c, name).__name__ == getattr(t, name).__name__
    assert c._ntuple(2, "x")(7) == t._ntuple(2, "x")(7)
    assert c._reverse_repeat_tuple((1, 2, 3), 2) == t._reverse_repeat_tuple((1, 2, 3), 2)
    assert c._list_with_default([None, 4], [1, 2, 3]) == t._list_with_default([None, 4],
                                                                              [1, 2, 3])
    assert c._list_with_default(5, [1]) == 5
    with pytest.raises(ValueError, match="at least 3"):
        c._list_with_default([None, 4], [1, 2])
    for lib, utils in ((torch, t), (cgrad, c)):        # a DataParallel model's state dict
        sd = lib.nn.DataParallel(lib.nn.Linear(2, 1)).state_dict()
        utils.consume_prefix_in_state_dict_if_present(sd, "module.")
        assert list(sd) == ["weight", "bias"]
        lib.nn.Linear(2, 1).load_state_dict(sd)
    sd = {"module.w": 1, "other": 2}
    sd_t = type("StateDict", (dict,), {})(sd)
    sd_t._metadata = {"": {}, "module": {"v": 1}, "module.sub": {"v": 2}}
    c.consume_prefix_in_state_dict_if_present(sd_t, "module.")
    assert dict(sd_t) == {"w": 1, "other": 2}
    assert sd_t._metadata == {"": {"v": 1}, "sub": {"v": 2}}


def test_a_user_lazy_module_on_the_mixin_as_torch():
    """torch.nn.modules.lazy.LazyModuleMixin: initialize_parameters runs on the first call
    only (a module without cls_to_become keeps its class and is not initialized again)"""
    results = []
    for lib in (torch, cgrad):
        mixin = importlib.import_module(f"{lib.__name__}.nn.modules.lazy").LazyModuleMixin
        uninitialized = lib.nn.parameter.UninitializedParameter

        class LazyScale(mixin, lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = uninitialized()
                self.calls = 0

            def initialize_parameters(self, x):
                self.calls += 1
                self.weight.materialize((x.shape[-1],))
                with lib.no_grad():
                    self.weight.fill_(2.)

            def forward(self, x):
                return x * self.weight

        m = LazyScale()
        first = m(lib.ones(2, 3)).tolist()
        second = m(lib.full((1, 3), 3.)).tolist()
        results.append((first, second, m.calls, type(m).__name__,
                        m.has_uninitialized_params(), list(m.state_dict())))
    assert results[0] == results[1]
