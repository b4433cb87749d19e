"""The Korean lessons share their code cells with the English ones, cell for cell (tests/test_korean_track.py
checks that), so nbval runs only lesson 00 and one training lesson in Korean (the Korean text, the catalogue and
the fonts are what differ); the others would repeat the English lessons' run and double the test time."""

from pathlib import Path

RUN_IN_KOREAN = {"00_start_here.ipynb", "07_attention.ipynb"}
collect_ignore = [p.name for p in Path(__file__).parent.glob("*.ipynb") if p.name not in RUN_IN_KOREAN]


def pytest_collection_modifyitems(config, items):
    """A Korean lesson named on the command line (`pytest notebooks/ko/02_bert.ipynb`) bypasses collect_ignore.
    Its stored outputs are the English lesson's (the build copies them; the Korean kernel prints claims in
    Korean), so nbval would report differences that are only the language: skip it and say where it is tested."""
    import pytest

    for item in items:
        path = Path(str(item.fspath))
        if path.parent == Path(__file__).parent and path.suffix == ".ipynb" and path.name not in RUN_IN_KOREAN:
            item.add_marker(pytest.mark.skip(
                reason=f"the Korean {path.name} shares its code cells with notebooks/{path.name}, which the tests "
                       f"run; in Korean nbval runs only {', '.join(sorted(RUN_IN_KOREAN))} (notebooks/ko/conftest.py)"))
