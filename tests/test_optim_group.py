"""OptimizerGroup: several optimizers behind one zero_grad/step/state_dict, as a Trainer needs them."""
import numpy as np
import pytest

from nnlite import Parameter
from nnlite.optim import SGD, Adam, OptimizerGroup


def _param(value, grad):
    p = Parameter(np.array(value, dtype=np.float64))
    p.grad[...] = grad
    return p


def _group(**kw):
    a, b = _param([1.0, 2.0], [1.0, 1.0]), _param([3.0], [1.0])
    opt_a, opt_b = Adam([a], lr=0.1), SGD([b], lr=0.5)
    return OptimizerGroup({"first": opt_a, "second": opt_b}, **kw), a, b


def test_step_moves_only_the_stepped_members_and_zero_grad_clears_all():
    group, a, b = _group(stepped=("second",))
    group.step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0])                  # stepped by someone else
    np.testing.assert_array_equal(b.data, [3.0 - 0.5])
    group.zero_grad()
    assert not a.grad.any() and not b.grad.any()
    group, a, b = _group()                                            # default: every member steps
    group.step()
    assert a.data[0] < 1.0 and b.data[0] == 2.5


def test_lr_and_hyper_are_the_leads():
    group, _, _ = _group()
    assert group.lr == 0.1 and group.hyper is group["first"].hyper and group.lead is group["first"]
    group.lr = 0.01                                                   # what a learning-rate schedule does
    assert group["first"].lr == 0.01 and group["second"].lr == 0.5


def test_state_dict_layout_and_exact_round_trip():
    group, a, b = _group(name="Players")
    group.step()
    state = group.state_dict()
    assert list(state) == ["type", "first", "second"] and state["type"] == "Players"
    assert state["first"]["type"] == "Adam" and state["second"]["type"] == "SGD"
    other, a2, b2 = _group(name="Players")
    other.load_state_dict(state)
    a2.data[...], b2.data[...] = a.data, b.data                       # the weights travel separately
    for g, (p, q) in ((group, (a, b)), (other, (a2, b2))):           # the same next step on both
        p.grad[...], q.grad[...] = [0.5, -2.0], [3.0]
        g.step()
    np.testing.assert_array_equal(a2.data, a.data)                    # Adam's moments and t carried over
    np.testing.assert_array_equal(b2.data, b.data)
    assert other["first"].step_count == group["first"].step_count == 2


def test_a_failed_load_changes_nothing():
    group, _, _ = _group()
    group.step()
    before = group["first"].state_dict()
    bad = group.state_dict()
    bad["first"] = {**bad["first"], "step_count": 7}
    bad["second"] = {**bad["second"], "state": {0: {"momentum_buffer": np.zeros(5)}}}    # wrong shape
    with pytest.raises(ValueError, match="momentum_buffer"):
        group.load_state_dict(bad)
    assert group["first"].step_count == before["step_count"] == 1
    with pytest.raises(ValueError, match=r"no entry for member\(s\) \['second'\]"):
        group.load_state_dict({"type": "OptimizerGroup", "first": before})


def test_argument_errors():
    opt = SGD([_param([1.0], [0.0])], lr=0.1)
    with pytest.raises(ValueError, match="non-empty dict"):
        OptimizerGroup({})
    with pytest.raises(TypeError, match="member 'b' is a list, expected an nnlite Optimizer"):
        OptimizerGroup({"a": opt, "b": []})
    with pytest.raises(ValueError, match="other than 'type'"):
        OptimizerGroup({"type": opt})
    with pytest.raises(ValueError, match=r"stepped names \['c'\] are not members"):
        OptimizerGroup({"a": opt}, stepped=("c",))
