"""Lesson 00's exercises: tokens, bytes and merges."""
from . import close_to, exercise, one_of

exercise("00.1", "How many bytes does the Korean syllable '사' take in UTF-8, i.e. how many tokens is it for "
         "byte-level BPE before any merge that covers it?", close_to(3, 0),
         hint="Try len('사'.encode('utf-8')).",
         explanation="Hangul syllables take 3 bytes in UTF-8; GPT-2's BPE falls back to them, so it never needs [UNK].",
         solution=3,  # U+C0AC is in U+0800..U+FFFF, which UTF-8 writes in 3 bytes
         worked="'사' is U+C0AC; UTF-8 writes every code point from U+0800 to U+FFFF in 3 bytes, so 3 base tokens.")
exercise("00.2", "A WordPiece vocabulary trained on Shakespeare has no Hangul. Which token does '사랑' become?",
         one_of("[UNK]", "unk", "[UNK] 토큰", "unk 토큰", "미등록 토큰"),  # the last three: the Korean track's
         hint="Look at the WordPiece row of the comparison widget for Korean text.",
         explanation="A whole word that cannot be written with the vocabulary's pieces becomes one [UNK].",
         solution="[UNK]",
         worked="No piece of the vocabulary covers a Hangul character, so WordPiece gives up on the whole word: "
                "'사랑' becomes the single token [UNK].")
exercise("00.3", "With 0 BPE merges, how many tokens does the text 'hello' have?", close_to(5, 0),
         hint="Before any merge, every byte is its own token.",
         explanation="Five ASCII characters are five bytes, so five tokens.",
         solution=5,  # h, e, l, l, o: one byte each
         worked="'hello' is 5 ASCII characters, 1 byte each; with no merge every byte is a token: 5.")
