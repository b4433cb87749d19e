"""Load the shipped Shakespeare corpus, or your own text, as a `Corpus`.

    from lmteach.data.corpus import load_corpus
    corpus = load_corpus()                  # Shakespeare: 37 plays and 5 poems
    corpus.text[:200]                       # one string, for character or BPE models
    corpus.documents[0][:3]                 # a scene: its speeches, in order
    train, val = corpus.split(0.9)          # whole scenes go to one side only
    parts = corpus.split_by_play()          # {"train", "validation", "test"}: the tasks' held-out plays
    corpus.sentences(corpus.documents[0][1])  # sentence pieces for NSP / SOP pairs

The shipped corpus lives in data/shakespeare/ (see data/README.md). Set the
environment variable LMTEACH_DATA to use a data folder somewhere else.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Speech", "Corpus", "load_corpus", "data_dir", "sentences", "PLAY_SPLIT"]

# The held-out plays, two of each First Folio genre per split. The labelled tasks (scripts/build_tasks.py) and
# every shipped checkpoint use this split: pretraining never sees a validation or test play.
PLAY_SPLIT = {
    "validation": ("As You Like It", "The Merchant of Venice", "King Henry IV, Part 1",
                   "King John", "Julius Caesar", "Romeo and Juliet"),
    "test": ("Twelfth Night", "Much Ado About Nothing", "King Henry V", "King Richard II",
             "Macbeth", "Othello"),
}


def data_dir() -> Path:
    """The data folder: shakespeare/, tasks/, tokenizers/, checkpoints/ (see data/README.md). The one place
    that knows where it is, for every loader.

    Set the environment variable LMTEACH_DATA to use another folder. Otherwise it is the package data
    `lmteach._data`: the top-level data/ folder, which pyproject.toml maps into the package, so an installed
    wheel carries it inside lmteach/_data/ and an editable install finds data/ itself. A plain source checkout
    that was never installed (or installed before that mapping) reads data/ beside the lmteach/ folder."""
    override = os.environ.get("LMTEACH_DATA")
    if override:
        return Path(override).expanduser()
    try:
        shipped = importlib.util.find_spec("lmteach._data")
    except ModuleNotFoundError:
        shipped = None
    if shipped is not None and shipped.submodule_search_locations:
        return Path(next(iter(shipped.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class Speech:
    """One speech of a play (or one stanza of a poem, with speaker None)."""

    work: str
    act: int | None
    scene: str
    speaker: str | None
    text: str


# A sentence ends at . ! or ? (possibly followed by closing quotes), then space.
# Deliberately simple: "Mr. Page" will be split too, which is fine for NSP/SOP.
_SENTENCE_END = re.compile(r"(?<=[.!?])['\")\]]*\s+")


def sentences(segment: str) -> list[str]:
    """Split a speech or paragraph into sentences with a simple regular expression."""
    flat = re.sub(r"\s+", " ", segment).strip()
    return [s.strip() for s in _SENTENCE_END.split(flat) if s.strip()]


@dataclass
class Corpus:
    """Text organised as documents made of ordered segments.

    documents: list of documents; each is a list of text segments in order
               (shipped corpus: a document is a scene, a segment is a speech).
    speeches:  Speech records in the same order (None for your own text).
    works:     names of the works (or files) the documents come from.
    document_works: for each document, the name of its work.
    """

    documents: list[list[str]]
    document_works: list[str]
    speeches: list[Speech] | None = None
    name: str = "corpus"
    _text: str | None = field(default=None, repr=False)

    @property
    def works(self) -> list[str]:
        return list(dict.fromkeys(self.document_works))

    @property
    def text(self) -> str:
        """All the text as one string: segments end with a newline, documents with a blank line."""
        if self._text is None:
            self._text = self._render(range(len(self.documents)))
        return self._text

    def _render(self, document_ids) -> str:
        if self.speeches is None:
            return "\n".join("\n".join(self.documents[i]) + "\n" for i in document_ids)
        # Shipped corpus: "SPEAKER:\nspeech\n\n", the layout of the well-known
        # tiny-shakespeare file, so a character model learns who speaks too.
        by_document = self.speeches_by_document()
        parts = []
        for i in document_ids:
            for speech in by_document[i]:
                head = f"{speech.speaker}:\n" if speech.speaker else ""
                parts.append(f"{head}{speech.text}\n\n")
        return "".join(parts)

    def speeches_by_document(self) -> list[list[Speech]]:
        """The Speech records of each document (scene), in order."""
        grouped, start = [], 0
        for doc in self.documents:
            grouped.append(self.speeches[start:start + len(doc)])
            start += len(doc)
        return grouped

    def split(self, fraction: float = 0.9, seed: int = 0) -> tuple["Corpus", "Corpus"]:
        """Split by whole documents into (train, validation), deterministically.

        Because whole scenes (or files/paragraph groups) go to one side, the
        validation text was never seen in training.
        """
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
        if len(self.documents) == 1 and len(self.documents[0]) >= 2 and self.speeches is None:
            # One file: cut it into a leading part and a trailing part instead.
            paragraphs = self.documents[0]
            cut = min(max(1, round(fraction * len(paragraphs))), len(paragraphs) - 1)
            work = self.document_works[0]
            return (Corpus([paragraphs[:cut]], [work], None, f"{self.name}/train"),
                    Corpus([paragraphs[cut:]], [work], None, f"{self.name}/validation"))
        if len(self.documents) < 2:
            raise ValueError("need at least two documents (files) or paragraphs to split; add more text")
        order = list(range(len(self.documents)))
        random.Random(seed).shuffle(order)
        n_train = min(max(1, round(fraction * len(order))), len(order) - 1)
        # Keep the original reading order inside each side.
        return (self._subset(sorted(order[:n_train]), "train"),
                self._subset(sorted(order[n_train:]), "validation"))

    def split_by_play(self) -> dict[str, "Corpus"]:
        """{"train", "validation", "test"}: the shipped corpus split by whole plays (PLAY_SPLIT), so text of a
        held-out play is never seen in pretraining; the poems train. Your own text (no plays) is split by
        documents instead, 80 / 10 / 10."""
        if self.speeches is None:
            rest, test = self.split(0.9, seed=0)
            train, validation = rest.split(8 / 9, seed=0)
            return {"train": train, "validation": validation, "test": test}
        held_out = {work: part for part, works in PLAY_SPLIT.items() for work in works}
        missing = set(held_out) - set(self.document_works)
        if missing:
            raise ValueError(f"the corpus lacks the held-out plays {sorted(missing)}; is it the shipped corpus?")
        ids: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
        for i, work in enumerate(self.document_works):
            ids[held_out.get(work, "train")].append(i)
        return {part: self._subset(document_ids, part) for part, document_ids in ids.items()}

    def _subset(self, document_ids: list[int], part: str) -> "Corpus":
        speeches = None
        if self.speeches is not None:
            by_document = self.speeches_by_document()
            speeches = [s for i in document_ids for s in by_document[i]]
        return Corpus(documents=[self.documents[i] for i in document_ids],
                      document_works=[self.document_works[i] for i in document_ids],
                      speeches=speeches, name=f"{self.name}/{part}")

    @property
    def train_text(self) -> str:
        """Text of the default 90% training split (see `split`)."""
        return self.split()[0].text

    @property
    def val_text(self) -> str:
        """Text of the default 10% validation split (see `split`)."""
        return self.split()[1].text

    @staticmethod
    def sentences(segment: str) -> list[str]:
        """Split a segment into sentences (see the module function `sentences`)."""
        return sentences(segment)

    def describe(self) -> dict:
        """A few numbers to show in a lesson."""
        text = self.text
        return {
            "name": self.name,
            "chars": len(text),
            "words": len(text.split()),
            "documents": len(self.documents),
            "segments": sum(len(d) for d in self.documents),
            "speeches": len(self.speeches) if self.speeches is not None else None,
            "works": len(self.works),
        }

    def __repr__(self) -> str:
        return (f"Corpus({self.name!r}, {len(self.works)} works, {len(self.documents)} documents, "
                f"{sum(len(d) for d in self.documents)} segments)")


def load_corpus(path: str | os.PathLike | None = None) -> Corpus:
    """Load the shipped Shakespeare corpus (no path) or your own text.

    path may be one .txt file or a folder of .txt files. Each file is a
    document; its paragraphs (separated by blank lines) are the segments.
    """
    if path is None:
        return _load_shakespeare(data_dir() / "shakespeare")
    return _load_plain_text(Path(path).expanduser())


def _load_shakespeare(folder: Path) -> Corpus:
    scenes_file = folder / "scenes.jsonl"
    if not scenes_file.exists():
        raise FileNotFoundError(
            f"shipped corpus not found at {scenes_file}. Rebuild it with "
            "`python scripts/build_corpus.py`, or set LMTEACH_DATA to the folder holding shakespeare/.")
    documents, document_works, speeches = [], [], []
    with open(scenes_file, encoding="utf-8") as lines:
        for line in lines:
            scene = json.loads(line)
            documents.append([text for _, text in scene["speeches"]])
            document_works.append(scene["work"])
            speeches.extend(Speech(scene["work"], scene["act"], scene["scene"], speaker, text)
                            for speaker, text in scene["speeches"])
    if not documents:
        raise ValueError(f"{scenes_file} is empty; rebuild it with `python scripts/build_corpus.py`")
    return Corpus(documents, document_works, speeches, name="shakespeare")


def _load_plain_text(path: Path) -> Corpus:
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise ValueError(f"no .txt files in folder {path}; expected one or more UTF-8 .txt files")
    else:
        files = [path]
    documents, names = [], []
    for file in files:
        text = file.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        if paragraphs:
            documents.append(paragraphs)
            names.append(file.stem)
    if not documents:
        where = f"the .txt files in {path}" if path.is_dir() else str(path)
        raise ValueError(f"{where}: no text found; expected UTF-8 text with paragraphs "
                         "separated by blank lines")
    return Corpus(documents, names, speeches=None, name=path.stem)


# --- Korean text (the Korean track) ------------------------------------------------------------------------------
__all__ += ["load_korean"]


def load_korean() -> Corpus:
    """The shipped Korean text, data/korean/ (see data/README.md): the Constitution of the Republic of Korea and ten
    bills of the National Assembly, official texts that Article 7 of the Korean Copyright Act leaves unprotected.
    Each file is a document and each paragraph (an article of the Constitution, a paragraph of a bill) a segment;
    `corpus.sentences(segment)` splits at the full stops Korean sentences end with ("...이다.")."""
    folder = data_dir() / "korean"
    if not any(folder.glob("*.txt")):
        raise FileNotFoundError(f"no Korean text in {folder}. Rebuild it with `python scripts/build_korean_corpus.py`, "
                                "or set LMTEACH_DATA to the folder holding korean/.")
    corpus = _load_plain_text(folder)
    corpus.name = "korean"
    return corpus
