"""The `haco` command line: dispatch, Hydra-style overrides, readable errors."""

from haco.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "haco hand show" in out and "haco data list" in out and "haco bench labels" in out


def test_data_list_prints_table1(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("ObMan", "InterHand2.6M", "Hi4D", "3.5 cm", "provided", "58.41:1"):
        assert name in out


def test_overrides_reach_the_config(capsys, tmp_path):
    assert main(["data", "list", f"data.root={tmp_path}", "--cfg"]) == 0
    assert f"root: {tmp_path}" in capsys.readouterr().out


def test_unknown_command_is_an_error(capsys):
    assert main(["data", "lst"]) == 2
    assert "unknown command 'data lst'" in capsys.readouterr().err


def test_unknown_key_is_an_error_before_anything_runs(capsys):
    assert main(["data", "list", "dat.root=/x"]) == 2
    assert "dat.root" in capsys.readouterr().err


def test_malformed_override_is_an_error(capsys):
    assert main(["data", "list", "root"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_hand_show_writes_a_png(tmp_path, capsys):
    out = tmp_path / "pics" / "hand.png"
    assert main(["hand", "show", f"out={out}"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.parent.glob(".*.partial"))
