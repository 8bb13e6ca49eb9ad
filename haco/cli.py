"""The `haco` command: `haco <group> <command> key=value ...`.

Each command is a config name in haco/conf plus a function taking the composed config (and
the overrides too, when it has a parameter `overrides`: a command that expands a study
composes each trial's config from them, as a launch does). Functions are imported lazily,
so `haco data list` never pays for importing torch.
"""

from __future__ import annotations

import importlib
import inspect
import sys

from haco.config import ConfigError, load_config
from haco.interrupt import report_interrupted, sigterm_as_interrupt

# (group, command) -> (config name, "module:function"). Later issues add rows here.
COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("hand", "show"): ("hand_show", "haco.hand.drawing:show_command"),
    ("data", "list"): ("data_list", "haco.data.registry:list_command"),
    ("data", "synth"): ("data_synth", "haco.synth.generate:synth_command"),
    ("data", "stats"): ("data_stats", "haco.synth.stats:stats_command"),
    ("data", "import"): ("data_import", "haco.data.importer:import_command"),
    ("data", "verify"): ("data_verify", "haco.data.verify:verify_command"),
    ("bench", "labels"): ("bench_labels", "haco.bench.labels:bench_command"),
    ("bench", "synth"): ("bench_synth", "haco.bench.synth:bench_command"),
    ("bench", "loader"): ("bench_loader", "haco.bench.loader:bench_command"),
    ("bench", "model"): ("bench_model", "haco.bench.model:bench_command"),
    ("bench", "losses"): ("bench_losses", "haco.bench.losses:bench_command"),
    ("bench", "train"): ("bench_train", "haco.bench.train:bench_command"),
    ("bench", "sweep"): ("bench_sweep", "haco.bench.sweep:bench_command"),
    ("bench", "fit"): ("bench_fit", "haco.bench.fit:bench_command"),
    ("bench", "budgets"): ("bench_budgets", "haco.bench.budgets:bench_command"),
    ("bench", "estimate"): ("bench_estimate", "haco.bench.estimate:bench_command"),
    ("bench", "tracking"): ("bench_tracking", "haco.bench.tracking:bench_command"),
    ("train",): ("train", "haco.train.cli:train_command"),
    ("eval",): ("eval", "haco.train.cli:eval_command"),
    ("predict",): ("predict", "haco.predict:predict_command"),
    ("ui",): ("ui", "haco.ui:ui_command"),
    ("baselines",): ("baselines", "haco.sweep.launch:baselines_command"),
    ("pretrain",): ("pretrain", "haco.pretrain.train:pretrain_command"),
}


def usage() -> str:
    lines = ["usage: haco <command> [key=value ...]", "", "commands:"]
    for words, (config, _) in COMMANDS.items():
        lines.append(f"  haco {' '.join(words):<16} config: haco/conf/{config}.yaml")
    lines.append("")
    lines.append("Options: --cfg prints the composed config and exits; --config-file FILE "
                 "starts from a saved config (a run's config.yaml, a search's best config).")
    return "\n".join(lines)


def command_help(words: tuple[str, ...]) -> str:
    """A command's help: the comment heading its config file (what it does, how to run
    it), then how to see and change every key."""
    from importlib.resources import files

    config, _ = COMMANDS[words]
    text = files("haco.conf").joinpath(f"{config}.yaml").read_text()
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("# ").rstrip())
    return "\n".join([f"haco {' '.join(words)}: config haco/conf/{config}.yaml", *header, "",
                      ("Every key of the config can be set as key=value; "
                      f"`haco {' '.join(words)} --cfg` prints them all.")])


def split_command(argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """Longest prefix of `argv` naming a command; the rest are overrides and flags."""
    for size in (2, 1):
        words = tuple(argv[:size])
        if words in COMMANDS:
            return words, argv[size:]
    raise ConfigError(f"unknown command {' '.join(argv[:2])!r}\n\n{usage()}")


def pop_config_file(args: list[str]) -> tuple[str | None, list[str]]:
    """(the path after `--config-file`, the other arguments)."""
    if "--config-file" not in args:
        return None, args
    at = args.index("--config-file")
    if at + 1 >= len(args) or "=" in args[at + 1]:
        raise ConfigError("--config-file needs a path, e.g. --config-file runs/hpo/best.yaml")
    return args[at + 1], args[:at] + args[at + 2:]


def parse_flags(args: list[str]) -> tuple[bool, list[str]]:
    """(whether --cfg was given, the key=value overrides). Hydra spells the flag
    `--cfg job`; the word after it is accepted and ignored."""
    overrides = [a for i, a in enumerate(args) if a != "--cfg"
                 and not (a in ("job", "all") and i and args[i - 1] == "--cfg")]
    return "--cfg" in args, overrides


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    try:
        words, rest = split_command(argv)
        if {"-h", "--help"} & set(rest):
            print(command_help(words))
            return 0
        config_file, rest = pop_config_file(rest)
        show_cfg, overrides = parse_flags(rest)
        config_name, target = COMMANDS[words]
        cfg = load_config(config_name, overrides, config_file)
    except ConfigError as err:
        print(f"haco: {err}", file=sys.stderr)
        return 2
    if show_cfg:
        from omegaconf import OmegaConf

        print(OmegaConf.to_yaml(cfg))
        return 0
    return run_command(target, cfg, overrides)


def run_command(target: str, cfg, overrides: list[str]) -> int:
    """Call the command's function; its errors that need no traceback as one line:
    a ConfigError (exit 2, nothing done), Ctrl-C or SIGTERM (130, haco/interrupt.py), a
    full disk (1, haco/disk.py)."""
    module, function = target.split(":")
    try:
        with sigterm_as_interrupt():
            command = getattr(importlib.import_module(module), function)
            takes_overrides = "overrides" in inspect.signature(command).parameters
            result = command(cfg, overrides=overrides) if takes_overrides else command(cfg)
    except ConfigError as err:  # raised by a command's own validation, before it runs
        print(f"haco: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return report_interrupted()
    except OSError as err:
        from haco import disk

        if not disk.is_disk_full(err):
            raise
        return disk.report_full(err)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
