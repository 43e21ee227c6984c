from pathlib import Path

import pytest

import imgpipe
from imgpipe.paths import NotACheckoutError, checkout_root


def test_the_checkout_is_the_directory_holding_the_package_and_the_state_machine() -> None:
    root = checkout_root()
    assert Path(imgpipe.__file__).resolve().parent == root / "imgpipe"
    assert (root / "statemachine").is_dir()


def test_a_checkout_is_found_from_any_directory_inside_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "statemachine").mkdir()
    nested = tmp_path / "functions" / "resize"
    nested.mkdir(parents=True)
    assert checkout_root(nested) == tmp_path.resolve()


def test_outside_a_checkout_the_error_says_what_is_missing_and_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")  # a project, but not this one: no statemachine/
    with pytest.raises(NotACheckoutError, match=r"not inside a checkout of imgpipe.*statemachine/.*clone it"):
        checkout_root(tmp_path)
