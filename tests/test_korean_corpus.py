"""The shipped Korean text (data/korean/): what load_korean() returns, and that the files are the ones the build
script recorded (scripts/build_korean_corpus.py, provenance in data/README.md)."""

import hashlib
import json
import re

from lmteach.data.corpus import Corpus, data_dir, load_korean

FOLDER = data_dir() / "korean"


def test_load_korean_is_a_corpus_of_the_constitution_and_ten_bills():
    corpus = load_korean()
    assert isinstance(corpus, Corpus) and corpus.name == "korean"
    assert corpus.works == ["bill_1809890", "bill_1809891", "bill_1809892", "bill_1809893", "bill_1809894",
                            "bill_1809895", "bill_1809896", "bill_1809897", "bill_1809898", "bill_1809899",
                            "constitution"]
    constitution = corpus.documents[corpus.works.index("constitution")]
    assert constitution[:3] == ["대한민국헌법", constitution[1], "제1장 총강"] and constitution[1].startswith("유구한 역사")
    # One segment an article, its clauses kept together.
    assert constitution[3] == "제1조 ① 대한민국은 민주공화국이다.\n②대한민국의 주권은 국민에게 있고, 모든 권력은 국민으로부터 나온다."
    assert constitution[-1].startswith("제6조 이 헌법시행 당시에")  # the last article of the supplementary provisions
    facts = corpus.describe()
    assert 25_000 < facts["chars"] < 40_000 and facts["segments"] > 300
    hangul = sum("가" <= ch <= "힣" for ch in corpus.text)
    assert hangul > 0.6 * len(re.sub(r"\s", "", corpus.text))


def test_text_is_clean_prose():
    corpus = load_korean()
    text = corpus.text
    assert "\r" not in text and "\f" not in text
    assert "펼침" not in text and "부칙보기" not in text  # the web page's buttons around a heading
    assert not re.search(r"^- \d+ -$", text, re.M), "page numbers of the bills' PDF"
    assert "----" not in text and "구조문대비표" not in text, "the comparison tables are layout, not prose"
    bill = corpus.documents[0]
    assert bill[0] == "지방공무원법 일부개정법률안" and bill[1] == "제안이유 및 주요내용"
    # A line the PDF broke inside a word is joined again ("필요" + "한 나이이나").
    assert "보살핌이 필요한 나이이나" in bill[2]
    sentences = [s for paragraph in bill for s in corpus.sentences(paragraph)]
    assert any(s.endswith("개정하려는 것임(안 제63조제2항제4호).") for s in sentences)


def test_files_are_small_and_those_the_build_recorded():
    manifest = json.loads((FOLDER / "sources.json").read_text(encoding="utf-8"))
    assert manifest["source"]["package"] == "konlpy==0.6.0"
    files = {f["file"]: f for f in manifest["files"]}
    assert set(files) == {p.name for p in FOLDER.glob("*.txt")}
    total = 0
    for name, record in files.items():
        data = (FOLDER / name).read_bytes()
        total += len(data)
        assert hashlib.sha256(data).hexdigest() == record["sha256"], f"{name} changed since it was built"
        assert record["from"].startswith("konlpy/data/corpus/")
    assert total < 1_000_000
