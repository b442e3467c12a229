"""Tables render as HTML tables (escaped, aligned) and as text; malformed input is refused."""

import pytest

from cnnbook.models import LeNet5
from cnnbook.summary import layer_table
from cnnbook.tables import Table, layers_table


def test_html_has_one_row_per_row_and_escapes_cells():
    t = Table(["network", "accuracy"], [["a<b", "98.1%"], ["c", 99]])
    out = t._repr_html_()
    assert out.startswith("<table") and out.count("<tr>") == 3
    assert "a&lt;b" in out and "a<b" not in out
    assert '<td style="text-align: right">99</td>' in out
    assert '<th style="text-align: left">network</th>' in out


def test_text_is_aligned():
    t = Table(["n", "value"], [["x", "1"], ["long", "100"]])
    lines = str(t).splitlines()
    assert lines[0] == "n     value"
    assert lines[2] == "x         1" and lines[3] == "long    100"
    assert repr(t) == str(t)


def test_layers_table_totals_the_layer_table():
    rows = layer_table(LeNet5(), (1, 28, 28))
    t = layers_table(rows)
    assert isinstance(t, Table) and len(t.rows) == len(rows) + 1
    assert t.rows[-1][0] == "total" and t.rows[-1][3] == "44,426"


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match=r"rows\[1\]"):
        Table(["a", "b"], [["1", "2"], ["3"]])
    with pytest.raises(ValueError, match="align"):
        Table(["a", "b"], [], align="lx")
    with pytest.raises(TypeError, match="header"):
        Table("ab", [])
    with pytest.raises(TypeError, match="LayerRow"):
        layers_table([("a", 1)])
