"""`make mutate`: mutmut over the modules that hold rules, one group at a time, each with its own tests.

A group is the rule modules of one capability and the test files that guard them. mutmut (3.x)
copies the tree into ``var/mutate/<group>/`` (never touching the working tree), runs the group's
tests once to learn which test reaches which function, then runs each mutant against only those
tests. A group whose modules do not exist yet (a capability still on another branch) is skipped, so
the lines for sign-ups and the transparency log are already here: they start counting when their
packages land.

    .venv/bin/python tests/mutate.py                 # every group
    .venv/bin/python tests/mutate.py permissions     # some groups
    MUTATE_CHILDREN=1 .venv/bin/python tests/mutate.py verdicts
    # a narrowed run: these tests only, these mutants only, a CPU limit for tests without a database
    MUTATE_TIMEOUT=2 MUTATE_TESTS="tests/registry/test_standing.py" \
        MUTATE_ONLY="*x_standing__* *x__not_genuine__*" .venv/bin/python tests/mutate.py verdicts

Prints, per group, mutants / killed / survived / timeouts and the score, the surviving mutants'
names (``cd var/mutate/<group> && ../../../.venv/bin/mutmut show <name>`` prints the diff), and
writes ``var/mutate/summary.json``. Not part of `make test`: run it before an issue is resolved and
put the score in its closing note (tests/MUTATION.md has the last run, and each survivor explained).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "var" / "mutate"
COPIED = ("backend", "miniprogram_api", "notifications", "migrations", "tests", "pyproject.toml")


@dataclass(frozen=True)
class Group:
    mutate: tuple[str, ...]  # globs of the modules to mutate, from the project's root
    tests: tuple[str, ...]  # the test files (or folders) that guard them
    # mutmut's CPU limit per mutant is (estimated test time + this) x 30 s: a pytest session here
    # spends seconds migrating its database before the first test, more on a loaded machine. Groups
    # whose tests need no database take a small one, or a mutant looping for ever costs half an hour.
    timeout_constant: float = 60.0


GROUPS: dict[str, Group] = {
    "permissions": Group(
        ("backend/accounts/permissions.py",),
        (
            "tests/accounts/test_permissions.py",
            "tests/partybuilding/test_authorization.py",
            "tests/registry/test_region_codes_api.py",
        ),
    ),
    "tokens": Group(
        ("backend/accounts/tokens.py", "backend/accounts/session_cache.py", "backend/registry/qrtoken.py"),
        ("tests/accounts", "tests/registry/test_qrtoken.py"),
    ),
    "verdicts": Group(
        ("backend/registry/qr.py",),
        (
            "tests/registry/test_standing.py",
            "tests/registry/test_verdict_inputs.py",
            "tests/registry/test_registry_api.py",
            "tests/test_disclosure.py",
        ),
    ),
    "checkin-rules": Group(
        ("backend/partybuilding/geofence.py", "backend/partybuilding/rotating_code.py"),
        (
            "tests/partybuilding/test_rules.py",
            *(
                f"tests/partybuilding/test_checkins.py::{name}"
                for name in (
                    "test_code_is_valid_through_its_interval_plus_grace_then_expires",
                    "test_code_from_the_future_or_another_secret_is_invalid",
                    "test_next_code_is_not_derivable_from_earlier_ones",
                )
            ),
        ),
    ),
    "checkin": Group(
        ("backend/partybuilding/checkins.py",),
        (
            "tests/partybuilding/test_checkins.py",
            "tests/partybuilding/test_rules.py",
            "tests/events/test_atomicity.py",
        ),
    ),
    "ledger": Group(
        ("backend/charity/ledger.py", "backend/charity/totals.py"),
        # Service-level (no app session): a mutant costs seconds, not the ~30 s of an API test's
        # session. tests/charity/test_ledger_api.py holds the same rules over HTTP.
        ("tests/charity/test_ledger_rules.py",),
    ),
    "signups": Group(
        ("backend/recruitment/seats.py", "backend/recruitment/signups.py", "backend/recruitment/answers.py"),
        # Service-level and pure tests only (no app session); test_signups_api.py, test_concurrency.py
        # and the API test of test_questions.py hold the same rules over HTTP.
        (
            "tests/recruitment/test_answer_rules.py",
            "tests/recruitment/test_signup_rules.py",
            *(
                f"tests/recruitment/test_questions.py::{name}"
                for name in (
                    "test_good_answers_are_kept_with_the_phone_encrypted_and_masked",
                    "test_each_bad_answer_is_named_with_its_problem",
                    "test_missing_required_answers_and_unknown_questions_are_all_named_at_once",
                    "test_optional_questions_may_be_left_out",
                    "test_a_mobile_number_may_be_written_with_spaces_dashes_or_the_country_code",
                )
            ),
        ),
    ),
    "transparency": Group(
        ("backend/translog/merkle.py", "backend/translog/note.py"),
        ("tests/translog/test_merkle.py", "tests/translog/test_note.py"),
        timeout_constant=2.0,
    ),
}


def _toml_list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _prepare(name: str, group: Group) -> Path:
    tests = tuple(os.environ.get("MUTATE_TESTS", "").split()) or group.tests
    where = WORK / name
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for item in COPIED:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, where / item, ignore=ignore)
        else:
            shutil.copy2(source, where / item)
    with (where / "pyproject.toml").open("a", encoding="utf-8") as config:
        config.write(
            "\n[tool.mutmut]\n"
            'source_paths = ["backend"]\n'
            f"only_mutate = {_toml_list(group.mutate)}\n"
            f'also_copy = ["miniprogram_api", "notifications", "migrations"]\n'
            f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
            f"timeout_constant = {os.environ.get('MUTATE_TIMEOUT') or group.timeout_constant}\n"
        )
    return where


def _stats(where: Path) -> dict[str, int]:
    mutmut = str(Path(sys.executable).parent / "mutmut")
    subprocess.run([mutmut, "export-cicd-stats"], cwd=where, check=True, capture_output=True)
    return json.loads((where / "mutants" / "mutmut-cicd-stats.json").read_text())


def _survivors(where: Path) -> list[str]:
    mutmut = str(Path(sys.executable).parent / "mutmut")
    out = subprocess.run([mutmut, "results"], cwd=where, check=True, capture_output=True, text=True).stdout
    return [line.split(":")[0].strip() for line in out.splitlines() if line.strip().endswith(": survived")]


def run(name: str, group: Group) -> dict[str, object] | None:
    if not any(glob.glob(str(ROOT / pattern)) for pattern in group.mutate):
        print(f"== {name}: skipped ({', '.join(group.mutate)} not in this tree yet)")
        return None
    where = _prepare(name, group)
    mutmut = str(Path(sys.executable).parent / "mutmut")
    children = os.environ.get("MUTATE_CHILDREN", "2")
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")}
    only = os.environ.get("MUTATE_ONLY", "").split()  # mutant name globs: a narrowed run
    tests = os.environ.get("MUTATE_TESTS", "").split() or group.tests
    print(f"== {name}: mutmut over {', '.join(group.mutate)} with {', '.join(tests)}", flush=True)
    if only:
        print(f"   only the mutants {' '.join(only)}", flush=True)
    started = time.monotonic()
    done = subprocess.run([mutmut, "run", "--max-children", children, *only], cwd=where, env=env, check=False)
    stats = _stats(where)
    survivors = _survivors(where)
    tested = stats["killed"] + stats["survived"] + stats["timeout"] + stats.get("suspicious", 0)
    score = (stats["killed"] + stats["timeout"]) / tested if tested else 0.0
    summary = {
        "group": name,
        "exit": done.returncode,
        "minutes": round((time.monotonic() - started) / 60, 1),
        **stats,
        "score": round(score, 3),
        "survivors": survivors,
    }
    print(
        f"== {name}: {stats['total']} mutants, {stats['killed']} killed, {stats['survived']} survived, "
        f"{stats['timeout']} timeouts, {stats['no_tests']} without tests; score {score:.1%} "
        f"in {summary['minutes']} min"
    )
    for survivor in survivors:
        print(f"   survived: {survivor}")
    return summary


def main(argv: list[str]) -> int:
    names = argv or list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        print(f"unknown groups {unknown}; known: {', '.join(GROUPS)}")
        return 2
    results = [r for r in (run(n, GROUPS[n]) for n in names) if r is not None]
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "summary.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
