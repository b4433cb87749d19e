"""The exercise registry checks answers, and every exercise's worked solution passes its own checker.

Solutions are written out literally where each exercise is registered (never computed by the checker's formula),
so `check(id, solution(id))` tests the checker against an independently worked answer; a wrong answer (the
solution times 3, or "nonsense") must fail, and an answer of the wrong kind must fail without an exception.
"""

import math

import pytest

from lmteach import exercises
from lmteach.exercises import number_in

IDS = exercises.all_ids()  # collected before any test registers a made-up exercise


def test_every_lesson_has_exercises_with_solutions():
    for lesson in ("00", "01", "02", "03", "04", "05", "06", "07"):
        assert any(i.startswith(lesson + ".") for i in IDS), f"lesson {lesson} has no exercise"
    missing = [i for i in IDS if exercises.get(i).solution is None]
    assert not missing, f"exercises without a worked solution: {missing}"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_solution_is_accepted(exercise_id, capsys):
    answer = exercises.solution(exercise_id)
    assert answer == exercises.get(exercise_id).solution
    assert exercises.check(exercise_id, answer) is True
    assert f"✔ Exercise {exercise_id}: correct." in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_wrong_answer_is_rejected(exercise_id, capsys):
    right = exercises.get(exercise_id).solution
    if isinstance(right, str):
        wrong = "nonsense"
    else:
        wrong = right * 3 if right else 1
    assert exercises.check(exercise_id, wrong) is False
    assert f"✘ Exercise {exercise_id}: not yet." in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", IDS)
def test_an_answer_of_the_wrong_kind_is_wrong_not_an_error(exercise_id):
    right = exercises.get(exercise_id).solution
    wrong_kinds = [None, [right], {"answer": right}, "", "forty", float("nan"), True, object()]
    if isinstance(right, str):
        wrong_kinds += [3, 0.5]
    for answer in wrong_kinds:
        assert exercises.check(exercise_id, answer) is False, (exercise_id, answer)


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_number_answer_may_be_typed_with_words_around_it(exercise_id):
    right = exercises.get(exercise_id).solution
    if isinstance(right, str):
        assert exercises.check(exercise_id, f"  {right.upper()} ") is True  # case and spaces ignored
    else:
        assert exercises.check(exercise_id, f"about {right} (my answer)") is True
        assert exercises.check(exercise_id, str(right)) is True


def test_solution_prints_the_worked_answer(capsys):
    assert exercises.solution("02.1") == 24
    out = capsys.readouterr().out
    assert out.startswith("Solution 02.1: 24\n") and exercises.get("02.1").worked in out
    assert exercises.solution("04.3") == 4 and "F0 9F 8C B9" in capsys.readouterr().out
    assert exercises.solution("01.2") == 3.125e-5 and "Solution 01.2: 3.125e-05" in capsys.readouterr().out
    for exercise_id in IDS:
        exercises.solution(exercise_id)
        out = capsys.readouterr().out
        ex = exercises.get(exercise_id)
        assert out.startswith(f"Solution {exercise_id}: ") and (ex.worked or ex.explanation) in out


def test_unknown_ids_raise_key_error_listing_the_exercises():
    for call in (exercises.show, exercises.solution, lambda i: exercises.check(i, 1)):
        with pytest.raises(KeyError, match="no exercise '00.404'") as error:
            call("00.404")
        assert "02.1" in str(error.value) and "07.3" in str(error.value)


def test_03_2_accepts_the_papers_40_epochs():
    # BERT §A.2: "approximately 40 epochs over the 3.3 billion word corpus"; 128e9 / 3.3e9 = 38.8 exactly.
    for answer in (40, 40.0, 39, 38.8, 128e9 / 3.3e9, "about 40 epochs", "approximately 40 epochs over the 3.3 "
                   "billion word corpus", "~39", "128e9 / 3.3e9"):
        assert exercises.check("03.2", answer) is True, answer
    for answer in (51.2, 160, 4, 1e6, "about 51 epochs (Wikipedia)", "forty"):
        assert exercises.check("03.2", answer) is False, answer


def test_numbers_are_read_out_of_strings():
    assert number_in("about 40 epochs") == 40 and number_in(" 1,024 more ") == 1024
    assert number_in("4,364,288 weights") == 4_364_288 and number_in("3.125e-5") == 3.125e-5
    assert number_in("9.2e12 FLOPs") == 9.2e12 and number_in("≈ 6.67x") == 6.67
    assert number_in("1.5%") == pytest.approx(0.015) and number_in("1/4") == 0.25
    assert number_in("GPT-2 small: 0.0041") == 0.0041  # "2" glued to "GPT-" is not the answer
    assert number_in("-0.5") == -0.5 and number_in(63) == 63.0
    for text in ("forty", "", "nonsense", "e5"):
        with pytest.raises(ValueError):
            number_in(text)
    for value in (True, None, [1]):
        with pytest.raises(TypeError):
            number_in(value)


def test_string_answers_ignore_case_quotes_and_a_full_stop():
    assert exercises.check("05.4", "Topic.") and exercises.check("05.4", "'topic'")
    assert exercises.check("01.3", "<Extract>") and exercises.check("00.2", "[unk]")
    assert not exercises.check("05.4", "order") and not exercises.check("04.2", "pre")


def test_checkers_are_not_the_lessons_formulas():
    """Spot checks of the literal values against the questions' own numbers, worked here independently."""
    assert exercises.check("05.1", 30_000 * 128 + 128 * 4096) and not exercises.check("05.1", 30_000 * 4096)
    largest = max(e for e in range(1, 768) if e * (30_000 + 768) < 30_000 * 768)
    assert largest == 748 and exercises.check("05.2", largest) and not exercises.check("05.2", largest + 1)
    assert exercises.check("04.1", 0.02 / math.sqrt(24)) and not exercises.check("04.1", 0.02 / math.sqrt(12))
    assert exercises.check("04.3", len("🌹".encode("utf-8"))) and not exercises.check("04.3", 1)
    assert exercises.check("06.1", 4096 / 614.4) and exercises.check("06.3", 6 * 1.5e6 * 500 * 32 * 64)
    assert exercises.check("01.2", 1e-3 / 2 ** 5) and not exercises.check("01.2", 1e-3 / 2 ** 4)
    assert exercises.check("00.1", len("사".encode("utf-8"))) and exercises.check("03.3", sum(range(1, 11)))


def test_01_1_extract_position_recounted_from_the_tokenizer():
    """01.1's literal 63, recounted from the tokenizer alone: Start + len(A) + Delim + len(B), with no call to the
    GPT-1 input transform the lesson answers with. Fails if the task data or tokenizer change the answer."""
    from lmteach.data.tasks import load_task
    from lmteach.data.tokenization import load_default

    tokenizer = load_default("byte_bpe", gpt1_specials=True)
    example = load_task("same_play", "train")[0]
    a, b = tokenizer.encode(example["text_a"]), tokenizer.encode(example["text_b"])
    position = 1 + len(a) + 1 + len(b)
    assert position < 96  # not truncated at the lesson's max_len
    assert position == exercises.get("01.1").solution
    assert exercises.check("01.1", position) and not exercises.check("01.1", position - 1)
    assert not exercises.check("01.1", position + 0.5)


def test_solution_speaks_the_lesson_language(capsys):
    from lmteach import i18n

    try:
        i18n.set_language("ko")
        assert exercises.solution("00.1") == 3
        assert capsys.readouterr().out.startswith("연습문제 00.1 풀이: 3\n")
    finally:
        i18n.set_language(None)


@pytest.mark.parametrize("exercise_id, korean, wrong", [
    ("00.2", ["미등록 토큰", "[UNK] 토큰"], ["사랑", "없음"]),
    ("01.3", ["추출 토큰", "Extract 토큰", "  추출 "], ["시작 토큰", "구분 토큰"]),
    ("03.4", ["마지막", "마지막 위치", "'마지막'", "마지막 토큰."], ["첫 번째", "처음"]),
    ("04.2", ["포스트", "사후 층 정규화", "Post-LN"], ["프리", "사전 층 정규화"]),
    ("05.4", ["주제", "주제."], ["순서", "일관성"]),
    ("06.4", ["아니요", "아니오", "아니요.", "아니다", "아뇨"], ["예", "네"]),
    ("07.3", ["이전", "앞", "이전 토큰", "바로 앞 토큰"], ["다음", "자기 자신"]),
])
def test_word_answers_may_be_typed_in_korean(exercise_id, korean, wrong, capsys):
    """The Korean track asks the same questions: a student may answer in Korean words (case, quotes, spaces and a
    final full stop ignored as for English), and a wrong Korean word is still wrong."""
    from lmteach import i18n

    for answer in korean:
        assert exercises.check(exercise_id, answer) is True, (exercise_id, answer)
    for answer in wrong:
        assert exercises.check(exercise_id, answer) is False, (exercise_id, answer)
    try:
        i18n.set_language("ko")  # the answers do not depend on the language the lesson speaks
        assert exercises.check(exercise_id, korean[0])
        assert exercises.check(exercise_id, exercises.get(exercise_id).solution)
        assert not exercises.check(exercise_id, wrong[0])
        assert f"✔ 연습문제 {exercise_id}: 정답입니다." in capsys.readouterr().out
    finally:
        i18n.set_language(None)
