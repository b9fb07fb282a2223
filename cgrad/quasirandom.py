"""cgrad.quasirandom: PyTorch's SobolEngine. Its unscrambled points are the Joe-Kuo Sobol'
sequence in Gray-code order, which SciPy's qmc.Sobol draws bit for bit; a scrambled engine
takes SciPy's scrambling (random linear matrices and a digital shift, as PyTorch's) from
SciPy's generator, so its points differ from PyTorch's as all of cgrad's random numbers do."""
import warnings

from . import _dtype
from .creation import tensor


class SobolEngine:
    """Draws points of the (scrambled) Sobol' sequence in [0, 1)^dimension"""
    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension, scramble=False, seed=None):
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError(f"Supported range of dimensionality for SobolEngine is [1, "
                             f"{self.MAXDIM}]")
        from scipy.stats import qmc
        self.seed, self.scramble, self.dimension = seed, scramble, dimension
        self._sobol = qmc.Sobol(dimension, scramble=scramble, bits=self.MAXBIT, seed=seed)
        self.num_generated = 0

    def draw(self, n=1, out=None, dtype=None):
        """the next n points, (n, dimension), of dtype (the default one by default)"""
        with warnings.catch_warnings():         # (SciPy's: n not a power of 2; PyTorch's
            warnings.simplefilter("ignore")     # draw does not warn)
            points = self._sobol.random(n)
        self.num_generated += n
        result = tensor(points, dtype=dtype or _dtype.DEFAULT)
        if out is not None:
            out.resize_as_(result).copy_(result)
            return out
        return result

    def draw_base2(self, m, out=None, dtype=None):
        """the next 2**m points; the points drawn must stay a power of 2 in number"""
        n = 2 ** m
        total_n = self.num_generated + n
        if total_n & (total_n - 1):
            raise ValueError(f"The balance properties of Sobol' points require n to be a power "
                             f"of 2. {self.num_generated} points have been previously "
                             f"generated, then: n={self.num_generated}+2**{m}={total_n}. If you "
                             f"still want to do this, please use 'SobolEngine.draw()' instead.")
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self):
        """back to the first point"""
        self._sobol.reset()
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        """n points skipped"""
        self._sobol.fast_forward(n)
        self.num_generated += n
        return self

    def __repr__(self):
        parts = [f"dimension={self.dimension}"]
        if self.scramble:
            parts.append("scramble=True")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return f"{type(self).__name__}({', '.join(parts)})"
