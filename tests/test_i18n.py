"""Korean on screen: the language switch, claim and exercise messages, widget labels, the message catalogue
(the compiled .mo must be the .po), and a CJK font for Korean plots."""

import importlib.util
import warnings
from pathlib import Path

import pytest
import torch

import lmteach as lt
from lmteach import exercises, i18n
from lmteach.analysis import plots
from lmteach.data.tokenization import load_default
from lmteach.lesson import ClaimFailed, claim, language
from lmteach.training.batches import causal_lm_batches
from lmteach.training.trainer import Trainer
from lmteach.widgets import BPEStepper, MaskingExplorer, TokenizerComparison, TrainingDashboard

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def back_to_the_environment(monkeypatch):
    monkeypatch.delenv("LMTEACH_LANG", raising=False)
    yield
    i18n.set_language(None)
    plots.use_language_font()  # matplotlib's own fonts again


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_language_follows_the_environment_until_chosen(monkeypatch):
    assert language() == "en"
    monkeypatch.setenv("LMTEACH_LANG", "ko_KR.UTF-8")
    assert language() == "ko" and i18n.gettext("Start") == "시작"
    monkeypatch.setenv("LMTEACH_LANG", "fr")            # a language lmteach does not speak: English
    assert language() == "en" and i18n.gettext("Start") == "Start"
    assert language("ko") == "ko" and language() == "ko"  # a choice wins over the environment
    assert language("en") == "en" and i18n.gettext("Start") == "Start"
    with pytest.raises(ValueError, match="speaks en, ko"):
        language("klingon")
    assert i18n.gettext("") == "" and i18n.gettext("a message nobody translated") == "a message nobody translated"


def test_claims_speak_the_lesson_language(capsys):
    language("ko")
    claim(True, "everything the course needs is installed", 1.5)   # a lesson 00 claim: in the catalogue
    claim(True, "a claim the catalogue does not know")
    out = capsys.readouterr().out
    assert "✔ 확인: 강의에 필요한 것이 모두 설치되어 있습니다  (1.5)" in out and "✔ 확인: a claim the catalogue" in out
    with pytest.raises(ClaimFailed, match="이 레슨은 .*한글 음절.*라고 주장하지만.*\\(2\\)"):
        claim(False, "every Hangul syllable of the Korean text is 3 bytes in UTF-8", 2)
    language("en")
    claim(True, "everything the course needs is installed", 1.5)
    assert "✔ everything the course needs is installed  (1.5)" in capsys.readouterr().out


def test_exercise_feedback_speaks_the_lesson_language(capsys):
    language("ko")
    question = exercises.show("00.1")
    assert exercises.check("00.1", 3) and not exercises.check("00.1", 2)
    out = capsys.readouterr().out
    assert question.startswith("한국어 음절 '사'는") and "연습문제 00.1: 한국어 음절" in out
    assert "✔ 연습문제 00.1: 정답입니다. 한글 음절은" in out and "✘ 연습문제 00.1: 아직 아닙니다. len(" in out


def test_shared_widgets_label_themselves_in_korean():
    language("ko")
    comparison = TokenizerComparison("사랑 hello")
    assert comparison.text.description == "텍스트"
    assert "워드피스 (BERT)" in comparison.rows["wordpiece"].value and "미등록 1개" in comparison.rows["wordpiece"].value
    assert "원문 그대로 복원됨" in comparison.rows["byte_bpe"].value
    stepper = BPEStepper("the king and the kingdom. " * 20, num_merges=10, sample="the king")
    stepper.merges.value = 3
    assert stepper.merges.description == "병합" and "병합 <b>3</b>번 뒤" in stepper.view.value
    explorer = MaskingExplorer(load_default("wordpiece"), text="to be or not to be")
    assert explorer.rate.description == "마스킹 비율" and explorer.whole_word.description == "전체 단어 마스킹"
    assert "기댓값" in explorer.counts.value and "유지 비율" in explorer.mix_note.value

    torch.manual_seed(0)
    cfg = lt.configs.gpt2("tiny", vocab_size=50, hidden_size=32, num_heads=2, ffn_size=64, num_layers=1,
                          max_positions=16)
    trainer = Trainer(lt.build(cfg), causal_lm_batches(torch.randint(0, 50, (500,)), 16, 4), total_steps=2,
                      progress=False, device="cpu")
    dash = TrainingDashboard(trainer)
    assert [dash.start_button.description, dash.pause_button.description, dash.stop_button.description] == \
        ["시작", "일시정지", "중지"]
    assert dash.progress.description == "0 스텝" and "대기" in dash.status.value and "장치" in dash.status.value
    language("en")  # a widget made after the switch speaks English again
    assert TokenizerComparison("hello").text.description == "text"


def test_lesson_widgets_switch_language_after_import():
    """Widgets imported in English and drawn after `language("ko")` speak Korean (their labels are looked up when
    drawn, not at import); drawn again after `language("en")`, English."""
    from lmteach.widgets.embedding_calculator import EmbeddingCalculator
    from lmteach.widgets.finetune_lab import FinetuneLab
    from lmteach.widgets.gpt1_inputs import Gpt1InputsExplorer
    from lmteach.widgets.layernorm_lab import LayerNormLab

    cfg = lt.configs.gpt2("tiny", vocab_size=64, num_layers=1, hidden_size=32, ffn_size=64, num_heads=2,
                          max_positions=32)
    batches = causal_lm_batches(torch.randint(0, 64, (500,), generator=torch.Generator().manual_seed(0)), 16, 4)
    gpt1_tokenizer = load_default("byte_bpe", gpt1_specials=True)

    language("ko")
    calc = EmbeddingCalculator()
    assert calc.vocab_size.description == "V (어휘)" and "아낍니다" in calc.summary.value
    lab = FinetuneLab(None, None, task="verse_prose")
    assert [lab.run_button.description, lab.clear_button.description] == ["미세조정", "실행 지우기"]
    assert lab.decay_slider.description == "층별 감쇠율" and "사전학습된 모델" in lab.status.value
    lab.clear()
    assert "아직" in lab.status.value
    norm_lab = LayerNormLab(cfg, batches, num_layers=1, steps=10)
    assert [norm_lab.run_button.description, norm_lab.warmup.description] == ["실행", "웜업 스텝 수"]
    assert "층 1개" in norm_lab.status.value
    explorer = Gpt1InputsExplorer(gpt1_tokenizer)
    assert explorer.task_dropdown.description == "태스크 종류" and explorer.task_dropdown.label == "분류 (genre)"
    assert "<b>분류</b>" in explorer.view.value and "첫 번째 텍스트" in explorer.view.value

    language("en")
    assert EmbeddingCalculator().vocab_size.description == "V (vocab)"
    assert FinetuneLab(None, None).run_button.description == "Fine-tune"
    assert LayerNormLab(cfg, batches, num_layers=1, steps=10).run_button.description == "Run"
    assert "<b>classification</b>" in Gpt1InputsExplorer(gpt1_tokenizer).view.value


# Widget modules whose every message has a Korean translation (beyond translations.REQUIRED_SOURCES).
TRANSLATED_WIDGETS = ("finetune_lab", "layernorm_lab", "gpt1_inputs", "electra_walkthrough", "embedding_calculator",
                      "fill_mask", "fill_blank", "sharing_lab", "attention_explorer", "pair_builder")


def test_lesson_widgets_are_translated():
    pytest.importorskip("babel")
    translations = load_script("translations")
    catalogue = translations.read(i18n.LOCALE_DIR / "ko" / "LC_MESSAGES" / "lmteach.po")
    sources = {f"lmteach/widgets/{name}.py" for name in TRANSLATED_WIDGETS}
    missing = []
    for message in translations.template():
        if message.id and any(location in sources for location, _line in message.locations):
            entry = catalogue.get(message.id)
            strings = () if entry is None else entry.string if isinstance(entry.string, tuple) else (entry.string,)
            if not strings or not all(strings) or entry.fuzzy:
                missing.append(message.id)
    assert not missing, missing
    assert sources <= {f"lmteach/widgets/{path.name}" for path in (ROOT / "lmteach" / "widgets").glob("*.py")}


def test_message_catalogue_is_compiled_and_complete():
    pytest.importorskip("babel")
    translations = load_script("translations")
    failures, _notes = translations.problems()
    assert not failures, "\n".join(failures)
    mo = i18n.LOCALE_DIR / "ko" / "LC_MESSAGES" / "lmteach.mo"
    assert mo.exists() and i18n.translations("ko").gettext("Start") == "시작"


def _missing_glyph_warnings(draw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_korean_plots_use_a_cjk_font_when_installed():
    if plots.cjk_font() is None:
        pytest.skip("no Noto Sans CJK font installed (Debian: apt-get install fonts-noto-cjk)")

    def draw():
        figure, ax = plots.new_figure(3, 2)
        ax.set_title("손실 loss 0.25")
        ax.set_xlabel("스텝")
        assert plots.figure_png(figure).startswith(b"\x89PNG")

    language("en")
    assert _missing_glyph_warnings(draw), "control: matplotlib's default font has no Hangul"
    language("ko")
    assert _missing_glyph_warnings(draw) == []
    language("en")
    from matplotlib import rcParams
    assert plots.cjk_font() not in rcParams["font.sans-serif"][:1]  # English: matplotlib's fonts again


def test_definitions_and_controls_speak_the_lesson_language(capsys):
    from lmteach.lesson import definition

    language("ko")
    definition(True, "a definition the catalogue does not know", 3)
    claim(True, "a claim the catalogue does not know", 1.5, control="untrained weights")
    claim(True, "a claim the catalogue does not know", control="untrained weights")
    out = capsys.readouterr().out
    assert "≡ 구성상 참: a definition the catalogue does not know  (3)" in out
    assert "(1.5; 대조군: 학습하지 않은 가중치)" in out and "(대조군: 학습하지 않은 가중치)" in out
    with pytest.raises(ClaimFailed, match="구성상 .*성립해야 하지만"):
        definition(False, "no token attends to a later token, in any layer or head", 0.5)
    language("en")
    definition(True, "no token attends to a later token, in any layer or head")
    assert "≡ by construction: no token attends to a later token" in capsys.readouterr().out
