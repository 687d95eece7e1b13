"""Commands that are tested: every `python -m phaze ...` / `phaze ...` command in README.md and docs/*.md.

Each documented command (in a fenced code block, or inline in backticks) goes through:
1. Hydra's own argument parser, exactly as `python -m phaze` parses it: an override after a `-m` that is not
   the last argument is rejected there (`unrecognized arguments`), so `-m` must come first (or last).
2. Either a real run (the cheap ones: `--help`, a single `task=inspect`, and every command whose documented
   output follows it in a `$ ...` block, which must then be printed as shown), or composition: the config of
   the command and of every job of its sweep (command-line sweeps and the config's `hydra.sweeper.params`,
   as Hydra's basic sweeper combines them) is composed with Hydra's compose API, including the `hydra`
   node (so `hydra/launcher=...` and `hydra.launcher.*` keys are checked), and passed through phaze's
   `validate`. An unknown key, choice or type, or a value phaze rejects, fails the test.

Real runs execute in a scratch directory holding the files the docs tell the reader to create (`WORKSPACE`)
and add `tracking=none` and a `hydra.run.dir` there (so a test never writes MLflow stores or outputs into the
checkout). A launcher that is an optional extra (Ray, submitit) and is not installed cannot be composed: its
`hydra/launcher=` and `hydra.launcher.*` overrides are then left out, everything else is checked, and the
test is reported as skipped with that reason after the checks ran.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from phaze.config import register_schemas, validate

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "phaze" / "conf"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MULTIRUN = ("-m", "--multirun")
CONFIG_DIR = ("--config-dir", "-cd")
HELP = ("--help", "-h", "--hydra-help")
# A sweep of more jobs than this is composed on a covering set: job i takes the i-th value of every axis.
MAX_JOBS = 48
# Hydra launchers that are optional extras: group choice -> the plugin package that provides it.
LAUNCHER_PLUGINS = {"joblib": "hydra_plugins.hydra_joblib_launcher", "ray": "hydra_plugins.hydra_ray_launcher",
                    "submitit_slurm": "hydra_plugins.hydra_submitit_launcher",
                    "submitit_local": "hydra_plugins.hydra_submitit_launcher"}
# Files the docs tell the reader to copy before a command, made in the scratch directory:
# path -> (the shipped file it is a copy of, {key: value} lines to change). `conf/...` stands for a file the
# reader adds to phaze/conf/ in a checkout: a command naming such a choice gets the scratch `conf/` on its
# search path instead, so the test never writes into the package. Files a doc writes with a here-document
# (`cat > PATH <<'EOF'`) are made from the doc itself (`heredoc_files`).
WORKSPACE = {
    "my_conf/hw/my_chip.yaml": ("hw/tpuv4.yaml", {"name": "my_chip"}),
    "my_conf/model/my_model.yaml": ("model/llama2_7b.yaml", {"name": "my_model"}),
    "received/experiment/paper_llms.yaml": ("experiment/paper_llms.yaml", {}),
    "conf/hw/mychip.yaml": ("hw/tpuv4.yaml", {"name": "mychip"}),
}

register_schemas()


@dataclass(frozen=True)
class DocCommand:
    where: str  # file:line
    argv: tuple[str, ...]  # the arguments after `python -m phaze` / `phaze`
    expected: tuple[str, ...] | None  # the documented output lines, for a `$ ...` example

    @property
    def id(self) -> str:
        return f"{self.where} {' '.join(self.argv)}"[:120]


_START = re.compile(r"(?:^|(?<=[;&|(])|(?<=\bdo)|(?<=\bthen))\s*(?:python3? -m phaze|phaze)(?=\s|$)")


def _commands_in_line(text: str) -> list[str]:
    """The phaze commands in one shell line: from `python -m phaze` / `phaze` to the next ; & | or # comment."""
    out = []
    for m in _START.finditer(text):
        rest = text[m.end():]
        cut = re.search(r"[;&|]|\s#", rest)
        out.append(rest[:cut.start()] if cut else rest)
    return out


def _argv(raw: str, where: str) -> tuple[str, ...]:
    subst = raw.replace("$PWD", "@WORKSPACE@").replace("$i", "0")
    if "$" in subst or "<" in subst:
        raise AssertionError(f"{where}: a documented command must run as written; unknown placeholder in {raw!r}")
    return tuple(shlex.split(subst))


def doc_commands() -> list[DocCommand]:
    """Every phaze command of README.md and docs/*.md: fenced blocks line by line (with `\\` continuations and
    `$ ` prompts, whose following lines are the expected output), then inline `code` spans in prose."""
    found: list[DocCommand] = []
    for doc in DOCS:
        lines = doc.read_text().splitlines()
        in_block, i = False, 0
        while i < len(lines):
            line, where = lines[i], f"{doc.relative_to(ROOT)}:{i + 1}"
            if line.lstrip().startswith("```"):
                in_block, i = not in_block, i + 1
                continue
            if not in_block:
                for span in re.findall(r"`([^`]+)`", line):
                    if re.match(r"(?:python3? -m phaze|phaze)(?:\s|$)", span):
                        found.extend(DocCommand(where, _argv(c, where), None) for c in _commands_in_line(span))
                i += 1
                continue
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1] + " " + lines[i].strip()
            prompt = line.startswith("$ ")
            text = line[2:] if prompt else line
            expected: list[str] = []
            if prompt:
                while i + 1 < len(lines) and not lines[i + 1].startswith(("$ ", "```")):
                    i += 1
                    expected.append(lines[i])
            for cmd in _commands_in_line(text):
                found.append(DocCommand(where, _argv(cmd, where), tuple(expected) if prompt else None))
            i += 1
    unique: dict[tuple[tuple[str, ...], tuple[str, ...] | None], DocCommand] = {}
    for c in found:  # the same command quoted twice is checked once, at its first place
        unique.setdefault((c.argv, c.expected), c)
    return list(unique.values())


COMMANDS = doc_commands()


def test_the_docs_have_commands_to_check() -> None:
    """The extractor keeps finding the commands (a parser that found none would pass every test)."""
    readme = [c for c in COMMANDS if c.where.startswith("README.md")]
    assert len(readme) >= 8 and len(COMMANDS) >= 30
    assert any("hydra/launcher=joblib" in c.argv for c in COMMANDS)
    assert any(c.expected for c in readme)


def test_a_misplaced_multirun_flag_is_caught() -> None:
    """The old README's joblib line: Hydra's parser rejects the overrides after `-m`."""
    argv = ("model=opt13b", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=3", "search.workers=1")
    with pytest.raises(AssertionError, match="unrecognized arguments"):
        check_parses(argv, "old README")
    check_parses(("-m", *argv[:1], *argv[2:]), "fixed")


def check_parses(argv: tuple[str, ...], where: str) -> None:
    """Hydra's own parser (the one `python -m phaze` runs) must accept argv, and `-m` must be first or last."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            get_args_parser().parse_args(list(argv))
        except SystemExit as exc:
            raise AssertionError(f"{where}: Hydra rejects {' '.join(argv)!r}: {err.getvalue().strip()}") from exc
    flags = [k for k, a in enumerate(argv) if a in MULTIRUN]
    assert all(k in (0, len(argv) - 1) for k in flags), f"{where}: `-m` must come before the overrides"


def heredoc_files() -> dict[str, str]:
    """Files the docs' code blocks create with `cat > PATH <<'TAG'` ... `TAG`, by relative path."""
    files: dict[str, str] = {}
    for doc in DOCS:
        lines = doc.read_text().splitlines()
        for k, line in enumerate(lines):
            m = re.search(r"cat > (\S+) <<-?'?(\w+)'?", line)
            if m and not m.group(1).startswith("/"):
                end = next(j for j in range(k + 1, len(lines)) if lines[j].strip() == m.group(2))
                files[m.group(1)] = "\n".join(lines[k + 1:end]) + "\n"
    return files


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("docs_ws")
    for name in ("tests", "benchmarks"):  # repository paths a command quotes, as from a checkout's root
        (ws / name).symlink_to(ROOT / name, target_is_directory=True)
    for rel, text in heredoc_files().items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    for rel, (source, changes) in WORKSPACE.items():
        text = (CONF / source).read_text()
        for key, value in changes.items():
            text = re.sub(rf"^{key}:.*$", f"{key}: {value}", text, flags=re.M)
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    return ws


def _real_run(cmd: DocCommand, argv: list[str]) -> bool:
    if cmd.expected is not None or any(a in HELP for a in argv):
        return True
    return not any(a in MULTIRUN for a in argv) and "task=inspect" in argv


def _split(argv: list[str], ws: Path) -> tuple[list[str], bool]:
    """The overrides of argv (with --config-dir as a search path) and whether it is a multirun."""
    overrides, multirun, k = [], False, 0
    while k < len(argv):
        a = argv[k]
        if a in MULTIRUN:
            multirun = True
        elif a in CONFIG_DIR:
            k += 1
            overrides.append(f"hydra.searchpath=[file://{ws / argv[k]}]")
        elif a.startswith("-"):
            raise AssertionError(f"flag {a} is not handled by this test: extend tests/test_docs_commands.py")
        else:
            overrides.append(a)
        k += 1
    return overrides, multirun


def _axes(overrides: list[str]) -> list[list[str]]:
    parsed = OverridesParser.create().parse_overrides(overrides)
    axes = []
    for o, text in zip(parsed, overrides, strict=True):
        key = text.split("=", 1)[0]
        axes.append([f"{key}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override() else [text])
    return axes


def _compose(overrides: list[str]) -> OmegaConf:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


def _jobs(overrides: list[str], multirun: bool) -> list[list[str]]:
    """Every job's overrides, as Hydra's basic sweeper builds them (command line over hydra.sweeper.params)."""
    if not multirun:
        return [overrides]
    axes = _axes(overrides)
    first = _compose([axis[0] for axis in axes])
    given = {a[0].split("=", 1)[0].lstrip("+~") for a in axes}
    params = OmegaConf.select(first, "hydra.sweeper.params") or {}
    axes += _axes([f"{k}={v}" for k, v in params.items() if k not in given])
    count = 1
    for axis in axes:
        count *= len(axis)
    if count <= MAX_JOBS:
        return [list(job) for job in product(*axes)]
    return [[axis[i % len(axis)] for axis in axes] for i in range(max(len(axis) for axis in axes))]


def _optional_launcher(overrides: list[str]) -> tuple[list[str], str | None]:
    """Overrides without an uninstalled optional launcher's, and the reason they were left out."""
    for o in overrides:
        if o.startswith("hydra/launcher="):
            plugin = LAUNCHER_PLUGINS.get(o.split("=", 1)[1])
            if plugin is not None and importlib.util.find_spec(plugin) is None:
                kept = [x for x in overrides if not x.startswith(("hydra/launcher=", "hydra.launcher."))]
                return kept, (f"{plugin.split('.')[-1]} is not installed (an optional extra): checked the argument "
                              f"order, the override syntax and phaze's config, not {o} or hydra.launcher.*")
    return overrides, None


def _matches(expected: str, got: str) -> bool:
    """A documented output line against a printed one; ' ... ' in the docs stands for omitted text."""
    pos = 0
    for piece in expected.split(" ... "):
        at = got.find(piece, pos)
        if at < 0:
            return False
        pos = at + len(piece)
    return True


def _user_conf(argv: list[str], ws: Path) -> list[str]:
    """The scratch `conf/` on the search path when argv names a choice only it has (see WORKSPACE)."""
    for a in argv:
        group, _, value = a.partition("=")
        if value and (ws / "conf" / group / f"{value}.yaml").is_file() \
                and not (CONF / group / f"{value}.yaml").is_file():
            if any(x.startswith("hydra.searchpath=") for x in argv):
                raise AssertionError(f"{a}: a choice the reader adds to phaze/conf/, with a search path of its own")
            return [f"hydra.searchpath=[file://{ws / 'conf'}]"]
    return []


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.id for c in COMMANDS])
def test_documented_command(cmd: DocCommand, workspace: Path, tmp_path: Path) -> None:
    argv = [a.replace("@WORKSPACE@", str(workspace)) for a in cmd.argv]
    check_parses(tuple(argv), cmd.where)
    argv += _user_conf(argv, workspace)
    if _real_run(cmd, argv):
        extra = [] if cmd.expected is not None or any(a in HELP for a in argv) else \
            [*(["tracking=none"] if not any(a.startswith("tracking=") for a in argv) else []),
             f"hydra.run.dir={tmp_path / 'run'}"]
        proc = subprocess.run([sys.executable, "-m", "phaze", *argv, *extra], capture_output=True, text=True,
                              cwd=workspace, timeout=300, check=False)
        if cmd.expected is not None:
            printed = (proc.stderr + proc.stdout).strip().splitlines()
            assert len(printed) == len(cmd.expected), f"{cmd.where}: printed {printed}"
            for want, got in zip(cmd.expected, printed, strict=True):
                assert _matches(want, got), f"{cmd.where}: documented {want!r}, printed {got!r}"
            return
        assert proc.returncode == 0, f"{cmd.where}: {proc.stderr.strip()[-2000:]}"
        if not any(a in HELP for a in argv):
            assert (tmp_path / "run" / "result.json").is_file()
        return
    overrides, multirun = _split(argv, workspace)
    overrides, skipped = _optional_launcher(overrides)
    for job in _jobs(overrides, multirun):
        try:
            cfg = _compose(job)
        except Exception as exc:
            raise AssertionError(f"{cmd.where}: the config of {' '.join(job)!r} does not compose: {exc}") from exc
        validate(cfg)
    if skipped:
        pytest.skip(skipped)

