"""The AlexNet chapter's exercise check: a correct head passes, planted mistakes fail by name."""

import pytest
from torch import nn

from cnnbook.exercises.alexnet import check_alexnet_shapes, paper_head_layers


def paper_head(num_classes, p):
    return nn.Sequential(nn.Linear(9216, 4096), nn.ReLU(inplace=True), nn.Dropout(p),
                         nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p),
                         nn.Linear(4096, num_classes))


def torchvision_order(num_classes, p):
    return nn.Sequential(nn.Dropout(p), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(p),
                         nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes))


def no_dropout(num_classes, p):
    return nn.Sequential(nn.Linear(9216, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                         nn.Linear(4096, num_classes))


def fixed_classes(num_classes, p):
    return paper_head(1000, p)


def fixed_rate(num_classes, p):
    return paper_head(num_classes, 0.5)


def narrow(num_classes, p):
    return nn.Sequential(nn.Linear(9216, 1024), nn.ReLU(), nn.Dropout(p), nn.Linear(1024, 1024),
                         nn.ReLU(), nn.Dropout(p), nn.Linear(1024, num_classes))


def softmax_at_the_end(num_classes, p):
    return nn.Sequential(*paper_head(num_classes, p), nn.Softmax(dim=1))


def not_a_module(num_classes, p):
    return [nn.Linear(9216, 4096)]


def raises(num_classes, p):
    return nn.Linear(9216, 4096, bias=("yes" + 1))


def test_the_paper_head_passes():
    verdict = check_alexnet_shapes(paper_head)
    assert verdict and "all 3 cases agree" in str(verdict)


def test_nested_modules_are_read_in_order():
    def nested(num_classes, p):
        block = nn.Sequential(nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(p))
        return nn.Sequential(block, nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p)),
                             nn.Linear(4096, num_classes))
    assert check_alexnet_shapes(nested)


@pytest.mark.parametrize("wrong, words", [
    (torchvision_order, ["layer 0 should be Linear(9216 -> 4096) (fc6), got Dropout(p=0.5)",
                         "OUTPUTS of fc6 and fc7", "torchvision"]),
    (no_dropout, ["layer 2 should be Dropout(p=0.5) (dropout after fc6), got Linear(4096 -> 4096)"]),
    (fixed_classes, ["case 2 of 3", "layer 6 should be Linear(4096 -> 10) (fc8)"]),
    (fixed_rate, ["case 3 of 3", "Dropout(p=0.25)", "got Dropout(p=0.5)"]),
    (narrow, ["layer 0 should be Linear(9216 -> 4096)", "got Linear(9216 -> 1024)"]),
    (softmax_at_the_end, ["should have 7 layers", "got 8", "remove Softmax"]),
    (not_a_module, ["should return an nn.Module", "got [Linear("]),
    (raises, ["your function raised TypeError"]),
])
def test_planted_mistakes_are_named(wrong, words):
    verdict = check_alexnet_shapes(wrong)
    assert not verdict
    text = str(verdict)
    assert "alexnet_head(num_classes=" in text
    for w in words:
        assert w in text, text


def test_the_reference_is_the_paper_model():
    import torch

    from cnnbook.models import AlexNet
    with torch.device("meta"):
        model = AlexNet(10, dropout=0.5, lrn=False)
    got = [(type(m).__name__, (m.in_features, m.out_features) if isinstance(m, nn.Linear)
            else (m.p,) if isinstance(m, nn.Dropout) else ()) for m in model.classifier]
    assert got == paper_head_layers(10, 0.5)
    assert check_alexnet_shapes(lambda n, p: AlexNet(n, dropout=p, lrn=False).classifier)
