"""The Pooling chapter's exercise checks: right solutions pass; each planted mistake fails on a case
that shows it, and the verdict names the problem."""

import pytest
import torch
import torch.nn.functional as F

import cnnbook as cb


def _windows(x, kernel_size, stride):
    (kh, kw), (sh, sw) = kernel_size, stride or kernel_size
    return x.unfold(2, kh, sh).unfold(3, kw, sw)


def pool(x, kernel_size, stride=None, mode="max"):
    windows = _windows(x, kernel_size, stride)
    reduce = torch.amax if mode == "max" else torch.mean
    return reduce(windows, dim=(-2, -1))


def pool_with_indices(x, kernel_size, stride=None):
    (_, kw), (sh, sw) = kernel_size, stride or kernel_size
    values, local = _windows(x, kernel_size, stride).flatten(-2).max(dim=-1)
    rows = torch.arange(values.shape[-2])[:, None] * sh + local // kw
    cols = torch.arange(values.shape[-1]) * sw + local % kw
    return values, rows * x.shape[-1] + cols


def test_right_solutions_pass():
    verdict = cb.check_pool2d(pool)
    assert verdict and verdict.tried == verdict.total >= 8
    assert "Well done" in str(verdict)
    assert cb.check_max_pool_indices(pool_with_indices)


def test_a_loop_solution_with_torch_max_and_mean_passes():
    def loop_pool(x, kernel_size, stride=None, mode="max"):
        (kh, kw), (sh, sw) = kernel_size, stride or kernel_size
        h_out = (x.shape[-2] - kh) // sh + 1
        w_out = (x.shape[-1] - kw) // sw + 1
        rows = []
        for i in range(h_out):
            row = []
            for j in range(w_out):
                win = x[..., i * sh:i * sh + kh, j * sw:j * sw + kw].flatten(-2)
                row.append(win.max(dim=-1).values if mode == "max" else win.mean(dim=-1))
            rows.append(torch.stack(row, dim=-1))
        return torch.stack(rows, dim=-2)

    assert cb.check_pool2d(loop_pool)


POOL_MISTAKES = {
    "off by one": (lambda x, k, stride=None, mode="max": pool(x, k, stride, mode)[..., :-1, :-1],
                   ["wrong shape", "one window short", "+ 1"]),
    "rounds up": (lambda x, k, stride=None, mode="max": (
        F.max_pool2d if mode == "max" else F.avg_pool2d)(x, k, stride, ceil_mode=True),
        ["kernel_size=(3, 3)", "wrong shape", "round (n - k) / s down"]),
    "ignores stride": (lambda x, k, stride=None, mode="max": pool(x, k, None, mode),
                       ["stride=(2, 2)", "wrong shape", "does your function use `stride`"]),
    "average instead of max": (lambda x, k, stride=None, mode="max": pool(x, k, stride, "avg"),
                               ["mode='max'", "averages of the windows", "largest value"]),
    "max instead of average": (lambda x, k, stride=None, mode="max": pool(x, k, stride, "max"),
                               ["mode='avg'", "maxima of the windows", "mean of each window"]),
    "kernel sides swapped": (lambda x, k, stride=None, mode="max": pool(x, k[::-1], stride and stride[::-1], mode),
                             ["kernel_size=(2, 3)", "wrong shape", "swapped"]),
    "no gradient": (lambda x, k, stride=None, mode="max": pool(x, k, stride, mode).detach(),
                    ["carries no gradient"]),
    "a tensor rebuilt from numbers": (
        lambda x, k, stride=None, mode="max": torch.tensor(pool(x, k, stride, mode).tolist(),
                                                           dtype=torch.float64),
        ["carries no gradient"]),
}


@pytest.mark.parametrize("name", POOL_MISTAKES)
def test_each_pooling_mistake_fails_and_is_named(name):
    fn, words = POOL_MISTAKES[name]
    verdict = cb.check_pool2d(fn)
    text = str(verdict)
    assert not verdict and "fails" in text
    for word in words:
        assert word in text, f"{name}: {word!r} not in\n{text}"


def test_a_wrong_gradient_is_reported_as_a_gradient():
    class Doubled(torch.autograd.Function):  # right values, twice the gradient
        @staticmethod
        def forward(ctx, y):
            return y.clone()

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    text = str(cb.check_pool2d(lambda x, k, stride=None, mode="max": Doubled.apply(pool(x, k, stride, mode))))
    assert "the gradient with respect to x differs" in text


def test_an_exception_names_the_readers_line():
    def broken(x, kernel_size, stride=None, mode="max"):
        return x.unfold(2, kernel_size, stride)

    text = str(cb.check_pool2d(broken))
    assert "case 1 of" in text and "raised TypeError" in text and "x.unfold(2, kernel_size, stride)" in text


def _local_indices(x, k, stride=None):
    values, local = _windows(x, k, stride).flatten(-2).max(dim=-1)
    return values, local


def _over_channels(x, k, stride=None):
    values, idx = pool_with_indices(x, k, stride)
    n, c, h, w = x.shape
    return values, idx + torch.arange(n * c).view(n, c, 1, 1) * h * w


def _column_major(x, k, stride=None):
    values, idx = pool_with_indices(x, k, stride)
    w, h = x.shape[-1], x.shape[-2]
    return values, (idx % w) * h + idx // w


def _last_tie(x, k, stride=None):
    (_, kw), (sh, sw) = k, stride or k
    windows = _windows(x, k, stride).flatten(-2)
    values = windows.amax(dim=-1)
    local = windows.shape[-1] - 1 - windows.flip(-1).argmax(dim=-1)
    rows = torch.arange(values.shape[-2])[:, None] * sh + local // kw
    cols = torch.arange(values.shape[-1]) * sw + local % kw
    return values, rows * x.shape[-1] + cols


INDEX_MISTAKES = {
    "positions inside the window": (_local_indices, ["(indices) differs", "inside each window",
                                                     "row * W + column"]),
    "counted over every plane": (_over_channels, ["(indices) differs", "starts again at 0"]),
    "column by column": (_column_major, ["(indices) differs", "column by column"]),
    "last maximum on a tie": (_last_tie, ["values 0, 1, 2", "(indices) differs", "first maximum",
                                          "yours keeps the last"]),
    "float indices": (lambda x, k, stride=None: tuple(t.double() for t in pool_with_indices(x, k, stride)),
                      ["should be int64", "got float64"]),
    "values only": (lambda x, k, stride=None: pool(x, k, stride), ["should return a pair (values, indices)"]),
    "ignores stride": (lambda x, k, stride=None: pool_with_indices(x, k),
                       ["stride=(2, 2)", "(values) has the wrong shape", "does your function use `stride`"]),
}


@pytest.mark.parametrize("name", INDEX_MISTAKES)
def test_each_index_mistake_fails_and_is_named(name):
    fn, words = INDEX_MISTAKES[name]
    verdict = cb.check_max_pool_indices(fn)
    text = str(verdict)
    assert not verdict and "fails" in text
    for word in words:
        assert word in text, f"{name}: {word!r} not in\n{text}"


def test_the_last_tie_mistake_passes_every_case_without_ties():
    """Without ties the first and the last maximum are the same: only the tie case catches it."""
    verdict = cb.check_max_pool_indices(_last_tie)
    assert verdict.tried == verdict.total


def test_pytorch_keeps_the_first_maximum_on_a_tie():
    x = torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])
    assert F.max_pool2d(x, 2, return_indices=True)[1].item() == 1


def test_the_checks_do_not_change_the_global_random_state():
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    cb.check_pool2d(pool)
    assert torch.equal(torch.rand(1), before)
