"""The Korean lessons share their code cells with the English ones, cell for cell (tests/test_korean_track.py
checks that), so nbval runs only lesson 00 and one training lesson in Korean (the Korean text, the catalogue and
the fonts are what differ); the others would repeat the English lessons' run and double the test time."""

from pathlib import Path

RUN_IN_KOREAN = {"00_start_here.ipynb", "07_attention.ipynb"}
collect_ignore = [p.name for p in Path(__file__).parent.glob("*.ipynb") if p.name not in RUN_IN_KOREAN]
