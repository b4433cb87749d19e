"""Build the four small labelled tasks in data/tasks/ from the shipped corpus.

    python scripts/build_tasks.py            # deterministic: same seed, same files

Every task uses the same split by play, so validation and test plays are never
seen in training (see PLAY_SPLIT). Each task folder gets train/validation/test
.jsonl files and an info.json with label names, sizes and majority baselines.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lmteach.data.corpus import PLAY_SPLIT as CORPUS_PLAY_SPLIT, load_corpus  # noqa: E402

OUT_DIR = ROOT / "data" / "tasks"
SEED = 1623  # the year of the First Folio
MIN_WORDS, MAX_WORDS = 8, 50  # moderate speeches: long enough to mean something, short to train on
SIZES = {"train": 3000, "validation": 500, "test": 500}
MC_TRAIN_SIZE = 1500  # multiple-choice examples hold five speeches; keep the files small

# Two plays of each First Folio genre for validation and for test; the rest train (lmteach.data.corpus.PLAY_SPLIT).
PLAY_SPLIT = {part: list(plays) for part, plays in CORPUS_PLAY_SPLIT.items()}
GENRES = ["comedy", "history", "tragedy"]


def words(text: str) -> int:
    return len(text.split())


def flat(text: str) -> str:
    """Verse line breaks would hint at verse vs prose; tasks see one line of text."""
    return " ".join(text.split())


def load_plays():
    """Scenes of every play, grouped by split: {split: {play: [[speech, ...], ...]}}."""
    corpus = load_corpus()
    works = json.loads((ROOT / "data" / "shakespeare" / "works.json").read_text())
    kind = {w["title"]: w["kind"] for w in works}
    genre = {w["title"]: w["genre"] for w in works}
    held_out = {play: split for split, plays in PLAY_SPLIT.items() for play in plays}
    by_split: dict[str, dict[str, list]] = {s: defaultdict(list) for s in SIZES}
    start = 0
    for doc, work in zip(corpus.documents, corpus.document_works):
        speeches = corpus.speeches[start:start + len(doc)]
        start += len(doc)
        if kind[work] == "play":
            by_split[held_out.get(work, "train")][work].append(speeches)
    return by_split, genre


def eligible(speech) -> bool:
    return MIN_WORDS <= words(speech.text) <= MAX_WORDS


def length_matched(rng, pool, target_words, avoid=()):
    """A random speech from pool whose length is within 25% of target_words."""
    avoid = {flat(s.text) for s in avoid}  # compare wording: some lines recur verbatim
    close = [s for s in pool if abs(words(s.text) - target_words) <= max(2, 0.25 * target_words)
             and flat(s.text) not in avoid]
    return rng.choice(close or [s for s in pool if flat(s.text) not in avoid])


def build_genre(rng, plays, genre, n):
    """Single text: which First Folio genre does this speech's play belong to?"""
    pools = {g: [s for play, scenes in plays.items() if genre[play] == g
                 for scene in scenes for s in scene if eligible(s)] for g in GENRES}
    per_class = n // len(GENRES)
    examples = []
    for label, g in enumerate(GENRES):
        for s in rng.sample(pools[g], min(per_class, len(pools[g]))):
            examples.append({"text": flat(s.text), "label": label, "play": s.work})
    rng.shuffle(examples)
    return examples


def adjacent_pairs(plays):
    """(scene, i) where speech i and its reply i+1 are both of moderate length."""
    pairs = []
    for play, scenes in plays.items():
        for scene in scenes:
            for i in range(len(scene) - 1):
                a, b = scene[i], scene[i + 1]
                # Skip echoes, where the reply repeats the speech word for word.
                if eligible(a) and eligible(b) and a.speaker != b.speaker and flat(a.text) != flat(b.text):
                    pairs.append((play, scene, i))
    return pairs


def build_reply(rng, plays, n):
    """Pair task (entailment style): how does the hypothesis relate to the premise?

    0 reply: it is the very next speech; 1 same_scene: it is from the same scene
    but at least 3 speeches away; 2 other_play: it comes from another play.
    Hypotheses are length-matched to the true reply so length gives nothing away.
    """
    pairs = adjacent_pairs(plays)
    rng.shuffle(pairs)
    all_speeches = {play: [s for sc in scenes for s in sc if eligible(s)] for play, scenes in plays.items()}
    examples = []
    for play, scene, i in pairs:
        if len(examples) == n:
            break
        label = len(examples) % 3
        premise, reply = scene[i], scene[i + 1]
        if label == 0:
            hypothesis = reply
        elif label == 1:
            far = [s for j, s in enumerate(scene) if abs(j - i) >= 3 and eligible(s)]
            if not far:
                continue
            hypothesis = length_matched(rng, far, words(reply.text))
        else:
            other = rng.choice([p for p in plays if p != play])
            hypothesis = length_matched(rng, all_speeches[other], words(reply.text))
        examples.append({"premise": flat(premise.text), "hypothesis": flat(hypothesis.text),
                         "label": label})
    rng.shuffle(examples)
    return examples


def build_same_play(rng, plays, n):
    """Similarity: are these two speeches from the same play? (1 yes, 0 no).

    Same-play pairs come from different scenes, so it is the play's world
    (people, places, themes), not the conversation, that links them.
    """
    scenes_of = {play: [[s for s in sc if eligible(s)] for sc in scenes] for play, scenes in plays.items()}
    names = sorted(plays)
    examples = []
    while len(examples) < n:
        label = 1 - len(examples) % 2
        play = rng.choice(names)
        scenes = [sc for sc in scenes_of[play] if sc]
        first_scene = rng.randrange(len(scenes))
        a = rng.choice(scenes[first_scene])
        if label == 1:
            others = [sc for k, sc in enumerate(scenes) if k != first_scene]
            b = rng.choice(rng.choice(others))
        else:
            other_play = rng.choice([p for p in names if p != play])
            b = rng.choice(rng.choice([sc for sc in scenes_of[other_play] if sc]))
        if rng.random() < 0.5:  # the relation is symmetric; order carries nothing
            a, b = b, a
        examples.append({"text_a": flat(a.text), "text_b": flat(b.text), "label": label})
    rng.shuffle(examples)
    return examples


def build_next_speech(rng, plays, n):
    """Multiple choice: which of 4 speeches comes right after the context?

    Distractors are from the same play but another scene, and length-matched
    to the answer, so only the content can tell them apart.
    """
    pairs = adjacent_pairs(plays)
    rng.shuffle(pairs)
    examples = []
    for play, scene, i in pairs[:n]:
        answer = scene[i + 1]
        # Plays repeat lines (refrains, echoes); a distractor must differ in wording too.
        taken = {flat(scene[i].text), flat(answer.text)}
        elsewhere = [s for sc in plays[play] if sc is not scene for s in sc
                     if eligible(s) and flat(s.text) not in taken]
        distractors = []
        for _ in range(3):
            distractors.append(length_matched(rng, elsewhere, words(answer.text),
                                              avoid=distractors))
        label = len(examples) % 4
        choices = [flat(d.text) for d in distractors]
        choices.insert(label, flat(answer.text))
        examples.append({"context": flat(scene[i].text), "choices": choices, "label": label})
    rng.shuffle(examples)
    return examples


def verse_or_prose(text: str):
    """1 verse, 0 prose, None unclear, read off the edition's line layout (which the task then removes): verse
    continues every line with a capital letter, prose wraps in mid-sentence. At least 3 lines are needed."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if len(lines) < 3:
        return None
    capitals = sum(line[0].isupper() for line in lines[1:]) / (len(lines) - 1)
    if capitals == 1.0:
        return 1
    if capitals <= 1 / 3:
        return 0
    return None


def build_verse_prose(rng, plays, n):
    """Single text: was this speech written in verse or in prose? (1 verse, 0 prose), balanced.

    The label comes from the line breaks, and the text is given on one line, so the model has to hear it:
    metre, rhyme, vocabulary (prose is for clowns, letters and servants; kings speak verse)."""
    speeches = [s for scenes in plays.values() for scene in scenes for s in scene if eligible(s)]
    pools = {label: [s for s in speeches if verse_or_prose(s.text) == label] for label in (0, 1)}
    per_class = min(n // 2, *(len(pool) for pool in pools.values()))
    examples = [{"text": flat(s.text), "label": label, "play": s.work}
                for label in (0, 1) for s in rng.sample(pools[label], per_class)]
    rng.shuffle(examples)
    return examples


TASKS = {
    "genre": {"kind": "single", "fields": ["text"], "label_names": GENRES,
              "description": "Which genre (First Folio grouping) is the play this speech comes from?"},
    "reply": {"kind": "pair", "fields": ["premise", "hypothesis"],
              "label_names": ["reply", "same_scene", "other_play"],
              "description": "Is the hypothesis the reply to the premise, a speech from the same "
                             "scene, or a speech from another play?"},
    "same_play": {"kind": "similarity", "fields": ["text_a", "text_b"],
                  "label_names": ["different_play", "same_play"],
                  "description": "Do these two speeches come from the same play? (symmetric)"},
    "verse_prose": {"kind": "single", "fields": ["text"], "label_names": ["prose", "verse"],
                    "description": "Was this speech written in verse or in prose? (the line breaks that "
                                   "tell are removed)"},
    "next_speech": {"kind": "multiple_choice", "fields": ["context", "choices"],
                    "label_names": ["choice_0", "choice_1", "choice_2", "choice_3"],
                    "description": "Which of the four speeches is spoken right after the context?"},
}


def main(only=None) -> None:
    by_split, genre = load_plays()
    builders = {"genre": lambda rng, plays, n: build_genre(rng, plays, genre, n),
                "reply": build_reply, "same_play": build_same_play,
                "next_speech": build_next_speech, "verse_prose": build_verse_prose}
    for task, build in builders.items():
        if only and task not in only:
            continue
        folder = OUT_DIR / task
        folder.mkdir(parents=True, exist_ok=True)
        info = dict(TASKS[task], name=task, splits={}, plays=PLAY_SPLIT)
        for split, size in SIZES.items():
            if task == "next_speech" and split == "train":
                size = MC_TRAIN_SIZE
            rng = random.Random(f"{SEED}-{task}-{split}")  # each file reproducible on its own
            examples = build(rng, by_split[split], size)
            with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as out:
                for example in examples:
                    out.write(json.dumps(example, ensure_ascii=False) + "\n")
            counts = Counter(e["label"] for e in examples)
            majority = max(counts.values()) / len(examples)
            info["splits"][split] = {"size": len(examples),
                                     "label_counts": [counts.get(i, 0) for i in range(len(info["label_names"]))],
                                     "majority_baseline": round(majority, 4)}
        (folder / "info.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        print(task, {s: v["size"] for s, v in info["splits"].items()},
              {s: v["majority_baseline"] for s, v in info["splits"].items()})


if __name__ == "__main__":
    main(sys.argv[1:] or None)  # e.g. `python scripts/build_tasks.py verse_prose` rebuilds one task
