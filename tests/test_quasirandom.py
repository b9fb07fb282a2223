"""cgrad.quasirandom.SobolEngine against torch's: the same unscrambled points, the same counts,
checks and repr; a scrambled engine is seeded and balanced."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dimension", [1, 3, 40, 1111])
def test_unscrambled_points_are_torchs(dimension):
    t, c = (lib.quasirandom.SobolEngine(dimension) for lib in (torch, cgrad))
    for lib, engine in ((torch, t), (cgrad, c)):
        engine.fast_forward(3)
    first = (t.draw(5), c.draw(5))
    assert first[1].dtype == cgrad.float32 and first[1].shape == (5, dimension)
    np.testing.assert_array_equal(first[1].numpy(), first[0].numpy())
    np.testing.assert_array_equal(c.draw(24, dtype=cgrad.float64).numpy(),
                                  t.draw(24, dtype=torch.float64).numpy())
    assert c.num_generated == t.num_generated == 32
    np.testing.assert_array_equal(c.draw_base2(5).numpy(), t.draw_base2(5).numpy())
    c.reset()
    t.reset()
    out_c, out_t = cgrad.empty(0), torch.empty(0)
    assert c.draw(2, out=out_c) is out_c and t.draw(2, out=out_t) is out_t
    np.testing.assert_array_equal(out_c.numpy(), out_t.numpy())


def test_checks_and_repr_as_torch():
    for args in ((0,), (21202,)):
        with pytest.raises(ValueError) as expected:
            torch.quasirandom.SobolEngine(*args)
        with pytest.raises(ValueError) as got:
            cgrad.quasirandom.SobolEngine(*args)
        assert str(got.value) == str(expected.value)
    t, c = torch.quasirandom.SobolEngine(2), cgrad.quasirandom.SobolEngine(2)
    t.draw(3)
    c.draw(3)
    with pytest.raises(ValueError) as expected:
        t.draw_base2(2)
    with pytest.raises(ValueError) as got:
        c.draw_base2(2)
    assert str(got.value) == str(expected.value)
    for args in ((2,), (3, True), (4, True, 7)):
        assert repr(cgrad.quasirandom.SobolEngine(*args)) == \
            repr(torch.quasirandom.SobolEngine(*args))


def test_scrambled_engine_is_seeded_and_balanced():
    a, b = (cgrad.quasirandom.SobolEngine(3, scramble=True, seed=5).draw(64) for _ in range(2))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert ((a >= 0) & (a < 1)).all()
    # balanced: each of the 8 intervals of width 1/8 holds 8 of the 64 points, per dimension
    counts = np.stack([np.bincount((a.numpy()[:, d] * 8).astype(int), minlength=8)
                       for d in range(3)])
    assert (counts == 8).all()
    assert not np.array_equal(a.numpy(), cgrad.quasirandom.SobolEngine(3).draw(64).numpy())
