"""The shipped checkpoints are what their recipes say, and reach the targets the lessons rely on, measured here
on the held-out test plays (smaller samples than the recipe's own measurement, so a few points of noise)."""

import pytest
import torch

from lmteach.data.corpus import data_dir
from lmteach.recipes import RECIPES, measure, meets_targets, readme
from lmteach.training import load_checkpoint, read_info

MODEL_RECIPES = [name for name, recipe in RECIPES.items() if recipe.kind != "mask_sweep"]

# Targets the shipped build did not reach (its README says "NOT met" with the figure; the issue that set the target
# stays open). Listed so that a new shortfall fails here, and so does one that is fixed without updating this list.
SHORTFALLS = {
    "bert-tiny": {"nsp_accuracy"},
    "albert-nsp": {"nsp_accuracy"},
    "albert-sop": {"sop_accuracy", "nsp_accuracy"},
}


@pytest.fixture(scope="module", autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.mark.parametrize("name", MODEL_RECIPES)
def test_checkpoint_was_built_by_its_recipe(name):
    recipe = RECIPES[name]
    folder = data_dir() / "checkpoints" / recipe.folder
    extra = read_info(folder)["extra"]
    assert extra["recipe"] == name and extra["command"] == f"python -m lmteach recipe build {name}"
    settings = recipe.settings()
    for key, value in settings.items():
        if key != "steps" or value is not None:
            assert extra["settings"][key] == (list(value) if isinstance(value, tuple) else value), key
    # The README is the recipe's own rendering of what the build recorded.
    assert (folder / "README.md").read_text() == readme(recipe, extra)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODEL_RECIPES)
def test_checkpoint_reaches_its_targets_on_the_test_plays(name):
    recipe = RECIPES[name]
    model, info = load_checkpoint(data_dir() / "checkpoints" / recipe.folder)
    figures = measure(recipe, model, info["tokenizer_obj"], quick=True)
    met = meets_targets(recipe, figures)
    missed = {k for k, ok in met.items() if not ok}
    assert missed == SHORTFALLS.get(name, set()), {k: (figures[k], recipe.targets[k]) for k in met}
    recorded = info["extra"]["figures"]
    for key, value in figures.items():  # the same model measured on a smaller sample: close to the README
        if not isinstance(value, float) or key not in recorded or key.startswith(("precision", "recall")):
            continue  # precision and recall rest on a handful of flagged tokens in the small sample
        # Nats per token (losses, below_unigram) or accuracies; the quick sample is a quarter of the recipe's.
        tolerance = 0.3 if "loss" in key or key == "below_unigram" else 0.1
        assert abs(value - recorded[key]) < tolerance, (key, value, recorded[key])


def test_recipes_train_on_the_training_plays_only():
    """Pretraining never sees a held-out play: the recipes draw their text from split_by_play()["train"]."""
    from lmteach.data.corpus import PLAY_SPLIT, load_corpus

    parts = load_corpus().split_by_play()
    held_out = set(PLAY_SPLIT["validation"]) | set(PLAY_SPLIT["test"])
    assert not held_out & set(parts["train"].document_works)
    assert set(parts["test"].document_works) == set(PLAY_SPLIT["test"])
