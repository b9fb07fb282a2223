"""Optimizer state as PyTorch keeps it (review s41): state_dict's numbering of a parameter
listed twice, and load_state_dict's KeyError for state another optimizer left"""
import pytest

import cgrad


def _stepped(opt_class, params, **options):
    opt = opt_class(params, **options)
    for p in params:
        p.grad = cgrad.ones_like(p)
    opt.step()
    return opt


def test_a_parameter_listed_twice_is_numbered_by_its_last_place():
    w, v = cgrad.nn.Parameter(cgrad.ones(3)), cgrad.nn.Parameter(cgrad.ones(2))
    with pytest.warns(UserWarning, match="duplicate parameters"):
        sd = _stepped(cgrad.optim.SGD, [w, w], lr=0.1, momentum=0.9).state_dict()
    assert sd["param_groups"][0]["params"] == [1, 1] and list(sd["state"]) == [1]
    with pytest.warns(UserWarning, match="duplicate parameters"):
        sd = _stepped(cgrad.optim.SGD, [w, v, w], lr=0.1, momentum=0.9).state_dict()
    assert sd["param_groups"][0]["params"] == [2, 1, 2] and sorted(sd["state"]) == [1, 2]


@pytest.mark.parametrize("source, target, key", [
    (cgrad.optim.SGD, cgrad.optim.Adam, "step"), (cgrad.optim.SGD, cgrad.optim.Rprop, "step"),
    (cgrad.optim.SGD, cgrad.optim.ASGD, "step"), (cgrad.optim.Adam, cgrad.optim.NAdam,
                                                  "mu_product"),
    (cgrad.optim.Adam, cgrad.optim.ASGD, "eta"),
])
def test_loading_state_without_the_scalar_state_raises_at_load(source, target, key):
    w = cgrad.nn.Parameter(cgrad.ones(3))
    options = {"lr": 0.1, "momentum": 0.9} if source is cgrad.optim.SGD else {}
    sd = _stepped(source, [w], **options).state_dict()
    with pytest.raises(KeyError, match=key):
        target([w], lr=0.1).load_state_dict(sd)


def test_matching_state_still_loads():
    w = cgrad.nn.Parameter(cgrad.ones(3))
    adam = _stepped(cgrad.optim.Adam, [w])
    other = cgrad.optim.AdamW([w])
    other.load_state_dict(adam.state_dict())
    assert other.state[w]["step"].item() == 1
