"""torch.lobpcg: the k largest (or smallest) eigenpairs of A X = B X E by PyTorch's Locally
Optimal Block Preconditioned Conjugate Gradient methods ('basic': Knyazev 2001; 'ortho':
Stathopoulos and Wu 2002, Duersch et al. 2018), ported from torch/_lobpcg.py onto cgrad's
ops; dense inputs only (cgrad has no sparse ones). Where A requires grad, the result's
gradient is PyTorch's LOBPCGAutogradFunction's (the eigendecomposition's backward, for
B = None only). Loaded on first use."""
import math

from . import linalg
from ._dtype import float16, float32, float64
from .autograd.function import Function
from .autograd.grad_mode import no_grad
from .creation import eye, randn
from .random import Generator


# ---- helpers (torch/_linalg_utils.py) ------------------------------------------------------

def _matmul(A, B):
    """A @ B, A None meaning the identity"""
    return B if A is None else A @ B


def _qform(A, S):
    """S^T A S"""
    return S.mT @ _matmul(A, S)


def _basis(A):
    """an orthonormal basis of A's columns"""
    return linalg.qr(A).Q


def _symeig(A, largest=False):
    """eigh of A's upper triangle, the eigenvalues descending where largest"""
    E, Z = linalg.eigh(A, UPLO="U")
    if largest:
        E, Z = E.flip(-1), Z.flip(-1)
    return E, Z


# ---- the backward of the eigendecomposition ---------------------------------------------

def _symeig_backward_complete_eigenspace(D_grad, U_grad, A, D, U):
    """U (diag(D_grad) + (U^T U_grad) * F) U^T, F_ij = 1 / (d_j - d_i), F_ii = 0"""
    F = D.unsqueeze(-2) - D.unsqueeze(-1)
    F.diagonal(dim1=-2, dim2=-1).fill_(float("inf"))
    F = F.pow(-1)
    Ut = U.mT.contiguous()
    return U @ ((D_grad.diag_embed() + (Ut @ U_grad) * F) @ Ut)


def _polynomial_coefficients_given_roots(roots):
    """(a_0, ..., a_n = 1) of p(x) = (x - r_1) ... (x - r_n), by Horner's rule on copies"""
    order = roots.shape[-1]
    coeffs = roots.new_zeros(*roots.shape[:-1], order + 2)
    coeffs[..., 0] = 1
    coeffs[..., -1] = 1
    for i in range(1, order + 1):
        new = coeffs.clone()
        out = new.narrow(-1, order - i, i + 1)
        out -= roots.narrow(-1, i - 1, 1) * coeffs.narrow(-1, order - i + 1, i + 1)
        coeffs = new
    return coeffs.narrow(-1, 1, order + 1)


def _polynomial_value(poly, x, zero_power, transition):
    """poly(x) by Horner's rule; transition(value, x, a_k) is one step"""
    result = zero_power.clone()
    for k in range(poly.shape[-1] - 2, -1, -1):
        result = transition(result, x, poly[..., k])
    return result


def _matrix_polynomial_value(poly, x):
    def transition(value, x, coeff):
        return x @ value + coeff.unsqueeze(-1).unsqueeze(-1) * eye(x.shape[-1], dtype=x.dtype)
    zero_power = eye(x.shape[-1], dtype=x.dtype).view(*([1] * (x.ndim - 2)), x.shape[-1],
                                                      x.shape[-1])
    return _polynomial_value(poly, x, zero_power, transition)


def _vector_polynomial_value(poly, x):
    def transition(value, x, coeff):
        return coeff.unsqueeze(-1) + x * value
    return _polynomial_value(poly, x, x.new_ones(1).expand(x.shape), transition)


def _symeig_backward_partial_eigenspace(D_grad, U_grad, A, D, U, largest):
    """the gradient in span(U) as for a complete eigenspace, plus the solution of the
    Sylvester equation U_o^T A U_o dX - dX D = -U_o^T A U in its orthogonal complement U_o
    (Hu and Cheng's polynomial solution), as PyTorch computes it"""
    Ut = U.mT.contiguous()
    projector = eye(A.shape[-1], dtype=A.dtype) - U @ Ut
    generator = Generator()                     # a fixed seed: repeatable gradients
    U_ortho = projector @ randn(*A.shape[:-1], A.shape[-1] - D.shape[-1], dtype=A.dtype,
                                generator=generator)
    U_ortho_t = U_ortho.mT.contiguous()
    chr_poly_D = _polynomial_coefficients_given_roots(D)
    U_grad_projected = U_grad
    series_acc = U_grad_projected.new_zeros(U_grad_projected.shape)
    for k in range(1, chr_poly_D.shape[-1]):
        poly_D = _vector_polynomial_value(chr_poly_D[..., k:], D)
        series_acc = series_acc + U_grad_projected * poly_D.unsqueeze(-2)
        U_grad_projected = A @ U_grad_projected
    chr_poly_D_at_A = _matrix_polynomial_value(chr_poly_D, A)
    restricted = U_ortho_t @ (chr_poly_D_at_A @ U_ortho)
    sign = -1 if (largest and k % 2 == 1) else 1       # so that Cholesky sees a PD matrix
    L = linalg.cholesky(sign * restricted)
    res = _symeig_backward_complete_eigenspace(D_grad, U_grad, A, D, U)
    from ._matfuncs import cholesky_solve
    return res - (U_ortho @ (sign * cholesky_solve(U_ortho_t @ series_acc, L))) @ Ut


def _symeig_backward(D_grad, U_grad, A, D, U, largest):
    if U.shape[-1] == U.shape[-2]:
        return _symeig_backward_complete_eigenspace(D_grad, U_grad, A, D, U)
    return _symeig_backward_partial_eigenspace(D_grad, U_grad, A, D, U, largest)


class LOBPCGAutogradFunction(Function):
    """(E, X) of _lobpcg   ->   PyTorch's: the eigendecomposition's backward for A; B must be
    None"""
    @staticmethod
    def forward(ctx, A, k, B, X, n, iK, niter, tol, largest, method, tracker, ortho_iparams,
                ortho_fparams, ortho_bparams):
        A = A.contiguous()
        B = None if B is None else B.contiguous()
        D, U = _lobpcg(A, k, B, X, n, iK, niter, tol, largest, method, tracker, ortho_iparams,
                       ortho_fparams, ortho_bparams)
        ctx.save_for_backward(A, B, D, U)
        ctx.largest = largest
        return D, U

    @staticmethod
    def backward(ctx, D_grad, U_grad):
        A, B, D, U = ctx.saved_tensors
        if B is not None:
            raise ValueError("lobpcg.backward does not support backward with B != I yet.")
        largest = True if ctx.largest is None else ctx.largest
        if D_grad is None:
            D_grad = D.new_zeros(D.shape)
        if U_grad is None:
            U_grad = U.new_zeros(U.shape)
        return (_symeig_backward(D_grad, U_grad, A, D, U, largest),) + (None,) * 13


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None,
           method=None, tracker=None, ortho_iparams=None, ortho_fparams=None,
           ortho_bparams=None):
    """(E, X): the k largest (largest=False: smallest) eigenvalues of the symmetric
    positive-definite generalized problem A X = B X diag(E) (B None: the identity) and their
    eigenvectors, from the initial approximation X (m x n, random if None) with the
    preconditioner iK; method 'ortho' (default) or 'basic'; niter iterations at most (-1: until
    converged), residual tolerance tol; tracker(worker) is called each iteration. Where A or
    B requires grad, A and B are symmetrized first, and A gets PyTorch's gradient."""
    if A.requires_grad or (B is not None and B.requires_grad):
        A_sym = (A + A.mT) / 2
        B_sym = (B + B.mT) / 2 if B is not None else None
        return LOBPCGAutogradFunction.apply(A_sym, k, B_sym, X, n, iK, niter, tol, largest,
                                            method, tracker, ortho_iparams, ortho_fparams,
                                            ortho_bparams)
    return _lobpcg(A, k, B, X, n, iK, niter, tol, largest, method, tracker, ortho_iparams,
                   ortho_fparams, ortho_bparams)


def _lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None,
            method=None, tracker=None, ortho_iparams=None, ortho_fparams=None,
            ortho_bparams=None):
    if A.shape[-2] != A.shape[-1]:
        raise AssertionError(f"A must be square, got shape {A.shape}")
    if B is not None and A.shape != B.shape:
        raise AssertionError(f"A and B must have same shape, got {A.shape} vs {B.shape}")
    dtype = A.dtype if A.dtype in (float16, float32, float64) else float32
    if tol is None:
        tol = {float32: 1.2e-07, float64: 2.23e-16}[dtype] ** 0.5
    m = A.shape[-1]
    k = (1 if X is None else X.shape[-1]) if k is None else k
    n = (k if n is None else n) if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m})"
                         f" is smaller than 3 x the number of requested eigenpairs (={n})")
    method = "ortho" if method is None else method
    iparams = {"m": m, "n": n, "k": k, "niter": 1000 if niter is None else niter}
    fparams = {"tol": tol}
    bparams = {"largest": True if largest is None else largest}
    if method == "ortho":
        iparams.update(ortho_iparams or {})
        fparams.update(ortho_fparams or {})
        bparams.update(ortho_bparams or {})
        iparams.setdefault("ortho_i_max", 3)
        iparams.setdefault("ortho_j_max", 3)
        fparams.setdefault("ortho_tol", tol)
        fparams.setdefault("ortho_tol_drop", tol)
        fparams.setdefault("ortho_tol_replace", tol)
        bparams.setdefault("ortho_use_drop", False)

    with no_grad():
        if A.ndim > 2:
            N = math.prod(A.shape[:-2])
            bA = A.reshape((N,) + A.shape[-2:])
            bB = B.reshape((N,) + A.shape[-2:]) if B is not None else None
            bX = X.reshape((N,) + X.shape[-2:]) if X is not None else None
            bE = A.new_empty((N, k), dtype=dtype)
            bXret = A.new_empty((N, m, k), dtype=dtype)
            for i in range(N):
                X_ = randn((m, n), dtype=dtype) if bX is None else bX[i]
                if not (X_.ndim == 2 and X_.shape == (m, n)):
                    raise AssertionError(f"X_ shape mismatch: got {X_.shape}, expected "
                                         f"{(m, n)}")
                iparams["batch_index"] = i
                worker = LOBPCG(bA[i], bB[i] if bB is not None else None, X_, iK, iparams,
                                fparams, bparams, method, tracker)
                worker.run()
                bE[i] = worker.E[:k]
                bXret[i] = worker.X[:, :k]
            return bE.reshape(A.shape[:-2] + (k,)), bXret.reshape(A.shape[:-2] + (m, k))
        X = randn((m, n), dtype=dtype) if X is None else X
        if not (X.ndim == 2 and X.shape == (m, n)):
            raise AssertionError(f"X shape mismatch: got {X.shape}, expected {(m, n)}")
        worker = LOBPCG(A, B, X, iK, iparams, fparams, bparams, method, tracker)
        worker.run()
        return worker.E[:k], worker.X[:, :k]


class LOBPCG:
    """The iteration's state (PyTorch's worker class, passed to the tracker): iparams,
    fparams, bparams the parameters; ivars, fvars, bvars, tvars the iteration variables; A, B,
    iK the inputs; E, X, S, R the eigenvalues, vectors, search basis and residual."""

    def __init__(self, A, B, X, iK, iparams, fparams, bparams, method, tracker):
        self.A, self.B, self.iK = A, B, iK
        self.iparams, self.fparams, self.bparams = iparams, fparams, bparams
        self.method, self.tracker = method, tracker
        m, n = iparams["m"], iparams["n"]
        self.X = X
        self.E = X.new_zeros((n,))
        self.R = X.new_zeros((m, n))
        self.S = X.new_zeros((m, 3 * n))
        self.tvars = {}
        self.ivars = {"istep": 0}
        self.fvars = {"_": 0.0}
        self.bvars = {"_": False}

    def __str__(self):
        lines = ["LOBPCG:"] + [f"  {name}={getattr(self, name)}" for name in (
            "iparams", "fparams", "bparams", "ivars", "fvars", "bvars", "tvars", "A", "B", "iK",
            "X", "E")]
        return "".join(line + "\n" for line in lines)

    def update(self):
        """Set and update the iteration variables."""
        if self.ivars["istep"] == 0:
            X_norm = float(self.X.norm())
            iX_norm = X_norm ** -1
            self.fvars["X_norm"] = X_norm
            self.fvars["A_norm"] = float(_matmul(self.A, self.X).norm()) * iX_norm
            self.fvars["B_norm"] = float(_matmul(self.B, self.X).norm()) * iX_norm
            self.ivars["iterations_left"] = self.iparams["niter"]
            self.ivars["converged_count"] = 0
            self.ivars["converged_end"] = 0
        if self.method == "ortho":
            self._update_ortho()
        else:
            self._update_basic()
        self.ivars["iterations_left"] = self.ivars["iterations_left"] - 1
        self.ivars["istep"] = self.ivars["istep"] + 1

    def update_residual(self):
        """R = A X - B X E"""
        self.R = _matmul(self.A, self.X) - _matmul(self.B, self.X) * self.E

    def update_converged_count(self):
        """The number of leading eigenpairs converged by the backward stable criterion (Sec.
        4.3 of Duersch et al. 2018)."""
        prev_count = self.ivars["converged_count"]
        E, X, R = self.E, self.X, self.R
        rerr = R.norm(2, (0,)) / (X.norm(2, (0,)) * (
            self.fvars["A_norm"] + E[:X.shape[-1]].abs() * self.fvars["B_norm"]))
        count = 0
        for converged in (rerr < self.fparams["tol"]).tolist():
            if not converged:
                break
            count += 1
        if count < prev_count:
            raise AssertionError(f"the number of converged eigenpairs (was {prev_count}, got "
                                 f"{count}) cannot decrease")
        self.ivars["converged_count"] = count
        self.tvars["rerr"] = rerr
        return count

    def stop_iteration(self):
        """True to stop: forced by the tracker (bvars['force_stop']), out of iterations, or k
        pairs converged"""
        return (self.bvars.get("force_stop", False) or self.ivars["iterations_left"] == 0
                or self.ivars["converged_count"] >= self.iparams["k"])

    def run(self):
        """Iterate until stop_iteration(), the tracker called after each step."""
        self.update()
        if self.tracker is not None:
            self.tracker(self)
        while not self.stop_iteration():
            self.update()
            if self.tracker is not None:
                self.tracker(self)

    def _update_basic(self):
        ns, nc = self.ivars["converged_end"], self.ivars["converged_count"]
        n, largest = self.iparams["n"], self.bparams["largest"]
        if self.ivars["istep"] == 0:
            Ri = self._get_rayleigh_ritz_transform(self.X)
            E, Z = _symeig(_qform(_qform(self.A, self.X), Ri), largest)
            self.X[:] = self.X @ (Ri @ Z)
            self.E[:] = E
            np_ = 0
            self.update_residual()
            nc = self.update_converged_count()
            self.S[..., :n] = self.X
            W = _matmul(self.iK, self.R)
        else:
            S_ = self.S[:, nc:ns]
            Ri = self._get_rayleigh_ritz_transform(S_)
            E_, Z = _symeig(_qform(_qform(self.A, S_), Ri), largest)
            self.X[:, nc:] = S_ @ (Ri @ Z[:, :n - nc])
            self.E[nc:] = E_[:n - nc]
            P = S_ @ (Ri @ Z[:, n:2 * n - nc])
            np_ = P.shape[-1]
            self.update_residual()
            nc = self.update_converged_count()
            self.S[..., :n] = self.X
            self.S[:, n:n + np_] = P
            W = _matmul(self.iK, self.R[:, nc:])
        self.ivars["converged_end"] = ns = n + np_ + W.shape[-1]
        self.S[:, n + np_:ns] = W

    def _update_ortho(self):
        ns, nc = self.ivars["converged_end"], self.ivars["converged_count"]
        n, largest = self.iparams["n"], self.bparams["largest"]
        if self.ivars["istep"] == 0:
            Ri = self._get_rayleigh_ritz_transform(self.X)
            _, Z = _symeig(_qform(_qform(self.A, self.X), Ri), largest)
            self.X = self.X @ (Ri @ Z)
            self.update_residual()
            np_ = 0
            nc = self.update_converged_count()
            self.S[:, :n] = self.X
            W = self._get_ortho(self.R, self.X)
        else:
            S_ = self.S[:, nc:ns]
            E_, Z = _symeig(_qform(self.A, S_), largest)
            self.X[:, nc:] = S_ @ Z[:, :n - nc]
            self.E[nc:] = E_[:n - nc]
            P = S_ @ (Z[:, n - nc:] @ _basis(Z[:n - nc, n - nc:].mT))
            np_ = P.shape[-1]
            self.update_residual()
            nc = self.update_converged_count()
            self.S[:, :n] = self.X
            self.S[:, n:n + np_] = P
            W = self._get_ortho(self.R[:, nc:], self.S[:, :n + np_])
        ns = self.ivars["converged_end"] = n + np_ + W.shape[-1]
        self.S[:, n + np_:ns] = W

    def _get_rayleigh_ritz_transform(self, S):
        """Ri (upper triangular) reducing (S^T A S) C = (S^T B S) C E to the standard problem
        (Ri^T S^T A S Ri) Z = Z E, C = Ri Z: with d = diag(S^T B S)^-1/2, R^T R the Cholesky
        factorization of d d^T * S^T B S and Ri = R^-1 * d"""
        SBS = _qform(self.B, S)
        d_row = SBS.diagonal(0, -2, -1) ** -0.5
        d_col = d_row.reshape(d_row.shape[0], 1)
        R = linalg.cholesky((SBS * d_row) * d_col, upper=True)
        return linalg.solve_triangular(R, d_row.diag_embed(), upper=True, left=False)

    def _get_svqb(self, U, drop, tau):
        """U made B-orthonormal (Algorithm 4 of Duersch's thesis); drop: without the columns
        that add little to span(U)"""
        if U.numel() == 0:
            return U
        UBU = _qform(self.B, U)
        d = UBU.diagonal(0, -2, -1)
        nz = (d.abs() != 0.0).nonzero()[:, 0]
        if len(nz) < len(d):
            U = U[:, nz]
            if U.numel() == 0:
                return U
            UBU = _qform(self.B, U)
            d = UBU.diagonal(0, -2, -1)
        d_col = (d ** -0.5).reshape(d.shape[0], 1)
        E, Z = _symeig((UBU * d_col) * d_col.mT)
        t = tau * float(E.abs().max())
        if drop:
            keep = (E > t).nonzero()[:, 0]
            E, Z, d_col = E[keep], Z[:, keep], d_col[keep]
        else:
            E[E < t] = t
        return (U * d_col.mT) @ (Z * E ** -0.5)

    def _get_ortho(self, U, V):
        """U made B-orthonormal and B-orthogonal to V (Algorithm 3 of Duersch's thesis; with
        bparams['ortho_use_drop'], Algorithm 6); empty where all of U is B-collinear to V"""
        m = self.iparams["m"]
        tau_ortho = self.fparams["ortho_tol"]
        tau_drop = self.fparams["ortho_tol_drop"]
        tau_replace = self.fparams["ortho_tol_replace"]
        i_max, j_max = self.iparams["ortho_i_max"], self.iparams["ortho_j_max"]
        use_drop = self.bparams["ortho_use_drop"]
        for key in [key for key in self.fvars if key.startswith("ortho_")
                    and key.endswith("_rerr")]:
            self.fvars.pop(key)
        self.ivars.pop("ortho_i", 0)
        self.ivars.pop("ortho_j", 0)
        BV_norm = _matmul(self.B, V).norm()
        BU = _matmul(self.B, U)
        VBU = V.mT @ BU
        i = j = 0
        for i in range(i_max):
            U = U - V @ VBU
            drop = False
            tau_svqb = tau_drop
            for j in range(j_max):
                if use_drop:
                    U = self._get_svqb(U, drop, tau_svqb)
                    drop, tau_svqb = True, tau_replace
                else:
                    U = self._get_svqb(U, False, tau_replace)
                if U.numel() == 0:
                    self.ivars["ortho_i"], self.ivars["ortho_j"] = i, j
                    return U
                BU = _matmul(self.B, U)
                UBU = U.mT @ BU
                U_norm, BU_norm = U.norm(), BU.norm()
                R_norm = (UBU - eye(UBU.shape[-1], dtype=UBU.dtype)).norm()
                rerr = float(R_norm) * float(BU_norm * U_norm) ** -1
                self.fvars[f"ortho_UBUmI_rerr[{i}, {j}]"] = rerr
                if rerr < tau_ortho:
                    break
            VBU = V.mT @ BU
            rerr = float(VBU.norm()) * float(BV_norm * U.norm()) ** -1
            self.fvars[f"ortho_VBU_rerr[{i}]"] = rerr
            if rerr < tau_ortho:
                break
            if m < U.shape[-1] + V.shape[-1]:
                B = self.B
                if B is None:
                    raise AssertionError("B must not be None")
                raise ValueError(f"Overdetermined shape of U: #B-cols(={B.shape[-1]}) >= "
                                 f"#U-cols(={U.shape[-1]}) + #V-cols(={V.shape[-1]}) must hold")
        self.ivars["ortho_i"], self.ivars["ortho_j"] = i, j
        return U
