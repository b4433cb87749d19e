"""The Korean track (notebooks/ko/) cannot drift from the English lessons.

A Korean lesson is built by scripts/build_korean_lessons.py from the English lesson and its narration file
(notebooks/ko/narration/XX_*.md). These tests fail when
(a) a Korean notebook's code cells (or stored outputs) differ from the English lesson's, or it lacks its one
    language cell, or has more than one;
(b) an English Markdown cell has no Korean counterpart;
(c) an English Markdown cell changed since it was translated (the failure names the cell to retranslate);
and when the committed Korean notebook is not what the build makes, or a translated lesson's claims and exercises
have no Korean in the message catalogue.

Lessons listed in TRANSLATED (in the build script) must be complete. Other lessons are "not yet translated": they
are skipped here, except that a Korean notebook that exists for one must still carry the English code exactly.
To add a lesson: `python scripts/build_korean_lessons.py --stub 01`, translate notebooks/ko/narration/01_*.md,
add "01" to TRANSLATED, run `python scripts/translations.py update`, translate the new messages in
lmteach/locale/ko/LC_MESSAGES/lmteach.po, then `python scripts/translations.py compile` and
`python scripts/build_korean_lessons.py`.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lmteach import exercises, i18n

ROOT = Path(__file__).resolve().parents[1]


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


track = load_script("build_korean_lessons")
LESSONS = track.english_lessons()


@pytest.fixture(autouse=True)
def english_after():
    yield
    i18n.set_language(None)


def test_translated_lessons_exist():
    assert "00" in track.TRANSLATED and set(track.TRANSLATED) <= set(LESSONS)
    assert track.LANGUAGE_CELL_TAG == i18n.LANGUAGE_CELL_TAG


@pytest.mark.parametrize("lesson", sorted(LESSONS))
def test_korean_lesson_is_the_english_lesson_with_korean_narration(lesson):
    english_path = LESSONS[lesson]
    korean_path = track.korean_path(english_path)
    if lesson not in track.TRANSLATED and not korean_path.exists():
        pytest.skip(f"lesson {lesson} is not translated yet (python scripts/build_korean_lessons.py --stub {lesson})")
    assert korean_path.exists(), f"{korean_path} is missing: run python scripts/build_korean_lessons.py"
    english = nbformat.read(english_path, as_version=4)
    korean = nbformat.read(korean_path, as_version=4)
    assert track.structure_problems(english, korean) == []                                        # (a)
    built, pairing = track.build(lesson, english_path)
    if lesson in track.TRANSLATED:
        assert pairing.problems() == [], "\n".join(pairing.problems())                                # (b), (c)
        assert track.relative_paths(english) == [], "the Korean lesson runs in notebooks/ko/"
        assert len(pairing.translations) == sum(c.cell_type == "markdown" for c in english.cells)
    assert track.same_notebook(built, korean), (
        f"{korean_path.name} is not what the English lesson and its narration build: "
        "run python scripts/build_korean_lessons.py")


@pytest.mark.parametrize("lesson", track.TRANSLATED)
def test_translated_lessons_show_claims_and_exercises_in_korean(lesson):
    """Every claim and definition statement, every claim's control= and every exercise text of a translated lesson
    has Korean in the catalogue (they are printed by the shared code cells, so only the catalogue can translate
    them)."""
    pytest.importorskip("babel")
    catalogue = load_script("translations")
    statements = [s for s, _cell in catalogue.claim_statements(LESSONS[lesson])]
    texts = [t for t, _id in catalogue.exercise_texts(lesson)]
    assert statements and texts
    korean = i18n.translations("ko")
    untranslated = [m for m in statements + texts if korean.gettext(m) == m]
    assert not untranslated, f"no Korean in lmteach/locale/ko/LC_MESSAGES/lmteach.po for: {untranslated}"
    assert all(exercises.get(i).question for i in exercises.all_ids() if i.startswith(lesson + "."))


def test_the_catalogue_collects_controls_and_definitions(tmp_path):
    catalogue = load_script("translations")
    path = tmp_path / "99_toy.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(
        'claim(x > 1, "x grew", x, control="x before training")\n'
        'definition(y == 0, "y is zero by construction", y)\n'
        'claim(z, f"z is {z}", control=name)')]), path)
    found, untranslatable = catalogue.lesson_messages(path)
    assert [(text, cell) for text, cell, _comment in found] == [
        ("x grew", 0), ("x before training", 0), ("y is zero by construction", 0)]
    assert len(untranslatable) == 2 and "f'z is {z}'" in untranslatable[0] and "control" in untranslatable[1]


# The course notes' terms as each lesson first uses them: the Korean term, the English in parentheses.
FIRST_USES = {
    "00": ("토크나이저(tokenizer)", "바이트 수준 BPE(byte-level BPE", "워드피스(WordPiece", "말뭉치(corpus)",
           "다음 문장 예측(next sentence prediction", "문장 순서 예측(sentence order prediction", "병합(merge)",
           "대조군(control)"),
    "01": ("인과* 마스크(causal mask)", "특수 토큰(special token)", "사전학습(pre-training)", "미세조정(fine-tuning)",
           "보조 언어 모델 손실(auxiliary LM loss)", "층별 학습률(layer-wise learning rate)",
           "입력 변환(input transformations)", "층 정규화(layer normalization"),
    "02": ("마스킹 비율(mask rate)", "80/10/10** 규칙(80/10/10 rule)", "**세그먼트 임베딩**(segment embeddings",
           "**다음 문장 예측**(next sentence prediction", "마스크 언어 모델(masked language model",
           "전체 단어 마스킹(whole-word masking)", "유니그램 정체 구간(unigram plateau)", "특징 기반(feature-based)",
           "양방향 LSTM(bidirectional LSTM"),
    "03": ("단방향(unidirectional)", "양방향(bidirectional)", "레이블 없는 텍스트(unlabeled data)",
           "**동일 연산량**(equal compute)", "학습 데이터 크기(training data size)", "배치 크기(batch size)",
           "작업별 미세조정(task-specific fine-tuning)"),
    "04": ("층 정규화(layer normalization, LayerNorm)", "사전 층 정규화", "**웜업**(warmup)",
           "마지막 층 정규화(final LayerNorm)", "웹텍스트(WebText)", "제로샷\"(zero-shot)", "잔차 스트림(residual stream)",
           "셀프 어텐션(self-attention)", "기울기 노름(gradient"),
    "05": ("**인수분해 임베딩**(factorized embedding parameterization", "**층간 파라미터 공유**(cross-layer parameter sharing",
           "**문장 순서 예측**(sentence order prediction", "모델 경량화(parameter reduction)", "차원(dimension)"),
    "06": ("*교체 토큰 탐지*(replaced token detection", "생성자(generator)", "판별자(discriminator)",
           "생성적 적대 신경망, generative adversarial network", "연산량(compute", "임베딩 공유, shared embeddings"),
    "07": ("어텐션(attention)", "어텐션 헤드(attention head)", "인과 마스크(causal mask)", "양방향(bidirectional)",
           "어텐션 맵(attention map)"),
}


@pytest.mark.parametrize("lesson", sorted(FIRST_USES))
def test_korean_narration_uses_the_course_notes_terms(lesson):
    narration = " ".join(track.narration_path(LESSONS[lesson]).read_text(encoding="utf-8").split())
    for term in FIRST_USES[lesson]:
        assert term in narration, f"the first use of a term names the English in parentheses: {term}"


@pytest.mark.parametrize("lesson", track.TRANSLATED)
def test_korean_headings_match_the_english_cell_for_cell(lesson):
    """The glossary shows where a term is taught by the Korean lesson's heading in the same place (cell, n-th heading
    of the cell) as the English heading it points to; a translation that adds or drops a heading would misplace it."""
    from lmteach.glossary import _headings

    english, korean = LESSONS[lesson], track.korean_path(LESSONS[lesson])
    assert [(cell, n) for cell, n, _text in _headings(korean)] == [(cell, n) for cell, n, _text in _headings(english)]


def test_nbval_collects_the_korean_lessons():
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             "notebooks"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "notebooks/ko/00_start_here.ipynb::Cell 0" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    assert "narration" not in result.stdout


# --- the mechanism, on a lesson made up for the test --------------------------------------------------------------
@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A one-lesson course in tmp_path: 99_toy.ipynb (two Markdown cells, one code cell) and its narration."""
    notebooks, korean = tmp_path / "notebooks", tmp_path / "notebooks" / "ko"
    monkeypatch.setattr(track, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(track, "KOREAN", korean)
    monkeypatch.setattr(track, "NARRATION", korean / "narration")
    notebooks.mkdir()
    english = new_notebook(cells=[new_markdown_cell("# 99 · Toy\n\nYou will learn one thing."),
                                  new_code_cell("x = 1 + 1\nx"), new_markdown_cell("## Try this\nChange x.")])
    path = notebooks / "99_toy.ipynb"
    nbformat.write(english, path)
    track.stub("99", path)
    narration = track.narration_path(path)
    text = narration.read_text(encoding="utf-8")
    text = text.replace(f"{track.TODO}\n# 99 · Toy\n\nYou will learn one thing.", "# 99 · 장난감\n\n한 가지를 배웁니다.")
    text = text.replace(f"{track.TODO}\n## Try this\nChange x.", "## 직접 해 보기\nx를 바꿔 보세요.")
    narration.write_text(text, encoding="utf-8")
    return path


def edit_english(path, edit):
    notebook = nbformat.read(path, as_version=4)
    edit(notebook)
    nbformat.write(notebook, path)


def test_toy_builds_with_one_language_cell_and_the_same_code(toy):
    korean, pairing = track.build("99", toy)
    assert pairing.complete and [c.cell_type for c in korean.cells] == ["markdown", "code", "code", "markdown"]
    assert korean.cells[0].source.startswith("# 99 · 장난감") and korean.cells[3].source.startswith("## 직접 해 보기")
    assert korean.cells[1].metadata["tags"] == [track.LANGUAGE_CELL_TAG] and 'language("ko")' in korean.cells[1].source
    assert track.structure_problems(nbformat.read(toy, as_version=4), korean) == []


def test_a_changed_code_cell_fails(toy):                                                          # (a)
    english = nbformat.read(toy, as_version=4)
    korean, _ = track.build("99", toy)
    korean.cells[2].source = "x = 2 + 2\nx"
    assert any("code cell 1 differs" in p for p in track.structure_problems(english, korean))
    korean, _ = track.build("99", toy)
    korean.cells.insert(2, new_code_cell("print('extra')"))
    assert any("not the English lesson's" in p for p in track.structure_problems(english, korean))
    korean, _ = track.build("99", toy)
    korean.cells.append(track.language_cell())
    assert any("exactly one code cell tagged" in p for p in track.structure_problems(english, korean))
    korean, _ = track.build("99", toy)
    del korean.cells[1]
    assert any("exactly one code cell tagged" in p for p in track.structure_problems(english, korean))


def test_a_new_english_markdown_cell_without_korean_fails(toy):                                   # (b)
    edit_english(toy, lambda nb: nb.cells.insert(2, new_markdown_cell("A new explanation.")))
    _, pairing = track.build("99", toy)
    assert not pairing.complete and pairing.changed == [] and len(pairing.translations) == 2
    assert pairing.problems() == ["99_toy.ipynb: Markdown cell 2 has no Korean counterpart: 'A new explanation.'"]


def test_a_changed_english_markdown_cell_names_the_cell_to_retranslate(toy):                      # (c)
    def edit(nb):
        nb.cells[2].source = "## Try this\nChange x to 3."
    edit_english(toy, edit)
    korean, pairing = track.build("99", toy)
    [problem] = pairing.problems()
    assert "Markdown cell 2 changed since it was translated" in problem and "retranslate" in problem
    assert korean.cells[3].source == "## Try this\nChange x to 3."  # until retranslated, the English shows
    track.stub("99", toy)  # the stub keeps the good translation and marks the changed one
    text = track.narration_path(toy).read_text(encoding="utf-8")
    assert "# 99 · 장난감" in text and "the English changed" in text and "Change x to 3." in text


def test_a_translation_of_a_deleted_cell_is_reported(toy):
    edit_english(toy, lambda nb: nb.cells.pop(2))
    _, pairing = track.build("99", toy)
    assert any("matches no English cell" in p for p in pairing.problems())


# --- Korean text a model works on (lesson 00's tiny Korean language model) ------------------------------------------
def test_a_tiny_char_lm_learns_korean_it_did_not_see():
    import math

    from lmteach.data.corpus import load_korean
    from lmteach.lessons.start import korean_split, train_char_lm
    from lmteach.training.generate import sample

    korean = load_korean()
    train_text, held_out_text = korean_split(korean)
    assert "대한민국은 민주공화국이다" in train_text and "대한민국은 민주공화국이다" not in held_out_text
    assert "이 법은 공포한 날부터 시행한다" in held_out_text and len(held_out_text) > 5000
    lm = train_char_lm(train_text[:6000], held_out_text[:3000], steps=60, width=32, layers=1, seq_len=32)
    untrained = lm.held_out_loss(lm.untrained)
    assert abs(untrained - math.log(lm.tokenizer.vocab_size)) < 0.5  # the control guesses every character alike
    assert lm.held_out_loss() < untrained - 0.5 and lm.losses[-1] < lm.losses[0]
    continued = sample(lm.model, lm.tokenizer, "대한민국의", max_new_tokens=20)
    assert continued.startswith("대한민국의") and len(continued) == len("대한민국의") + 20
