"""Label parsing and the lid.176 -> ISO 639-3 table.

fastText LID models disagree on label shape: lid.176 emits ISO 639-1 (or Wikipedia) codes
without a script (``__label__sr``), GlotLID/FineWeb-2 style models emit ``<ISO 639-3>_<ISO 15924>``
(``__label__srp_Cyrl``). We always parse the *whole* label (another pipeline once kept only the
last two characters, turning ``__label__eng_Latn`` into ``tn``) and normalise both shapes to
``(lang, script)`` where ``script`` may be ``None`` when the model does not say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LABEL_PREFIX = "__label__"

# Non-language labels (ISO 639-3 special codes) that a model may emit.
SPECIAL_LANGS: frozenset[str] = frozenset({"und", "zxx", "mul", "mis"})


@dataclass(frozen=True, slots=True)
class Lid176Entry:
    """How one lid.176 label maps to ISO 639-3 / ISO 15924.

    ``scripts`` lists the scripts the language is written in, first = the default used when
    the text's script does not decide (e.g. ``zh`` -> Hans/Hant, ``sr`` -> Cyrl/Latn).
    ``scope`` is ``"I"`` (individual language), ``"M"`` (macrolanguage) or ``"C"``
    (collection, no ISO 639-3 code of its own). ``note`` explains non-obvious choices.
    """

    iso639_3: str
    scripts: tuple[str, ...]
    scope: str = "I"
    note: str = ""


def _e(code: str, scripts: str, scope: str = "I", note: str = "") -> Lid176Entry:
    return Lid176Entry(code, tuple(scripts.split()), scope, note)


# All 176 labels of lid.176 (https://fasttext.cc/docs/en/language-identification.html).
# Codes are Wikipedia language codes: mostly ISO 639-1, else ISO 639-3 (or 639-2/5).
LID176: dict[str, Lid176Entry] = {
    "af": _e("afr", "Latn"),
    "als": _e("gsw", "Latn", note="Wikipedia 'als' = Alemannic; ISO 639-3 'als' is Tosk Albanian"),
    "am": _e("amh", "Ethi"),
    "an": _e("arg", "Latn"),
    "ar": _e("ara", "Arab", "M", "macrolanguage; Modern Standard Arabic is 'arb'"),
    "arz": _e("arz", "Arab"),
    "as": _e("asm", "Beng"),
    "ast": _e("ast", "Latn"),
    "av": _e("ava", "Cyrl"),
    "az": _e("aze", "Latn Cyrl Arab", "M", "mostly North Azerbaijani 'azj' (Latn)"),
    "azb": _e("azb", "Arab"),
    "ba": _e("bak", "Cyrl"),
    "bar": _e("bar", "Latn"),
    "bcl": _e("bcl", "Latn"),
    "be": _e("bel", "Cyrl"),
    "bg": _e("bul", "Cyrl"),
    "bh": _e("bho", "Deva", note="ISO 639-2 collection 'bih' (Bihari); bh.wikipedia is Bhojpuri"),
    "bn": _e("ben", "Beng"),
    "bo": _e("bod", "Tibt"),
    "bpy": _e("bpy", "Beng"),
    "br": _e("bre", "Latn"),
    "bs": _e("bos", "Latn Cyrl"),
    "bxr": _e("bxr", "Cyrl"),
    "ca": _e("cat", "Latn"),
    "cbk": _e("cbk", "Latn"),
    "ce": _e("che", "Cyrl"),
    "ceb": _e("ceb", "Latn"),
    "ckb": _e("ckb", "Arab"),
    "co": _e("cos", "Latn"),
    "cs": _e("ces", "Latn"),
    "cv": _e("chv", "Cyrl"),
    "cy": _e("cym", "Latn"),
    "da": _e("dan", "Latn"),
    "de": _e("deu", "Latn"),
    "diq": _e("diq", "Latn"),
    "dsb": _e("dsb", "Latn"),
    "dty": _e("dty", "Deva"),
    "dv": _e("div", "Thaa"),
    "el": _e("ell", "Grek"),
    "eml": _e("egl", "Latn", note="'eml' (Emiliano-Romagnolo) was retired, split into egl and rgn"),
    "en": _e("eng", "Latn"),
    "eo": _e("epo", "Latn"),
    "es": _e("spa", "Latn"),
    "et": _e("est", "Latn", "M", "macrolanguage; Standard Estonian is 'ekk'"),
    "eu": _e("eus", "Latn"),
    "fa": _e("fas", "Arab", "M", "macrolanguage; Iranian Persian 'pes', Dari 'prs'"),
    "fi": _e("fin", "Latn"),
    "fr": _e("fra", "Latn"),
    "frr": _e("frr", "Latn"),
    "fy": _e("fry", "Latn"),
    "ga": _e("gle", "Latn"),
    "gd": _e("gla", "Latn"),
    "gl": _e("glg", "Latn"),
    "gn": _e("grn", "Latn", "M", "macrolanguage; Paraguayan Guarani is 'gug'"),
    "gom": _e("gom", "Deva Latn Knda", note="member of Konkani macrolanguage 'kok'"),
    "gu": _e("guj", "Gujr"),
    "gv": _e("glv", "Latn"),
    "he": _e("heb", "Hebr"),
    "hi": _e("hin", "Deva"),
    "hif": _e("hif", "Latn Deva"),
    "hr": _e("hrv", "Latn"),
    "hsb": _e("hsb", "Latn"),
    "ht": _e("hat", "Latn"),
    "hu": _e("hun", "Latn"),
    "hy": _e("hye", "Armn"),
    "ia": _e("ina", "Latn"),
    "id": _e("ind", "Latn"),
    "ie": _e("ile", "Latn"),
    "ilo": _e("ilo", "Latn"),
    "io": _e("ido", "Latn"),
    "is": _e("isl", "Latn"),
    "it": _e("ita", "Latn"),
    "ja": _e("jpn", "Jpan"),
    "jbo": _e("jbo", "Latn"),
    "jv": _e("jav", "Latn Java"),
    "ka": _e("kat", "Geor"),
    "kk": _e("kaz", "Cyrl Latn Arab"),
    "km": _e("khm", "Khmr"),
    "kn": _e("kan", "Knda"),
    "ko": _e("kor", "Kore"),
    "krc": _e("krc", "Cyrl"),
    "ku": _e("kur", "Latn Arab Cyrl", "M", "macrolanguage; Kurmanji 'kmr' (Latn), Sorani 'ckb'"),
    "kv": _e("kom", "Cyrl", "M", "macrolanguage; Komi-Zyrian is 'kpv'"),
    "kw": _e("cor", "Latn"),
    "ky": _e("kir", "Cyrl"),
    "la": _e("lat", "Latn"),
    "lb": _e("ltz", "Latn"),
    "lez": _e("lez", "Cyrl"),
    "li": _e("lim", "Latn"),
    "lmo": _e("lmo", "Latn"),
    "lo": _e("lao", "Laoo"),
    "lrc": _e("lrc", "Arab"),
    "lt": _e("lit", "Latn"),
    "lv": _e("lav", "Latn", "M", "macrolanguage; Standard Latvian is 'lvs'"),
    "mai": _e("mai", "Deva"),
    "mg": _e("mlg", "Latn", "M", "macrolanguage; Plateau Malagasy is 'plt'"),
    "mhr": _e("mhr", "Cyrl"),
    "min": _e("min", "Latn"),
    "mk": _e("mkd", "Cyrl"),
    "ml": _e("mal", "Mlym"),
    "mn": _e("mon", "Cyrl Mong", "M", "macrolanguage; Halh Mongolian is 'khk'"),
    "mr": _e("mar", "Deva"),
    "mrj": _e("mrj", "Cyrl"),
    "ms": _e("msa", "Latn Arab", "M", "macrolanguage; Standard Malay is 'zsm'"),
    "mt": _e("mlt", "Latn"),
    "mwl": _e("mwl", "Latn"),
    "my": _e("mya", "Mymr"),
    "myv": _e("myv", "Cyrl"),
    "mzn": _e("mzn", "Arab"),
    "nah": _e("nah", "Latn", "C", "collection (Nahuatl languages), no single ISO 639-3 code"),
    "nap": _e("nap", "Latn"),
    "nds": _e("nds", "Latn"),
    "ne": _e("nep", "Deva", "M", "macrolanguage; Nepali (individual) is 'npi'"),
    "new": _e("new", "Deva"),
    "nl": _e("nld", "Latn"),
    "nn": _e("nno", "Latn"),
    "no": _e("nor", "Latn", "M", "macrolanguage; Bokmal 'nob', Nynorsk 'nno'"),
    "oc": _e("oci", "Latn"),
    "or": _e("ori", "Orya", "M", "macrolanguage; Odia (individual) is 'ory'"),
    "os": _e("oss", "Cyrl"),
    "pa": _e("pan", "Guru Arab"),
    "pam": _e("pam", "Latn"),
    "pfl": _e("pfl", "Latn"),
    "pl": _e("pol", "Latn"),
    "pms": _e("pms", "Latn"),
    "pnb": _e("pnb", "Arab", note="member of Lahnda macrolanguage 'lah'"),
    "ps": _e("pus", "Arab", "M", "macrolanguage; Southern Pashto 'pbt'"),
    "pt": _e("por", "Latn"),
    "qu": _e("que", "Latn", "M", "macrolanguage (Quechua)"),
    "rm": _e("roh", "Latn"),
    "ro": _e("ron", "Latn Cyrl"),
    "ru": _e("rus", "Cyrl"),
    "rue": _e("rue", "Cyrl"),
    "sa": _e("san", "Deva"),
    "sah": _e("sah", "Cyrl"),
    "sc": _e("srd", "Latn", "M", "macrolanguage (Sardinian)"),
    "scn": _e("scn", "Latn"),
    "sco": _e("sco", "Latn"),
    "sd": _e("snd", "Arab Deva"),
    "sh": _e("hbs", "Latn Cyrl", "M", "Serbo-Croatian macrolanguage (hrv, srp, bos, cnr)"),
    "si": _e("sin", "Sinh"),
    "sk": _e("slk", "Latn"),
    "sl": _e("slv", "Latn"),
    "so": _e("som", "Latn"),
    "sq": _e("sqi", "Latn", "M", "macrolanguage; Tosk Albanian is 'als'"),
    "sr": _e("srp", "Cyrl Latn"),
    "su": _e("sun", "Latn"),
    "sv": _e("swe", "Latn"),
    "sw": _e("swa", "Latn", "M", "macrolanguage; Kiswahili (individual) is 'swh'"),
    "ta": _e("tam", "Taml"),
    "te": _e("tel", "Telu"),
    "tg": _e("tgk", "Cyrl Latn Arab"),
    "th": _e("tha", "Thai"),
    "tk": _e("tuk", "Latn Cyrl"),
    "tl": _e("tgl", "Latn"),
    "tr": _e("tur", "Latn"),
    "tt": _e("tat", "Cyrl Latn"),
    "tyv": _e("tyv", "Cyrl"),
    "ug": _e("uig", "Arab Cyrl Latn"),
    "uk": _e("ukr", "Cyrl"),
    "ur": _e("urd", "Arab"),
    "uz": _e("uzb", "Latn Cyrl", "M", "macrolanguage; Northern Uzbek is 'uzn'"),
    "vec": _e("vec", "Latn"),
    "vep": _e("vep", "Latn"),
    "vi": _e("vie", "Latn"),
    "vls": _e("vls", "Latn"),
    "vo": _e("vol", "Latn"),
    "wa": _e("wln", "Latn"),
    "war": _e("war", "Latn"),
    "wuu": _e("wuu", "Hans Hant"),
    "xal": _e("xal", "Cyrl"),
    "xmf": _e("xmf", "Geor"),
    "yi": _e("yid", "Hebr", "M", "macrolanguage; Eastern Yiddish is 'ydd'"),
    "yo": _e("yor", "Latn"),
    "yue": _e("yue", "Hant Hans"),
    "zh": _e("zho", "Hans Hant", "M", "macrolanguage; Mandarin is 'cmn'"),
}

# ISO 639-3 macrolanguages -> their active individual members: SIL's table, shipped as data
# (``macrolanguages.tsv``, compared with the copy in ``python-iso639`` by the tests). Used for the
# ``macrolanguage`` output field, for scoring a macro prediction against an individual gold label
# (and vice versa), and for keep-lists. One deliberate deviation, listed in
# ``NOT_GROUPED``: Indonesian 'ind' and Minangkabau 'min' are ISO members of 'msa' but are kept
# apart, because every LID model and data set treats them as separate languages and 'ind' for
# Malay text is the classic confusion we want to count.
NOT_GROUPED: frozenset[tuple[str, str]] = frozenset({("msa", "ind"), ("msa", "min")})
MACROLANGUAGES_TSV = Path(__file__).with_name("macrolanguages.tsv")


def _load_macrolanguages(path: Path = MACROLANGUAGES_TSV) -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith(("#", "macrolanguage\t")) or not line.strip():
                continue
            macro, member = line.split()
            if (macro, member) not in NOT_GROUPED:
                groups.setdefault(macro, set()).add(member)
    return {k: frozenset(v) for k, v in sorted(groups.items())}


MACROLANGUAGES: dict[str, frozenset[str]] = _load_macrolanguages()
MACRO_OF: dict[str, str] = {m: k for k, members in MACROLANGUAGES.items() for m in members}

# lid.176 macrolanguage labels -> the individual language they stand for, per script of the text
# (FineWeb-2 / GlotLID label space). Why per script: ``az`` in Arabic script is South Azerbaijani,
# in Latin North Azerbaijani. A script missing here keeps the macrolanguage (nothing finer can be
# said from lid.176 alone: ``sh``, ``qu``, ``sc``, ``ku`` in Arabic script; ``gn`` and ``ps`` too,
# as our training data labels Guarani and Pashto text so, without a variety). The combination
# prefers a member named by our model when it ran (``fa`` -> ``prs`` for Dari, ``sh`` -> ``bos``).
LID176_INDIVIDUAL: dict[str, dict[str, str]] = {
    "ar": {"Arab": "arb"},
    "az": {"Latn": "azj", "Cyrl": "azj", "Arab": "azb"},
    "et": {"Latn": "ekk"},
    "fa": {"Arab": "pes"},
    "ku": {"Latn": "kmr", "Cyrl": "kmr"},
    "kv": {"Cyrl": "kpv"},
    "lv": {"Latn": "lvs"},
    "mg": {"Latn": "plt"},
    "mn": {"Cyrl": "khk"},
    "ms": {"Latn": "zsm"},
    "ne": {"Deva": "npi"},
    "no": {"Latn": "nob"},
    "or": {"Orya": "ory"},
    "sq": {"Latn": "als"},
    "sw": {"Latn": "swh"},
    "uz": {"Latn": "uzn", "Cyrl": "uzn"},
    "yi": {"Hebr": "ydd"},
    "zh": {"Hans": "cmn", "Hant": "cmn", "Hani": "cmn"},
}

# Label scripts as FineWeb-2 / GlotLID write them: one Han script for Chinese (``cmn_Hani``) and
# ``Hang`` for Korean (``kor_Hang``). Script detection keeps its finer answer (Hans/Hant, Kore).
LABEL_SCRIPT: dict[str, str] = {"Hans": "Hani", "Hant": "Hani", "Kore": "Hang"}


def label_script(script: str) -> str:
    """The script as written in an output label (``Hans`` -> ``Hani``, ``Kore`` -> ``Hang``)."""
    return LABEL_SCRIPT.get(script, script)


def macrolanguage_of(lang: str) -> str:
    """The ISO 639-3 macrolanguage of ``lang``, or ``lang`` itself (individual, or a macrolanguage).

    Why ``lang`` itself rather than empty: grouping a dataset by this field then needs no fallback.
    """
    return MACRO_OF.get(lang, lang)


def lid176_individual(raw: str, script: str) -> str | None:
    """The individual language a lid.176 macrolanguage label stands for in ``script``, if one."""
    by_script = LID176_INDIVIDUAL.get(strip_prefix(raw).strip())
    return by_script.get(script) if by_script else None


def strip_prefix(raw: str) -> str:
    """Drop fastText's ``__label__`` prefix (only the prefix: never slice from the end)."""
    return raw[len(LABEL_PREFIX) :] if raw.startswith(LABEL_PREFIX) else raw


@lru_cache(maxsize=8192)
def parse_label(raw: str) -> tuple[str, tuple[str, ...]]:
    """Parse a model label into ``(iso639_3, candidate_scripts)``.

    ``candidate_scripts`` is a single script for ``lang_Script`` labels, the lid.176 table's
    scripts for 2-letter labels, or empty when unknown (the text's script is used then).
    """
    code = strip_prefix(raw).strip()
    if "_" in code:
        lang, _, script = code.partition("_")
        # Some models add a suffix after the script (e.g. ``eng_Latn_x``); keep the first 4.
        script = script.split("_", 1)[0]
        if len(script) == 4 and script.isalpha():
            return lang.lower(), (script[0].upper() + script[1:].lower(),)
        return lang.lower(), ()
    entry = LID176.get(code) or LID176.get(code.lower())
    if entry is not None:
        return entry.iso639_3, entry.scripts
    return code.lower(), ()


def is_macrolanguage(lang: str) -> bool:
    """True when ``lang`` is an ISO 639-3 macrolanguage code (``zho``, ``ara``, ``hbs``...)."""
    return lang in MACROLANGUAGES


def lang_matches(pred: str, gold: str) -> bool:
    """Scoring equality that tolerates macrolanguage vs member (``zho`` ~ ``cmn``).

    A prediction is right when equal to the gold code, or when one is the macrolanguage of the
    other. Two different members of one macrolanguage (``hrv`` vs ``srp``) do not match.
    """
    if pred == gold:
        return True
    return MACRO_OF.get(gold) == pred or MACRO_OF.get(pred) == gold


# ISO 639-1 -> (ISO 639-3, English name). ISO 639-3 is the 639-2/T code, the macrolanguage where
# ISO 639-1 names one (``ar`` -> ``ara``, ``zh`` -> ``zho``); ``sh`` (withdrawn) is Serbo-Croatian.
# Why our own table: the config accepts ``fr`` as well as ``fra`` without a runtime dependency.
ISO639_1: dict[str, tuple[str, str]] = {
    k: (v[:3], v[4:])
    for k, v in (line.split(" ", 1) for line in """\
aa aar Afar|ab abk Abkhazian|ae ave Avestan|af afr Afrikaans|ak aka Akan|am amh Amharic|an arg Aragonese
ar ara Arabic|as asm Assamese|av ava Avaric|ay aym Aymara|az aze Azerbaijani|ba bak Bashkir
be bel Belarusian|bg bul Bulgarian|bi bis Bislama|bm bam Bambara|bn ben Bengali|bo bod Tibetan
br bre Breton|bs bos Bosnian|ca cat Catalan|ce che Chechen|ch cha Chamorro|co cos Corsican|cr cre Cree
cs ces Czech|cu chu Church Slavic|cv chv Chuvash|cy cym Welsh|da dan Danish|de deu German|dv div Divehi
dz dzo Dzongkha|ee ewe Ewe|el ell Greek|en eng English|eo epo Esperanto|es spa Spanish|et est Estonian
eu eus Basque|fa fas Persian|ff ful Fulah|fi fin Finnish|fj fij Fijian|fo fao Faroese|fr fra French
fy fry Western Frisian|ga gle Irish|gd gla Scottish Gaelic|gl glg Galician|gn grn Guarani|gu guj Gujarati
gv glv Manx|ha hau Hausa|he heb Hebrew|hi hin Hindi|ho hmo Hiri Motu|hr hrv Croatian|ht hat Haitian Creole
hu hun Hungarian|hy hye Armenian|hz her Herero|ia ina Interlingua|id ind Indonesian|ie ile Interlingue
ig ibo Igbo|ii iii Sichuan Yi|ik ipk Inupiaq|io ido Ido|is isl Icelandic|it ita Italian|iu iku Inuktitut
ja jpn Japanese|jv jav Javanese|ka kat Georgian|kg kon Kongo|ki kik Kikuyu|kj kua Kuanyama|kk kaz Kazakh
kl kal Kalaallisut|km khm Khmer|kn kan Kannada|ko kor Korean|kr kau Kanuri|ks kas Kashmiri|ku kur Kurdish
kv kom Komi|kw cor Cornish|ky kir Kyrgyz|la lat Latin|lb ltz Luxembourgish|lg lug Ganda|li lim Limburgish
ln lin Lingala|lo lao Lao|lt lit Lithuanian|lu lub Luba-Katanga|lv lav Latvian|mg mlg Malagasy
mh mah Marshallese|mi mri Maori|mk mkd Macedonian|ml mal Malayalam|mn mon Mongolian|mr mar Marathi
ms msa Malay|mt mlt Maltese|my mya Burmese|na nau Nauru|nb nob Norwegian Bokmal|nd nde North Ndebele
ne nep Nepali|ng ndo Ndonga|nl nld Dutch|nn nno Norwegian Nynorsk|no nor Norwegian|nr nbl South Ndebele
nv nav Navajo|ny nya Nyanja|oc oci Occitan|oj oji Ojibwa|om orm Oromo|or ori Odia|os oss Ossetian
pa pan Punjabi|pi pli Pali|pl pol Polish|ps pus Pashto|pt por Portuguese|qu que Quechua|rm roh Romansh
rn run Rundi|ro ron Romanian|ru rus Russian|rw kin Kinyarwanda|sa san Sanskrit|sc srd Sardinian
sd snd Sindhi|se sme Northern Sami|sg sag Sango|sh hbs Serbo-Croatian|si sin Sinhala|sk slk Slovak
sl slv Slovenian|sm smo Samoan|sn sna Shona|so som Somali|sq sqi Albanian|sr srp Serbian|ss ssw Swati
st sot Southern Sotho|su sun Sundanese|sv swe Swedish|sw swa Swahili|ta tam Tamil|te tel Telugu
tg tgk Tajik|th tha Thai|ti tir Tigrinya|tk tuk Turkmen|tl tgl Tagalog|tn tsn Tswana|to ton Tongan
tr tur Turkish|ts tso Tsonga|tt tat Tatar|tw twi Twi|ty tah Tahitian|ug uig Uyghur|uk ukr Ukrainian
ur urd Urdu|uz uzb Uzbek|ve ven Venda|vi vie Vietnamese|vo vol Volapuk|wa wln Walloon|wo wol Wolof
xh xho Xhosa|yi yid Yiddish|yo yor Yoruba|za zha Zhuang|zh zho Chinese|zu zul Zulu""".replace("\n", "|").split("|"))
}

# ISO 639-2/B (bibliographic) codes that differ from the 639-3 code of the same language.
ISO639_2B: dict[str, str] = {
    "alb": "sqi", "arm": "hye", "baq": "eus", "bur": "mya", "chi": "zho", "cze": "ces", "dut": "nld",
    "fre": "fra", "geo": "kat", "ger": "deu", "gre": "ell", "ice": "isl", "mac": "mkd", "mao": "mri",
    "may": "msa", "per": "fas", "rum": "ron", "slo": "slk", "tib": "bod", "wel": "cym",
}

LANGUAGE_NAMES: dict[str, str] = {code3: name for code3, name in ISO639_1.values()}


def language_name(lang: str) -> str:
    """English name of an ISO 639-3 code when we know it (the ISO 639-1 languages), else ''."""
    return LANGUAGE_NAMES.get(lang, "")


def normalize_language(code: str) -> str | None:
    """``fr``, ``FRA``, ``fre``, ``fr-Latn``, ``fra_latn`` -> ``fra`` / ``fra_Latn``; None if not code-shaped.

    Why: labels are ISO 639-3 + ISO 15924, and a keep-list entry that is spelled another way
    would otherwise match nothing. Only the shape is checked here; whether a model can output
    the language is checked against its labels (pipeline/langid/stage.py).
    """
    text = code.strip().replace("-", "_")
    lang, _, script = text.partition("_")
    lang = lang.lower()
    if len(lang) == 2 and lang.isascii() and lang.isalpha():
        entry = ISO639_1.get(lang)
        if entry is None:
            lid = LID176.get(lang)
            if lid is None:
                return None
            lang = lid.iso639_3
        else:
            lang = entry[0]
    elif len(lang) == 3 and lang.isascii() and lang.isalpha():
        lang = ISO639_2B.get(lang, lang)
    else:
        return None
    if not _:
        return lang
    if len(script) != 4 or not (script.isascii() and script.isalpha()):
        return None
    return f"{lang}_{script[0].upper()}{script[1:].lower()}"
