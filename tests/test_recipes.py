"""Recipes (`lmteach.recipes`): every shipped checkpoint is a named recipe built by one command. The table's
configs build, the compute arithmetic (two sequence lengths, equal-compute steps, the snapshot step) agrees with
the one FLOP counter summed by hand, the README says how the model was made, and a whole build of a tiny
recipe trains, measures, ships (leaving the folder's other files alone), resumes, and refuses to mix settings.

The shipped checkpoints themselves are checked in tests/test_shipped_checkpoints.py."""

import functools
import json
import math

import pytest
import torch

import lmteach as lt
import lmteach.data.corpus as corpus_module
from lmteach import recipes
from lmteach.analysis.compute import training_flops
from lmteach.data.corpus import PLAY_SPLIT, Corpus
from lmteach.recipes import (RECIPES, Recipe, _steps, build_recipe, list_recipes, measure, meets_targets,
                             model_config, readme, short_then_long, training_flops_of)
from lmteach.training import load_checkpoint, read_info, save_checkpoint

TINY_MODEL = dict(num_layers=1, hidden_size=32, num_heads=2, ffn_size=64)


def vocab_of(recipe):
    return recipes._tokenizer(recipe.model).vocab_size


# --- the table ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_config_builds(name):
    recipe = RECIPES[name]
    tokenizer = recipes._tokenizer(recipe.model)
    settings = recipe.settings()
    cfg = model_config(recipe, tokenizer.vocab_size, settings)
    assert cfg.family == recipe.model["family"] and cfg.vocab_size == tokenizer.vocab_size
    assert cfg.max_positions >= settings["seq_len"]
    for key, value in recipe.model.items():  # every override reached the config
        if key not in ("family", "size", "tokenizer", "gpt1_specials"):
            assert getattr(cfg, key) == value, key
    if "dropout" in settings:
        assert cfg.dropout == cfg.attention_dropout == settings["dropout"]
    if recipe.model.get("gpt1_specials"):
        assert tokenizer.extract_id is not None  # GPT-1's <extract>, for fine-tuning (§3.3)
    head = "masked_lm" if recipe.kind in ("masked_lm", "mask_sweep") else "pretraining"
    model = lt.build(cfg, head=head).eval()
    ids = torch.tensor([[getattr(tokenizer, "cls_id", None) or 0] + list(range(10, 17))])
    with torch.no_grad():
        out = model(input_ids=ids)
    logits = out.logits if out.logits is not None else out.prediction_logits
    assert logits.shape[:2] == (1, 8) and torch.isfinite(logits).all()
    assert recipe.lessons and recipe.summary and recipe.folder


def test_model_config_follows_the_settings():
    recipe = RECIPES["bert-tiny"]
    cfg = model_config(recipe, 100, {**recipe.settings(), "dropout": 0.3, "seq_len": 256})
    assert cfg.dropout == cfg.attention_dropout == 0.3 and cfg.max_positions == 256 and cfg.vocab_size == 100
    assert model_config(recipe, 100, {**recipe.settings(), "seq_len": 32}).max_positions == 128  # never shorter
    assert model_config(recipe, 100, recipe.settings()).pair_task == "nsp"
    assert model_config(RECIPES["albert-sop"], 100, RECIPES["albert-sop"].settings()).pair_task == "sop"


def test_settings_take_overrides_but_not_nones():
    recipe = RECIPES["gpt1-tiny"]
    assert recipe.settings(steps=7)["steps"] == 7
    assert recipe.settings(steps=None) == recipe.settings() == recipe.training
    assert recipe.training["steps"] != 7  # the table itself is left alone


def test_recipes_are_equal_compute_to_recipes_in_the_table():
    for recipe in RECIPES.values():
        for other in (recipe.equal_compute_to, recipe.snapshot_at_compute_of):
            assert other is None or other in RECIPES
        for figure, (op, value) in recipe.targets.items():
            assert op in (">=", "<=") and isinstance(value, float)


def test_meets_targets_on_both_sides_of_the_line():
    recipe = Recipe("t", "t", "a test", ("00",), "mlm_pair", {}, {},
                    targets={"high": (">=", 0.5), "low": ("<=", 0.6)})
    assert meets_targets(recipe, {"high": 0.5, "low": 0.6, "other": 0.0}) == {"high": True, "low": True}
    assert meets_targets(recipe, {"high": 0.49, "low": 0.61}) == {"high": False, "low": False}


# --- compute ------------------------------------------------------------------------------------------------------

def test_short_then_long_switches_at_the_step():
    batches = short_then_long(lambda step: ("short", step), lambda step: ("long", step), short_steps=3)
    assert [batches(step) for step in range(5)] == [("short", 0), ("short", 1), ("short", 2), ("long", 3),
                                                    ("long", 4)]
    only_long = short_then_long(lambda step: "short", lambda step: "long", short_steps=0)
    assert only_long(0) == "long"


def _flops_recipe(kind="mlm_pair", **training):
    model = dict(family="bert", size="tiny", tokenizer="wordpiece", pair_task="nsp", **TINY_MODEL)
    if kind == "masked_lm":
        model = dict(family="electra", size="tiny", tokenizer="wordpiece", generator_fraction=None, **TINY_MODEL)
    return Recipe("t", "t", "a test", ("00",), kind, model,
                  dict(dict(steps=10, short_steps=4, short_seq_len=16, seq_len=64, batch_size=8, rate=0.2),
                       **training))


def test_training_flops_of_adds_the_two_phases():
    recipe = _flops_recipe()
    cfg = model_config(recipe, 100, recipe.settings())
    # 4 steps of 32 sequences of 16 tokens (the same tokens per step), then 6 steps of 8 of 64
    by_hand = (training_flops(cfg, 4, 32, 16, "pretraining", mlm_fraction=0.2)
               + training_flops(cfg, 6, 8, 64, "pretraining", mlm_fraction=0.2))
    assert training_flops_of(recipe, recipe.settings(), 100) == pytest.approx(by_hand)
    # fewer steps than the short phase: only short steps
    assert training_flops_of(recipe, recipe.settings(steps=3), 100) == pytest.approx(
        training_flops(cfg, 3, 32, 16, "pretraining", mlm_fraction=0.2))
    # no short phase
    plain = _flops_recipe(short_steps=0)
    assert training_flops_of(plain, plain.settings(), 100) == pytest.approx(
        training_flops(cfg, 10, 8, 64, "pretraining", mlm_fraction=0.2))
    # a masked LM (no pair head) is counted with its own head
    mlm = _flops_recipe("masked_lm")
    mlm_cfg = model_config(mlm, 100, mlm.settings())
    assert training_flops_of(mlm, mlm.settings(), 100) == pytest.approx(
        training_flops(mlm_cfg, 4, 32, 16, "masked_lm", mlm_fraction=0.2)
        + training_flops(mlm_cfg, 6, 8, 64, "masked_lm", mlm_fraction=0.2))


def test_equal_compute_steps_spend_at_most_the_other_recipes_flops():
    mlm, electra = RECIPES["electra-mlm"], RECIPES["electra-tiny"]
    vocab = vocab_of(mlm)
    budget = training_flops_of(electra, electra.settings(), vocab_of(electra))
    steps = _steps(mlm, mlm.settings(), vocab)
    assert training_flops_of(mlm, mlm.settings(steps=steps), vocab) <= budget
    assert training_flops_of(mlm, mlm.settings(steps=steps + 1), vocab) > budget  # one more step would not fit
    # ELECTRA runs a generator besides the same-sized body: the masked LM gets more steps for the same compute.
    assert steps > electra.settings()["steps"]
    assert _steps(mlm, mlm.settings(steps=5), vocab) == 5  # an explicit --steps (a trial) wins
    assert _steps(electra, electra.settings(), vocab) == electra.settings()["steps"]


def test_snapshot_step_is_reached_during_training():
    bert, gpt1 = RECIPES["bert-tiny"], RECIPES["gpt1-tiny"]
    vocab = vocab_of(bert)
    budget = training_flops_of(gpt1, gpt1.settings(), vocab_of(gpt1))
    snapshot = _steps(bert, {**bert.settings(), "steps": None}, vocab, compute_of=bert.snapshot_at_compute_of)
    assert training_flops_of(bert, bert.settings(steps=snapshot), vocab) <= budget
    assert training_flops_of(bert, bert.settings(steps=snapshot + 1), vocab) > budget
    assert 0 < snapshot < bert.settings()["steps"]  # otherwise the build would never ship it


# --- the README ---------------------------------------------------------------------------------------------------

def _result(recipe, settings, figures, met):
    return {"recipe": recipe.name, "settings": settings, "figures": figures, "targets_met": met, "seconds": 90,
            "machine": "a test machine", "built": "2025-01-02",
            "command": f"python -m lmteach recipe build {recipe.name}"}


def test_readme_has_the_command_every_setting_and_every_figure():
    recipe = RECIPES["albert-nsp"]
    figures = {"masked_accuracy": 0.31234, "nsp_accuracy": 0.8, "sop_accuracy": 0.7, "masked_tokens": 1000}
    text = readme(recipe, _result(recipe, recipe.settings(), figures, meets_targets(recipe, figures)))
    assert "```bash\npython -m lmteach recipe build albert-nsp\n```" in text
    assert "2025-01-02" in text and "1.5 minutes" in text and "a test machine" in text
    for key, value in {**recipe.model, **recipe.settings()}.items():
        assert f"| {key} | {value} |" in text, key
    assert "| masked_accuracy | 0.3123 |  |" in text and "| masked_tokens | 1000 |" in text
    assert "| nsp_accuracy | 0.8000 | >= 0.7 (met) |" in text
    assert "| sop_accuracy | 0.7000 | <= 0.6 (NOT met) |" in text
    for play in PLAY_SPLIT["test"]:
        assert play in text
    assert "Used by lesson 05." in text
    mlm = RECIPES["electra-mlm"]
    assert "equal those of `electra-tiny`" in readme(mlm, _result(mlm, mlm.settings(steps=10), {}, {}))


# --- a whole build, on a tiny recipe and a small corpus -------------------------------------------------------------

@pytest.fixture(scope="module")
def small_corpus():
    """The shipped corpus cut to two scenes of every play (the held-out plays are all still there)."""
    full = corpus_module.load_corpus()
    by_scene = full.speeches_by_document()
    keep = [i for i, work in enumerate(full.document_works) if full.document_works[:i].count(work) < 2]
    return Corpus(documents=[full.documents[i] for i in keep], document_works=[full.document_works[i] for i in keep],
                  speeches=[s for i in keep for s in by_scene[i]], name="small")


@pytest.fixture
def tiny_recipes(monkeypatch, small_corpus):
    """Two tiny recipes in the table (the second one cheaper, to snapshot at), the small corpus everywhere, and the
    recipes' measurement on its quick samples."""
    model = dict(family="bert", size="tiny", tokenizer="wordpiece", pair_task="nsp", **TINY_MODEL)
    training = dict(steps=3, short_steps=1, short_seq_len=16, seq_len=32, batch_size=2, lr=1e-3, warmup=1,
                    schedule="cosine", weight_decay=0.01, seed=0, span_tokens=14, cut="anywhere", speakers=True,
                    rate=0.15, dropout=0.0)
    tiny = Recipe("tiny-test", "tiny-test", "A tiny BERT for the tests", ("02",), "mlm_pair", model, training,
                  targets={"masked_accuracy": (">=", 0.0), "nsp_accuracy": (">=", 1.01)},
                  snapshot_at_compute_of="tiny-cheaper")
    cheaper = Recipe("tiny-cheaper", "tiny-cheaper", "The same, two steps", ("02",), "mlm_pair", model,
                     dict(training, steps=2))
    monkeypatch.setitem(RECIPES, tiny.name, tiny)
    monkeypatch.setitem(RECIPES, cheaper.name, cheaper)
    monkeypatch.setattr(corpus_module, "load_corpus", lambda path=None: small_corpus)
    monkeypatch.setattr(recipes, "measure", functools.partial(measure, quick=True))
    return tiny


@pytest.mark.slow
def test_build_ships_resumes_and_refuses_other_settings(tmp_path, tiny_recipes):
    out, work = tmp_path / "shipped", tmp_path / "work"
    out.mkdir()
    (out / "NOTES.md").write_text("my own notes")
    log = []
    result = build_recipe("tiny-test", out=out, work=work, log=log.append)

    # the folder's own files survive; the checkpoint and its README are written
    assert (out / "NOTES.md").read_text() == "my own notes"
    info = read_info(out)
    extra = info["extra"]
    assert extra["settings"] == tiny_recipes.settings() == result["settings"]
    assert extra["recipe"] == "tiny-test" and extra["command"] == "python -m lmteach recipe build tiny-test"
    assert extra["dtype"] == "float16" and info["step"] == 3
    assert (out / "README.md").read_text() == readme(tiny_recipes, extra)
    assert result["targets_met"] == {"masked_accuracy": True, "nsp_accuracy": False}
    assert set(result["figures"]) >= {"masked_accuracy", "nsp_accuracy", "sop_accuracy"}
    steps = [e for e in info["history"]["events"] if e["event"] == "step"]
    assert [e["step"] for e in steps] == [0, 1, 2]
    # fp16 on disk, fp32 when loaded, the recipe's config
    from safetensors import safe_open
    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        assert {weights.get_tensor(k).dtype for k in weights.keys()} == {torch.float16}
    model, loaded = load_checkpoint(out)
    assert next(model.parameters()).dtype == torch.float32
    assert loaded["cfg"] == model_config(tiny_recipes, loaded["tokenizer_obj"].vocab_size, tiny_recipes.settings())

    # the snapshot at the cheaper recipe's compute: step 2 of 3, in equal-compute/
    snapshot = read_info(out / "equal-compute")
    assert snapshot["step"] == 2 and snapshot["extra"]["compute_of"] == "tiny-cheaper"
    assert snapshot["extra"]["flops"] == pytest.approx(
        training_flops_of(tiny_recipes, tiny_recipes.settings(steps=2), loaded["tokenizer_obj"].vocab_size))
    assert "tiny-cheaper" in (out / "equal-compute" / "README.md").read_text()

    # the work folder holds a resumable checkpoint: the same command resumes (here: already at the end)
    assert read_info(work)["extra"]["settings"] == tiny_recipes.settings()
    again = build_recipe("tiny-test", out=out, work=work, log=log.append)
    assert any("resuming from step 3 of 3" in line for line in log)
    assert again["figures"] == result["figures"]  # the same model, measured the same way

    # other settings in the same work folder: refused, saying which settings it holds
    with pytest.raises(SystemExit, match="other settings") as refused:
        build_recipe("tiny-test", out=out, work=work, steps=4, log=log.append)
    assert "'steps': 3" in str(refused.value)


@pytest.mark.slow
def test_build_sweep_writes_results_and_a_readme(tmp_path, monkeypatch, small_corpus):
    from lmteach.lessons.bert import load_sweep, sweep_curves

    sweep = Recipe("tiny-sweep", "tiny-sweep", "Results of a tiny sweep", ("02",), "mask_sweep",
                   dict(family="bert", size="tiny", tokenizer="wordpiece", num_layers=1),
                   dict(rates=(0.15, 0.5), seeds=(0,), steps=2, eval_every=1, num_layers=1, batch_size=4,
                        seq_len=16, lr=1e-3))
    monkeypatch.setitem(RECIPES, sweep.name, sweep)
    monkeypatch.setattr(corpus_module, "load_corpus", lambda path=None: small_corpus)
    result = build_recipe("tiny-sweep", out=tmp_path, log=lambda line: None)
    saved = load_sweep(tmp_path / "results.json")
    assert saved["recipe"] == "tiny-sweep" and saved["settings"]["rates"] == [0.15, 0.5]
    assert [(run["rate"], run["seed"]) for run in saved["runs"]] == [(0.15, 0), (0.5, 0)]
    for run in saved["runs"]:
        assert [step for step, _ in run["curve"]] == [1, 2]
        assert run["predictions_per_step"] == round(run["rate"] * 4 * 14)  # the rate of the 14 text tokens
    assert list(sweep_curves(saved)) == [0.15, 0.5]
    text = (tmp_path / "README.md").read_text()
    assert "python -m lmteach recipe build tiny-sweep" in text and "| 15% |" in text and "| 50% |" in text
    assert result["figures"] == {f"final_{run['rate']}": run["curve"][-1][1] for run in saved["runs"]}


def test_unknown_recipe_is_refused():
    with pytest.raises(ValueError, match="bert-tiny"):
        build_recipe("no-such-recipe")


# --- measuring ----------------------------------------------------------------------------------------------------

def _tiny_model(recipe):
    tokenizer = recipes._tokenizer(recipe.model)
    settings = recipe.settings(steps=10)
    extra = {"embedding_size": 16} if recipe.model["family"] == "electra" else {}
    cfg = model_config(recipe, tokenizer.vocab_size, settings).replace(**TINY_MODEL, **extra)
    torch.manual_seed(0)
    return lt.build(cfg, head="masked_lm" if recipe.kind == "masked_lm" else "pretraining"), tokenizer


@pytest.mark.parametrize("name", [pytest.param("gpt1-tiny", marks=pytest.mark.slow),  # counts 1M tokens' bigrams
                                  "bert-tiny", "electra-mlm", "electra-tiny"])
def test_measure_quick_runs_for_every_kind(name):
    recipe = RECIPES[name]
    model, tokenizer = _tiny_model(recipe)
    figures = measure(recipe, model, tokenizer, quick=True)
    assert set(recipe.targets) <= set(figures)
    if recipe.kind == "causal_lm":
        # an untrained model: about ln V, worse than counting unigrams on the training plays
        assert abs(figures["test_loss"] - math.log(tokenizer.vocab_size)) < 0.5 and figures["below_unigram"] < 0
    elif recipe.kind == "electra":
        assert 0.3 < figures["auc_own"] < 0.7 and 0.3 < figures["auc_random"] < 0.7
        # graded at the recipe's sampling temperature, and at the paper's 1 beside it
        assert recipe.training["temperature"] != 1.0 and 0.3 < figures["auc_own_t1"] < 0.7
    else:
        assert figures["masked_accuracy"] < 0.05 < figures["unigram_accuracy"]
        if recipe.kind == "mlm_pair":
            assert 0.35 < figures["nsp_accuracy"] < 0.65 and 0.35 < figures["sop_accuracy"] < 0.65
        else:
            assert "nsp_accuracy" not in figures
    with pytest.raises(ValueError, match="kind"):
        measure(RECIPES["mlm-sweep"], model, tokenizer, quick=True)


# --- listing ------------------------------------------------------------------------------------------------------

def test_list_reads_what_was_shipped(tmp_path, monkeypatch, capsys):
    recipe = RECIPES["bert-tiny"]
    model, tokenizer = _tiny_model(recipe)
    monkeypatch.setenv("LMTEACH_DATA", str(tmp_path))  # an empty data folder but for what is written here
    save_checkpoint(tmp_path / "checkpoints" / recipe.folder, model, tokenizer=tokenizer,
                    extra={"built": "2025-01-02", "figures": {"masked_accuracy": 0.25}, "targets_met": {}})
    (tmp_path / "checkpoints" / "mlm-sweep").mkdir(parents=True)
    (tmp_path / "checkpoints" / "mlm-sweep" / "results.json").write_text(json.dumps({"built": "2025-01-03",
                                                                                    "runs": []}))
    rows = {row["name"]: row for row in list_recipes()}
    assert list(rows) == list(RECIPES)
    assert rows["bert-tiny"]["built"] == "2025-01-02" and rows["bert-tiny"]["figures"] == {"masked_accuracy": 0.25}
    assert rows["mlm-sweep"]["built"] == "2025-01-03" and rows["mlm-sweep"]["figures"] == {}
    assert rows["gpt1-tiny"]["built"] is None and rows["gpt1-tiny"]["folder"].startswith(str(tmp_path))
    recipes.main(["list"])
    printed = capsys.readouterr().out
    assert "built 2025-01-02: masked_accuracy 0.250" in printed
    assert printed.count("not built yet") == len(RECIPES) - 2
