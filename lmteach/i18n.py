"""The language lmteach speaks: English (the default) or Korean, with Python's standard `gettext`.

    from lmteach.i18n import _
    print(_("not yet"))                     # "not yet", or "아직 아닙니다" under Korean

    lmteach.lesson.language("ko")           # switch a running notebook to Korean
    LMTEACH_LANG=ko jupyter lab ...         # or start every kernel in Korean

Every string lmteach shows (widget labels, claim and exercise messages) is an English message id looked up in
the catalogue `lmteach/locale/<lang>/LC_MESSAGES/lmteach.po`, compiled to `lmteach.mo` beside it
(`python scripts/translations.py update`, translate, then `python scripts/translations.py compile`;
tests/test_i18n.py fails when the .mo is not the compiled .po). A message the catalogue lacks shows in English,
so a new or changed string is never lost, only untranslated.

Messages are looked up when they are shown, not at import, so switching the language changes the next widget
drawn and the next claim printed.
"""

from __future__ import annotations

import gettext as _gettext
import os
from functools import lru_cache
from pathlib import Path

__all__ = ["DOMAIN", "LANGUAGES", "LOCALE_DIR", "LANGUAGE_CELL_TAG", "current_language", "set_language", "gettext", "_",
           "ngettext", "N_"]

DOMAIN = "lmteach"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "ko")
ENV = "LMTEACH_LANG"
# A translated lesson (notebooks/ko/) has the English lesson's cells plus one code cell with this tag that sets
# the language; everything that pairs the two tracks cell for cell skips it.
LANGUAGE_CELL_TAG = "lmteach-language"

_chosen: str | None = None  # set by set_language(); None: follow the environment


def _normalize(language: str) -> str:
    """'ko', 'ko_KR.UTF-8', 'KO-kr' -> 'ko'; '' -> 'en'."""
    code = (language or "en").strip().split(".")[0].replace("-", "_").split("_")[0].lower()
    return code or "en"


def current_language() -> str:
    """'en' or 'ko': what `set_language` chose, else the environment variable LMTEACH_LANG, else English."""
    language = _normalize(_chosen if _chosen is not None else os.environ.get(ENV, "en"))
    return language if language in LANGUAGES else "en"


def set_language(language: str | None) -> str:
    """Switch what lmteach shows to `language` ('en' or 'ko'); None goes back to following LMTEACH_LANG."""
    global _chosen
    if language is None:
        _chosen = None
        return current_language()
    code = _normalize(language)
    if code not in LANGUAGES:
        raise ValueError(f"lmteach speaks {', '.join(LANGUAGES)}; got {language!r}")
    _chosen = code
    return code


@lru_cache(maxsize=None)
def translations(language: str) -> _gettext.NullTranslations:
    """The catalogue of one language (English: none, message ids are English)."""
    if language == "en":
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[language], fallback=True)


def gettext(message: str) -> str:
    """`message` in the current language (unchanged where the catalogue has no translation)."""
    if not message:  # gettext("") is the catalogue's header, never a message
        return message
    return translations(current_language()).gettext(message)


_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural message for `n`, in the current language."""
    return translations(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it yet (module-level constants, translated with
    `_` where they are shown)."""
    return message
