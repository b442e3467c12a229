"""The Convolution chapter's exercise checks: a correct answer passes, and each planted mistake
fails with a verdict that names it."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnbook.exercises.convolution import check_conv2d, check_conv_input_grad, check_corr2d

# ---------------------------------------------------------------- corr2d

def corr2d(x, k):
    kh, kw = k.shape
    out = torch.zeros(x.shape[0] - kh + 1, x.shape[1] - kw + 1, dtype=x.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (x[i:i + kh, j:j + kw] * k).sum()
    return out


def test_corr2d_correct_passes():
    verdict = check_corr2d(corr2d)
    assert verdict, str(verdict)
    assert "all 7 cases agree" in str(verdict)


def test_corr2d_flipped_kernel_is_named():
    verdict = check_corr2d(lambda x, k: corr2d(x, k.flip(0, 1)))
    assert not verdict and "kernel is flipped" in str(verdict)


def test_corr2d_off_by_one_names_the_size():
    def short(x, k):
        return corr2d(x, k)[:-1]
    verdict = check_corr2d(short)
    assert not verdict and "wrong shape" in str(verdict) and "H - kH + 1" in str(verdict)


def test_corr2d_square_kernels_only_fails_on_rectangles():
    def square(x, k):
        return corr2d(x, k[:, :k.shape[0]] if k.shape[1] > k.shape[0] else k[:k.shape[1]])
    verdict = check_corr2d(square)
    assert not verdict and verdict.tried == 3  # the first rectangular kernel (2, 3)


def test_corr2d_an_exception_is_reported():
    verdict = check_corr2d(lambda x, k: x @ k)
    assert not verdict and "raised RuntimeError" in str(verdict) and verdict.tried == 1


# ---------------------------------------------------------------- conv2d

def conv2d(x, weight, bias=None, stride=1, padding=0):
    x = F.pad(x, (padding,) * 4)
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    h_out, w_out = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = torch.zeros(n, c_out, h_out, w_out, dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = torch.einsum("nchw,ochw->no", patch, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def test_conv2d_correct_passes_with_gradients():
    verdict = check_conv2d(conv2d)
    assert verdict, str(verdict)


def test_conv2d_flip_is_named():
    verdict = check_conv2d(lambda x, w, b=None, stride=1, padding=0:
                           conv2d(x, w.flip(2, 3), b, stride, padding))
    assert not verdict and "kernel is flipped" in str(verdict) and verdict.tried == 1


def test_conv2d_missing_bias_is_named():
    verdict = check_conv2d(lambda x, w, b=None, stride=1, padding=0: conv2d(x, w, None, stride,
                                                                            padding))
    assert not verdict and "bias is missing" in str(verdict)


def test_conv2d_ignored_stride_is_named():
    verdict = check_conv2d(lambda x, w, b=None, stride=1, padding=0: conv2d(x, w, b, 1, padding))
    assert not verdict and "stride 1" in str(verdict) and "stride=2" in str(verdict)


def test_conv2d_ignored_padding_is_named():
    verdict = check_conv2d(lambda x, w, b=None, stride=1, padding=0: conv2d(x, w, b, stride, 0))
    assert not verdict and "padding 0" in str(verdict)


def test_conv2d_first_channel_only_is_named():
    verdict = check_conv2d(lambda x, w, b=None, stride=1, padding=0:
                           conv2d(x[:, :1], w[:, :1], b, stride, padding))
    assert not verdict and "only the first input channel" in str(verdict)


def test_conv2d_wrong_channel_sum_gets_the_rule():
    def mixed(x, w, b=None, stride=1, padding=0):  # sums over the wrong kernel's channels
        return conv2d(x, w.roll(1, dims=1), b, stride, padding)
    verdict = check_conv2d(mixed)
    assert not verdict and "sum over all input channels" in str(verdict)


def test_conv2d_off_by_one_size_gets_the_formula():
    def one_short(x, w, b=None, stride=1, padding=0):
        return conv2d(x, w, b, stride, padding)[..., :-1, :]
    verdict = check_conv2d(one_short)
    assert not verdict and "wrong shape" in str(verdict) and "// stride + 1" in str(verdict)


def test_conv2d_wrong_gradient_is_caught():
    class Doubled(torch.autograd.Function):  # the right values, twice the gradient
        @staticmethod
        def forward(ctx, t):
            return t.clone()

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    verdict = check_conv2d(lambda x, w, b=None, stride=1, padding=0:
                           conv2d(Doubled.apply(x), w, b, stride, padding))
    assert not verdict and "the gradient for x" in str(verdict)


def test_conv2d_detached_result_is_not_graded_on_gradients():
    verdict = check_conv2d(lambda x, w, b=None, stride=1, padding=0:
                           conv2d(x.detach(), w.detach(), b, stride, padding))
    assert verdict, str(verdict)


# ---------------------------------------------------------------- the input gradient

def input_grad(grad_out, weight):
    kh, kw = weight.shape[2:]
    return F.conv2d(grad_out, weight.flip(2, 3).transpose(0, 1), padding=(kh - 1, kw - 1))


def test_input_grad_correct_passes():
    verdict = check_conv_input_grad(input_grad)
    assert verdict, str(verdict)


def test_input_grad_without_flip_is_named():
    def no_flip(g, w):
        kh, kw = w.shape[2:]
        return F.conv2d(g, w.transpose(0, 1), padding=(kh - 1, kw - 1))
    verdict = check_conv_input_grad(no_flip)
    assert not verdict and "not flipped" in str(verdict)


def test_input_grad_without_padding_gets_the_padding():
    def no_pad(g, w):
        return F.conv2d(g, w.flip(2, 3).transpose(0, 1), padding=1)
    verdict = check_conv_input_grad(no_pad)
    assert not verdict and "wrong shape" in str(verdict) and "kH - 1" in str(verdict)


def test_input_grad_channels_not_swapped_gets_the_rule():
    def same_channels(g, w):
        kh, kw = w.shape[2:]
        w2 = w.flip(2, 3)
        return F.conv2d(g, w2.reshape(w2.shape[1], w2.shape[0], kh, kw), padding=(kh - 1, kw - 1))
    verdict = check_conv_input_grad(same_channels)
    assert not verdict and "swap the weight's first two dimensions" in str(verdict)
