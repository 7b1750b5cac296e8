"""Loading a saved model: a file that is not a model is refused with one line
(InvalidInputError, checked before the family's constructor runs); an error the
constructor raises for any other reason is a bug and propagates unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest

from commlb.bits import Precision
from commlb.errors import InvalidInputError
from commlb.models.base import load_model
from commlb.models.rnn import RNNModel
from commlb.models.transformer import TransformerModel


def _saved(tmp_path, config_change=None, param_change=None):
    model = TransformerModel.random(4, 6, np.random.default_rng(0), layers=2, width=4, precision=Precision.fixed(10))
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays["__meta__"]).decode())
    meta["config"].update(config_change or {})
    arrays.update(param_change or {})
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("change, says", [
    ({"layers": "2"}, "config 'layers' must be an int"),
    ({"layers": 2.0}, "config 'layers' must be an int"),
    ({"causal": "no"}, "config 'causal' must be a bool"),
    ({"output_positions": "last"}, "config 'output_positions' must be an int list"),
    ({"embed_fields": [2, "2"]}, "config 'embed_fields' must be an int list or null"),
    ({"attention": 1}, "config 'attention' must be a str"),
])
def test_config_of_the_wrong_type_is_one_line(tmp_path, change, says):
    with pytest.raises(InvalidInputError, match=says) as info:
        load_model(_saved(tmp_path, change))
    assert "\n" not in str(info.value)


def test_scalar_parameter_is_one_line(tmp_path):
    with pytest.raises(InvalidInputError, match="'wout' is a scalar"):
        load_model(_saved(tmp_path, param_change={"param:wout": np.array(3, dtype=np.int64)}))


def test_a_good_file_loads_and_computes_the_same(tmp_path):
    model = load_model(_saved(tmp_path))
    again = TransformerModel.random(4, 6, np.random.default_rng(0), layers=2, width=4, precision=Precision.fixed(10))
    tokens = np.array([0, 3, 1, 2, 2, 1])
    assert model.forward(tokens).same_bits(again.forward(tokens))


@pytest.mark.parametrize("error", [KeyError, TypeError, ValueError, IndexError])
def test_a_bug_in_the_constructor_propagates(tmp_path, monkeypatch, error):
    """Before, load_model turned these four into 'does not describe a model'."""
    path = _saved(tmp_path)

    def broken(self):
        raise error("a bug in the shape check")

    monkeypatch.setattr(TransformerModel, "_check_shapes", broken)
    with pytest.raises(error, match="a bug in the shape check"):
        load_model(path)


def test_a_bug_in_another_family_propagates(tmp_path, monkeypatch):
    model = RNNModel.random(3, np.random.default_rng(1), hidden=2, precision=Precision.fixed(8))
    path = tmp_path / "r.npz"
    model.save(path)
    monkeypatch.setattr(RNNModel, "_check_shapes", lambda self: {}["missing"])
    with pytest.raises(KeyError):
        load_model(path)
