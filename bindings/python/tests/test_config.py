"""byol.Config: keys, types, presets, parsing and the library's errors."""

from __future__ import annotations

import pytest

import byol


def test_defaults_and_typed_values():
    with byol.Config() as cfg:
        assert cfg["net.arch"] == "resnet18"
        assert cfg["threads"] == 0 and isinstance(cfg["threads"], int)
        assert isinstance(cfg["optim.lr"], float)
        assert cfg["loader.shuffle"] is True


def test_preset_then_keyword_arguments_with_double_underscores():
    with byol.Config("cifar10", train__batch_size=64, augment__view1__flip_p=0.25) as cfg:
        assert cfg["net.arch"] == "resnet18-cifar"  # from the preset
        assert cfg["train.batch_size"] == 64
        assert cfg["augment.view1.flip_p"] == 0.25


def test_dict_and_string_settings():
    with byol.Config(settings={"net.arch": "cnn-small", "seed": 5}) as cfg:
        assert cfg["net.arch"] == "cnn-small" and cfg["seed"] == 5
    with byol.Config(settings="threads=2, net.width=0.5") as cfg:
        assert cfg["threads"] == 2 and cfg["net.width"] == 0.5


def test_setitem_by_python_type():
    with byol.Config() as cfg:
        cfg["optim.lr"] = 0.1
        assert cfg["optim.lr"] == 0.1
        cfg["optim.lr"] = 2  # an int is a fine float
        assert cfg["optim.lr"] == 2.0
        cfg["train.batch_size"] = 32.0  # a whole float is a fine int
        assert cfg["train.batch_size"] == 32
        cfg["loader.shuffle"] = False
        assert cfg["loader.shuffle"] is False
        cfg["optim.weight_decay"] = "1e-4"  # text is parsed by the library
        assert cfg["optim.weight_decay"] == pytest.approx(1e-4)
        cfg["loader.drop_last"] = "false"
        assert cfg["loader.drop_last"] is False


def test_parse_and_apply_preset():
    with byol.Config() as cfg:
        cfg.parse('net.arch=cnn-small augment.mean="0.5" seed=9')
        assert cfg["net.arch"] == "cnn-small" and cfg["augment.mean"] == "0.5"
        cfg.apply_preset("fashion-mnist")
        assert cfg["data.channels"] == 1 and cfg["seed"] == 9


def test_unknown_key_raises_key_error_naming_the_key():
    with byol.Config() as cfg:
        with pytest.raises(byol.ByolKeyError, match="net.nope") as info:
            cfg["net.nope"] = 1
        assert info.value.code == -14
        assert "net.nope" in info.value.message  # the library's own message
        with pytest.raises(byol.ByolKeyError, match="optim.lrr"):
            cfg["optim.lrr"]
        with pytest.raises(KeyError):  # also a KeyError
            cfg.parse("bogus.key=1")
    with pytest.raises(byol.ByolKeyError, match="train.bach_size"):
        byol.Config(train__bach_size=3)


def test_bad_values_raise_range_error():
    with byol.Config() as cfg:
        with pytest.raises(byol.RangeError, match="optim.lr"):
            cfg["optim.lr"] = -1.0
        with pytest.raises(byol.RangeError, match="net.arch"):
            cfg["net.arch"] = "resnet9000"
        with pytest.raises(byol.RangeError, match="not an integer"):
            cfg["train.batch_size"] = "many"
        with pytest.raises(byol.RangeError, match="another type"):
            cfg["train.batch_size"] = 2.5
        with pytest.raises(ValueError):  # RangeError is a ValueError
            cfg.parse("threads=-4")
        assert cfg["threads"] == 0  # a failed parse changes nothing
        with pytest.raises(TypeError):
            cfg["threads"] = [2]


def test_unknown_preset():
    with pytest.raises(byol.ByolKeyError, match="cifar11"):
        byol.Config("cifar11")


def test_presets_keys_and_key_info():
    assert {"imagenet", "cifar10", "fashion-mnist"} <= set(byol.presets())
    names = byol.keys()
    assert "optim.lr" in names and "net.arch" in names and len(names) == len(set(names))
    info = byol.key_info("net.arch")
    assert info.type == "string" and "cnn-small" in info.choices
    lr = byol.key_info("optim.lr")
    assert lr.type == "float" and lr.min <= 0.1 <= lr.max
    assert byol.key_info("loader.shuffle").type == "bool"
    with pytest.raises(byol.ByolKeyError, match="no.such"):
        byol.key_info("no.such")
    with byol.Config() as cfg:
        assert cfg.keys() == names and len(cfg) == len(names)
        assert "seed" in cfg and "seed.x" not in cfg
        assert cfg.to_dict()["net.arch"] == "resnet18"


def test_copy_serialize_changed_format():
    with byol.Config("cifar10") as cfg:
        dup = cfg.copy()
        dup["seed"] = 42
        assert cfg["seed"] == 0 and dup["seed"] == 42
        text = dup.serialize()
        assert "seed=42" in text.splitlines()
        with byol.Config(settings=text) as back:
            assert back.changed() == dup.changed()
        assert dup.format("augment.mean") == dup["augment.mean"] == "0.4914,0.4822,0.4465"
        assert dup.format("seed") == "42"
        dup.close()


def test_values_with_quotes_and_line_breaks_round_trip():
    # Issue 13: a quote in a stored setting made the serialised text unreadable;
    # a line break inside a quoted value made changed() read its second line
    # as a setting of its own.
    labels = 'la"b.gz\nseed=5"'
    with byol.Config(data__labels=labels) as cfg:
        assert cfg.changed() == {"data.labels": labels}
        with byol.Config(settings=cfg.serialize()) as back:
            assert back["data.labels"] == labels and back["seed"] == 0


def test_repr_and_serialize_show_shortest_floats():
    with byol.Config("cifar10") as cfg:
        for text in (repr(cfg), cfg.serialize(), cfg.format("ema.tau_base")):
            assert "0.98999" not in text and "1.0000000000000001e-05" not in text
        assert "ema.tau_base=0.99 " in repr(cfg)
        assert "optim.weight_decay=1e-05 " in repr(cfg)
        with byol.Config(settings=cfg.serialize()) as back:
            assert back["ema.tau_base"] == 0.99 and back["optim.weight_decay"] == 1e-05


def test_closed_config():
    cfg = byol.Config()
    cfg.close()
    cfg.close()  # idempotent
    assert cfg.closed
    with pytest.raises(byol.BadStateError, match="closed"):
        cfg["seed"]
    assert "closed" in repr(cfg)
