"""The verdict every exercise check returns: what it says on a pass, a wrong shape, a wrong value,
an exception in the learner's code and a setting that was not refused."""

import pytest
import torch

from cnnbook.exercises.verdict import Verdict, refusal_problem, run_cases, tensor_problem


def _check_double(fn):
    cases = [torch.arange(4.0), torch.ones(2, 3)]
    return run_cases("double", "2 * x", cases, lambda x: tensor_problem(fn(x), 2 * x))


def test_a_right_answer_passes_and_says_how_many_cases():
    verdict = _check_double(lambda x: x + x)
    assert verdict and verdict.passed and verdict.total == 2
    assert "all 2 cases agree with 2 * x" in str(verdict)


def test_a_wrong_value_names_the_case_the_index_and_both_numbers():
    verdict = _check_double(lambda x: x * x)
    assert not verdict and verdict.tried == 1
    text = str(verdict)
    assert "case 1 of 2 fails" in text and "shape (4,)" in text
    assert "index (3,)" in text and "expected 6" in text and "got 9" in text


def test_a_wrong_shape_is_reported_before_values():
    verdict = _check_double(lambda x: (2 * x).flatten())
    assert not verdict and verdict.tried == 2
    assert "wrong shape: expected (2, 3), got (6,)" in str(verdict)


def test_not_a_tensor_is_reported():
    assert "got [0.0, 2.0" in str(_check_double(lambda x: (2 * x).tolist()))


def test_an_exception_in_the_learners_code_names_its_line():
    def broken(x):
        return x.nonexistent()

    text = str(_check_double(broken))
    assert "raised AttributeError" in text and "x.nonexistent()" in text


def test_a_setting_that_must_be_refused():
    assert refusal_problem(lambda: int("x"), "int('x')") is None
    assert "returned" in refusal_problem(lambda: 3, "stride=0")
    assert "raised TypeError" in refusal_problem(lambda: len(3), "stride=0")


def test_a_verdict_is_a_value():
    assert Verdict("a", "b", True, 1, 1) == Verdict("a", "b", True, 1, 1)


def test_every_check_refuses_what_is_not_a_function_naming_fn():
    import cnnbook as cb

    checks = [cb.check_corr2d, cb.check_conv2d, cb.check_conv_input_grad, cb.check_output_size,
              cb.check_pad2d, cb.check_pool2d, cb.check_max_pool_indices, cb.check_alexnet_shapes]
    for check in checks:
        with pytest.raises(TypeError, match=r"fn must be your function itself .* got 3"):
            check(3)
    assert "model should be an nn.Module" in str(cb.check_lenet5_shapes(3))  # a model, not a function
