"""The glossary: every term of the course notes is in it, in Korean and English; every place it points to is a
section of a lesson; the search box filters the table, in either language."""

from pathlib import Path

import pytest

from lmteach import i18n
from lmteach.glossary import GLOSSARY, GlossaryBrowser, glossary_html, search, section_exists, where_taught

NOTES = Path(__file__).resolve().parents[2] / "shared" / "000_58eff143994cf5e7.txt"

# The technical terms of the course notes (../shared/000_58eff143994cf5e7.txt), as the notes write them: each must
# be found by searching the glossary (its Korean or English name, or another name it lists).
COURSE_NOTES_TERMS = [
    # GPT-1
    "Special token", "task", "sequence", "language modeling", "Extract", "query", "attention", "내포", "모순",
    "layer", "learning rate", "pre-train",
    # BERT
    "Transformer", "Language Representation", "Unlabeled data", "labeled data", "전이 학습", "ELMo", "Bi-LSTM",
    "Fine Tuning", "Unidirectional", "양방향", "Masked Language Model", "MLM", "인코더", "context", "Mask",
    "Next Sentence Prediction", "NSP", "사전학습",
    # BERT vs GPT-1
    "트레이닝 데이터", "[SEP]", "[CLS]", "문장 A/B 임베딩", "배치사이즈", "Task-specific fine-tuning", "학습률",
    "미세 조정",
    # GPT-2
    "제로샷", "다운스트림 작업", "매개 변수", "웹 스크래치", "Byte pair encoding", "BPE", "vocab", "Layer normalization",
    "하위 블록", "self-attention", "GPT-3",
    # ALBERT
    "경량화", "임베딩", "파라미터", "레이어", "SOTA", "sentence order prediction", "차원", "Vector",
    # ELECTRA
    "토큰 교체", "생성자", "판별자", "GAN",
]
# The terms the task names, by their Korean name.
KOREAN_TERMS = ["사전학습", "미세조정", "마스크 언어 모델", "다음 문장 예측", "문장 순서 예측", "특수 토큰", "보조 언어 모델 손실",
                "층별 학습률", "양방향", "단방향", "층 정규화", "바이트 수준 BPE", "제로샷", "인수분해 임베딩", "층간 파라미터 공유",
                "생성자", "판별자", "교체 토큰 탐지", "어텐션", "임베딩", "세그먼트 임베딩", "웜업", "배치 크기"]


@pytest.fixture(autouse=True)
def english_after(monkeypatch):
    monkeypatch.delenv("LMTEACH_LANG", raising=False)
    yield
    i18n.set_language(None)


@pytest.mark.parametrize("term", COURSE_NOTES_TERMS)
def test_every_term_of_the_course_notes_is_in_the_glossary(term):
    assert search(term), f"the course notes use {term!r}; add it to lmteach/glossary.py"


def test_the_listed_terms_are_in_the_notes():
    if not NOTES.exists():
        pytest.skip(f"{NOTES} not here (the course notes live in the steering repository's shared/)")
    notes = NOTES.read_text(encoding="utf-8").lower()
    absent = [t for t in COURSE_NOTES_TERMS if t.lower() not in notes and t.lower().replace(" ", "") not in notes]
    assert not absent, f"not in the course notes, so not a check of them: {absent}"


@pytest.mark.parametrize("korean", KOREAN_TERMS)
def test_korean_terms_have_an_entry_of_their_own(korean):
    assert any(t.ko == korean for t in GLOSSARY), korean


def test_every_place_is_a_section_of_a_lesson_and_names_are_unique():
    places = [(t.ko, p) for t in GLOSSARY for p in t.where]
    assert len(places) > len(GLOSSARY)
    missing = [(ko, p) for ko, p in places if not section_exists(p)]
    assert not missing, f"no lesson heading contains these words (a lesson was renamed?): {missing}"
    assert len({t.ko for t in GLOSSARY}) == len(GLOSSARY) and len({t.en for t in GLOSSARY}) == len(GLOSSARY)
    assert sum(1 for t in GLOSSARY if t.where) >= 0.9 * len(GLOSSARY)  # course-notes-only terms are the exception


def test_search_finds_terms_in_either_language():
    assert [t.en for t in search("미세조정")][0] == "fine-tuning"
    assert "미세조정" in [t.ko for t in search("Fine Tuning")]  # case and spaces ignored
    assert [t.ko for t in search("SOP")] == ["문장 순서 예측"]
    assert search("xyzzy") == [] and len(search("")) == len(GLOSSARY)
    assert where_taught("02:Masking") == "02 · Masking: what the model is asked to predict"


def test_browser_filters_the_table_and_speaks_korean():
    browser = GlossaryBrowser()
    assert browser.table.value.count("lmteach-glossary-row") == len(GLOSSARY)
    browser.query.value = "판별자"
    assert [t.en for t in browser.terms] == ["discriminator"]
    assert browser.table.value.count("lmteach-glossary-row") == 1 and "06 · Two networks" in browser.table.value
    browser.query.value = "nothing like this"
    assert "no term matches" in browser.table.value
    i18n.set_language("ko")
    korean = GlossaryBrowser("한글")
    assert korean.query.description == "검색" and "한국어" in korean.table.value and "배우는 곳" in korean.table.value
    # Where the Korean lesson exists, the place is its Korean heading (cell for cell with the English lesson).
    assert "00 · 한국어 텍스트" in korean.table.value
    assert "강의 노트에만 나옴" in glossary_html(search("GPT-3"))
