"""The course's technical terms in Korean and English, and where each is taught.

    from lmteach.glossary import GLOSSARY, search, GlossaryBrowser
    search("마스크")            # terms whose Korean, English or other names contain the text
    GlossaryBrowser()           # a search box over the whole table (lesson 00)

The Korean terms are the course notes' own (`사전학습`, `미세조정`, `마스크 언어 모델`, ...). Each term lists the
lessons and sections that teach it as `"LL:words of the section heading"` (none: only the course notes mention it).
The heading itself is read from the lesson notebook when shown (from the Korean lesson, cell for cell, when lmteach
speaks Korean), so the table follows the lessons. tests/test_glossary.py checks that every place exists and that
every term of the course notes is here.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .i18n import LANGUAGE_CELL_TAG, N_, _, current_language

__all__ = ["Term", "GLOSSARY", "search", "where_taught", "glossary_html", "GlossaryBrowser"]

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@dataclass(frozen=True)
class Term:
    """One term: its Korean and English names, other spellings a student may type, and where it is taught."""

    ko: str
    en: str
    where: tuple[str, ...]          # "LL:words of the section heading", e.g. "02:Masking"; () = course notes only
    aliases: tuple[str, ...] = ()   # other Korean or English names ("파인튜닝", "MLM")

    def matches(self, query: str) -> bool:
        q = _fold(query)
        return not q or any(q in _fold(name) for name in (self.ko, self.en, *self.aliases))


def _fold(text: str) -> str:
    return re.sub(r"[\s\-_·]+", "", text).lower()


def T(ko: str, en: str, *where: str, aka: tuple[str, ...] = ()) -> Term:
    return Term(ko, en, tuple(where), tuple(aka))


# Grouped as the course notes are (GPT-1, BERT, BERT vs GPT-1, GPT-2, ALBERT, ELECTRA), after the basics of
# lesson 00 and the attention of lesson 07.
GLOSSARY: tuple[Term, ...] = (
    # --- basics: text to numbers (lesson 00) ---
    T("말뭉치", "corpus", "00:The corpus", aka=("코퍼스",)),
    T("토큰", "token", "00:Three tokenizers"),
    T("시퀀스", "sequence", "00:Three tokenizers", aka=("sequence length", "시퀀스 길이")),
    T("서브워드", "subword", "00:Three tokenizers", aka=("단어 조각", "subword units")),
    T("토크나이저", "tokenizer", "00:Three tokenizers", aka=("토큰화",)),
    T("어휘", "vocabulary", "00:Three tokenizers", aka=("vocab", "어휘 사전")),
    T("문자 단위 토크나이저", "character tokenizer", "00:Three tokenizers", aka=("문자",)),
    T("바이트 쌍 인코딩", "byte-pair encoding", "00:Byte-pair encoding", aka=("BPE",)),
    T("병합", "merge", "00:Byte-pair encoding"),
    T("바이트 수준 BPE", "byte-level BPE", "00:Three tokenizers", "04:Byte-level BPE", aka=("byte BPE",)),
    T("워드피스", "WordPiece", "00:Three tokenizers"),
    T("미등록 토큰", "unknown token", "00:Three tokenizers", "04:Byte-level BPE", aka=("[UNK]", "UNK")),
    T("UTF-8 바이트", "UTF-8 bytes", "00:Korean text", aka=("UTF-8", "바이트")),
    T("한글 음절", "Hangul syllable", "00:Korean text", aka=("Hangul", "한글")),
    T("퀵 모드", "quick mode", "00:Start here", aka=("LMTEACH_QUICK",)),
    T("대조군", "control", "00:Korean text", aka=("control=", "통제군", "대조 실험")),
    # --- GPT-1 ---
    T("언어 모델", "language model", "01:Pretraining, live", aka=("LM", "언어 모델링", "language modeling")),
    T("사전학습", "pre-training", "01:Pretraining, live", "02:Pretrain your own", aka=("사전 학습", "pretraining")),
    T("미세조정", "fine-tuning", "01:Fine-tuning", "02:Fine-tuning through", "03:Fine-tuning both",
      aka=("미세 조정", "파인튜닝", "fine tuning", "finetuning")),
    T("특수 토큰", "special tokens", "01:special tokens", "03:What the papers say", aka=("special token",)),
    T("시작·구분·추출 토큰", "Start / Delim / Extract tokens", "01:special tokens", "01:input transformations",
      aka=("<start>", "<delim>", "<extract>", "Extract 토큰", "추출 토큰")),
    T("입력 변환", "input transformations", "01:input transformations", aka=("task-specific input",)),
    T("태스크", "task", "01:input transformations", aka=("작업", "과제")),
    T("자연어 추론 (함의·모순)", "natural language inference (entailment, contradiction)",
      "01:input transformations", aka=("함의", "내포", "모순", "entailment", "contradiction", "NLI")),
    T("디코더 전용 트랜스포머", "decoder-only transformer", "01:decoder-only transformer", aka=("디코더", "decoder")),
    T("트랜스포머", "Transformer", "01:The model"),
    T("층", "layer", "01:The model", aka=("레이어", "block", "블록")),
    T("인과 마스크", "causal mask", "01:causal mask", "07:Who may attend to whom", aka=("causal",)),
    T("보조 언어 모델 손실", "auxiliary LM loss", "01:Fine-tuning", aka=("λ", "lambda", "auxiliary loss")),
    T("층별 학습률", "layer-wise learning rate", "01:Fine-tuning", aka=("layerwise learning rate", "layer-wise lr")),
    T("학습률", "learning rate", "01:Fine-tuning", "04:Warmup", aka=("lr",)),
    T("손실", "loss", "01:Pretraining, live"),
    T("쿼리", "query", "01:causal mask", "07:The attention explorer", aka=("query vector",)),
    T("은닉 상태", "hidden state", "01:input transformations", aka=("hidden states", "hidden vector")),
    T("피드포워드 신경망", "feed-forward network (FFN)", "01:The model", aka=("FFN", "feed-forward", "피드포워드")),
    T("유니그램 모델", "unigram model", "01:Pretraining, live", "02:How much to mask",
      aka=("unigram", "bigram", "바이그램 모델")),
    T("다수 클래스 기준선", "majority baseline", "01:Fine-tuning", aka=("baseline", "기준선", "chance")),
    # --- BERT ---
    T("양방향", "bidirectional", "03:Who may look at whom", "07:Who may attend to whom"),
    T("단방향", "unidirectional (left-to-right)", "03:Who may look at whom",
      aka=("unidirectional", "left-to-right", "왼쪽에서 오른쪽")),
    T("인코더", "encoder", "03:Who may look at whom", "06:Two networks"),
    T("언어 표현", "language representation", "02:BERT", aka=("representation", "표현")),
    T("ELMo", "ELMo", "03:BERT vs GPT-1", aka=("엘모",)),
    T("양방향 LSTM", "bidirectional LSTM (Bi-LSTM)", aka=("Bi-LSTM", "LSTM")),
    T("마스크 언어 모델", "masked language model", "02:Masking", aka=("MLM", "masked LM", "마스크드 언어 모델")),
    T("[MASK] 토큰", "[MASK] token", "02:Masking", aka=("mask token", "마스크 토큰")),
    T("마스킹 비율", "mask rate", "02:How much to mask", aka=("masking rate", "마스크 비율")),
    T("80/10/10 규칙", "80/10/10 rule", "02:Why 80/10/10", aka=("무작위 토큰 치환", "random token")),
    T("전체 단어 마스킹", "whole-word masking", "02:Masking", aka=("whole word masking",)),
    T("다음 문장 예측", "next sentence prediction", "02:next sentence prediction", "05:NSP vs SOP", aka=("NSP",)),
    T("문장 쌍", "sentence pair", "02:Sentence pairs", aka=("segment A/B", "문장 A/B")),
    T("세그먼트 임베딩", "segment embeddings", "02:Sentence pairs", "03:What the papers say",
      aka=("문장 A/B 임베딩", "token type embeddings", "segment embedding")),
    T("[CLS] 토큰", "[CLS] token", "02:Fine-tuning through", aka=("CLS",)),
    T("[SEP] 토큰", "[SEP] token", "02:Sentence pairs", aka=("SEP",)),
    T("빈칸 채우기", "fill-mask", "02:Fill in the blanks", aka=("fill mask",)),
    T("레이블 없는 데이터", "unlabeled data", "03:BERT vs GPT-1", aka=("unlabelled", "비지도")),
    T("레이블된 데이터", "labeled data", "02:Fine-tuning through", aka=("labelled", "지도")),
    T("전이 학습", "transfer learning", "01:input transformations", "02:Fine-tuning through"),
    T("문맥", "context", "02:Masking", aka=("맥락",)),
    T("복사 정확도", "copy accuracy", "02:Why 80/10/10"),
    T("유니그램 정체 구간", "unigram plateau", "02:unigram plateau", aka=("plateau",)),
    T("특징 기반 방식", "feature-based approach", "02:ELMo's alternative",
      aka=("feature-based", "features", "특징 추출", "frozen features")),
    # --- BERT vs GPT-1 ---
    T("학습 데이터 크기", "training data size", "03:What the papers say", aka=("트레이닝 데이터", "data size")),
    T("배치 크기", "batch size", "03:What the papers say", aka=("배치사이즈", "batch")),
    T("작업별 미세조정", "task-specific fine-tuning", "01:input transformations", "03:What the papers say"),
    T("동일 연산량 비교", "equal-compute comparison", "03:The same probe at equal compute", "06:The same-compute comparison",
      aka=("same compute", "FLOPs")),
    # --- GPT-2 ---
    T("층 정규화", "layer normalization", "04:The LayerNorm lab", aka=("LayerNorm", "레이어 정규화", "layer norm")),
    T("사전 층 정규화 / 사후 층 정규화", "pre-LN / post-LN", "04:differ by a few switches", "04:The LayerNorm lab",
      aka=("pre-LN", "post-LN", "하위 블록 입력")),
    T("마지막 층 정규화", "final layer normalization", "04:final LayerNorm", aka=("final LayerNorm", "final norm")),
    T("웜업", "warmup", "04:Warmup", aka=("학습률 웜업", "warm-up")),
    T("기울기 노름", "gradient norm", "04:Gradients at initialization", aka=("그래디언트", "gradient")),
    T("제로샷", "zero-shot", "04:Zero-shot", aka=("zero shot", "제로 샷")),
    T("다운스트림 작업", "downstream task", "02:Fine-tuning through", "04:Zero-shot", aka=("downstream",)),
    T("웹텍스트", "WebText", aka=("웹 스크래핑", "웹 스크래치", "web scraping", "Reddit", "데이터셋")),
    T("셀프 어텐션", "self-attention", "01:causal mask", "04:differ by a few switches", aka=("self attention",)),
    T("잔차 연결", "residual connection", "04:differ by a few switches", "04:residual init",
      aka=("residual", "residual stream", "잔차 스트림", "잔차")),
    T("GPT-3", "GPT-3", aka=("더 큰 배치", "larger batch")),
    # --- ALBERT ---
    T("모델 경량화", "parameter reduction", "05:ALBERT", aka=("경량화", "lightweight model")),
    T("임베딩", "embedding", "05:Factorized embeddings", aka=("embeddings", "임베딩 벡터")),
    T("인수분해 임베딩", "factorized embedding parameterization", "05:Factorized embeddings",
      aka=("factorized embedding", "임베딩 분해", "embedding size")),
    T("층간 파라미터 공유", "cross-layer parameter sharing", "05:Sharing modes",
      aka=("파라미터 공유", "parameter sharing", "레이어 간 파라미터 공유")),
    T("파라미터 수", "parameter count", "05:Sharing modes", aka=("매개변수", "parameters", "매개 변수")),
    T("문장 순서 예측", "sentence order prediction", "05:NSP vs SOP", aka=("SOP",)),
    T("층별 변화량", "layer-to-layer smoothness", "05:The sharing lab", aka=("smoothness",)),
    T("차원", "dimension (hidden size)", "05:Factorized embeddings", aka=("dimension", "hidden size", "은닉 크기")),
    T("최고 성능", "state of the art (SOTA)", aka=("SOTA", "state of the art")),
    # --- ELECTRA ---
    T("교체 토큰 탐지", "replaced token detection", "06:Walk one sentence", aka=("RTD", "토큰 교체")),
    T("생성자", "generator", "06:Two networks", "06:How big should the generator be", aka=("generator network",)),
    T("판별자", "discriminator", "06:Two networks", aka=("discriminator network",)),
    T("생성적 적대 신경망", "generative adversarial network", "06:not a GAN", aka=("GAN", "적대적")),
    T("연산량", "compute (FLOPs)", "06:Counting compute", aka=("compute", "FLOPs", "계산량")),
    T("임베딩 공유", "shared embeddings", "06:Two networks", aka=("shared embedding table",)),
    T("ROC AUC", "ROC AUC", "06:How good is the discriminator", aka=("AUC",)),
    # --- attention (lesson 07) ---
    T("어텐션", "attention", "07:The attention explorer", "01:causal mask", aka=("주의 집중",)),
    T("어텐션 헤드", "attention head", "07:heads", aka=("헤드", "head", "multi-head")),
    T("어텐션 맵", "attention map", "07:The attention explorer", aka=("attention weights",)),
)


def search(query: str) -> list[Term]:
    """Terms whose Korean or English name (or another name) contains `query`, ignoring case and spaces."""
    return [term for term in GLOSSARY if term.matches(query)]


# --- where a term is taught: the section heading, read from the lesson --------------------------------------
def _headings(path: Path) -> list[tuple[int, int, str]]:
    """(cell index, heading index within the cell, text) of every Markdown heading of a notebook. A translated
    lesson's language cell (tagged LANGUAGE_CELL_TAG) is not counted, so indices match the English lesson's."""
    cells = [cell for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
             if LANGUAGE_CELL_TAG not in cell.get("metadata", {}).get("tags", [])]
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = [line for line in source.splitlines() if line.startswith("#")]
        found += [(i, j, line.lstrip("#").strip()) for j, line in enumerate(lines)]
    return found


@lru_cache(maxsize=None)
def _lesson_headings(lesson: str, language: str) -> tuple[str, list]:
    """The lesson's English headings, each with its counterpart in `language` ('' where none)."""
    english = sorted(NOTEBOOKS.glob(f"{lesson}_*.ipynb"))
    if not english:
        return "", []
    headings = _headings(english[0])
    translated: dict = {}
    korean = NOTEBOOKS / "ko" / english[0].name
    if language == "ko" and korean.exists():
        # The Korean lesson has the English lesson's cells, cell for cell (see scripts/build_korean_lessons.py).
        translated = {(i, j): text for i, j, text in _headings(korean)}
    return english[0].name, [(text, translated.get((i, j), "")) for i, j, text in headings]


_NUMBERING = re.compile(r"^(lesson\s*)?\d+\s*[.·—:-]?\s*", re.IGNORECASE)  # "Lesson 04 — ", "00 · ", "6. "


def _find(key: str, headings: list) -> tuple[str, str] | None:
    """The heading `key` points to: one that starts with its words (numbering aside), else the shortest one
    containing them."""
    matching = [h for h in headings if _fold(key) in _fold(h[0])]
    starting = [h for h in matching if _fold(_NUMBERING.sub("", h[0])).startswith(_fold(key))]
    return (starting or sorted(matching, key=lambda h: len(h[0])) or [None])[0]


def where_taught(place: str, language: str | None = None) -> str:
    """'02:Masking' -> '02 · Masking: what the model is asked to predict' (the heading in the lesson's language
    where the Korean lesson exists); the key itself when the lesson is not found."""
    lesson, _sep, key = place.partition(":")
    found = _find(key, _lesson_headings(lesson, language or current_language())[1])
    heading = (found[1] or found[0]) if found else key
    return f"{lesson} · {_NUMBERING.sub('', heading).replace('`', '')}"


def section_exists(place: str) -> bool:
    """Whether the lesson of `place` has a heading containing its words (tests use it)."""
    lesson, _sep, key = place.partition(":")
    return _find(key, _lesson_headings(lesson, "en")[1]) is not None


# --- showing it ------------------------------------------------------------------------------------------------
def glossary_html(terms=GLOSSARY) -> str:
    """The terms as a table: Korean, English, where taught (headers in the lesson's language)."""
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(_(h))}</th>"
                   for h in (N_("Korean"), N_("English"), N_("where it is taught")))
    rows = []
    for term in terms:
        places = "<br>".join(html.escape(where_taught(p)) for p in term.where) or html.escape(_("course notes only"))
        rows.append(f"<tr class='lmteach-glossary-row'><td style='padding:2px 8px'><b>{html.escape(term.ko)}</b></td>"
                    f"<td style='padding:2px 8px'>{html.escape(term.en)}</td>"
                    f"<td style='padding:2px 8px;color:#444'><small>{places}</small></td></tr>")
    if not rows:
        rows.append("<tr><td colspan='3'><i>" + html.escape(_("no term matches")) + "</i></td></tr>")
    return f"<table class='lmteach-glossary-table'><tr>{head}</tr>{''.join(rows)}</table>"


class GlossaryBrowser:
    """A search box over the glossary: type Korean or English (e.g. `마스크`, `fine`); the table keeps the matching
    terms. `.query.value` can be set from code, `.terms` is what the table shows."""

    def __init__(self, query: str = ""):
        import ipywidgets as W

        self.query = W.Text(value=query, description=_("search"), placeholder=_("a Korean or English term"),
                            continuous_update=True, layout=W.Layout(width="420px"))
        self.count = W.HTML()
        self.table = W.HTML(layout=W.Layout(max_height="420px", overflow="auto"))
        self.query.observe(lambda _change: self.render(), names="value")
        self.widget = W.VBox([W.HBox([self.query, self.count]), self.table])
        self.widget.add_class("lmteach-glossary")
        self.render()

    def render(self):
        self.terms = search(self.query.value)
        self.count.value = _("{shown} of {total} terms").format(shown=len(self.terms), total=len(GLOSSARY))
        self.table.value = glossary_html(self.terms)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
