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

# ISO 639-3 macrolanguages -> their individual member languages (subset relevant to LID
# evaluation and to the labels above). Used to score a macro prediction against an individual
# gold label and vice versa. Deliberate deviation: Indonesian 'ind' and Minangkabau 'min' are
# ISO members of 'msa' but are kept apart, because lid.176 and the dev sets treat them as
# separate languages and 'ind' for Malay text is the classic confusion we want to count.
MACROLANGUAGES: dict[str, frozenset[str]] = {
    k: frozenset(v.split())
    for k, v in {
        "ara": "arb arz apc ajp acm acq acw acx aeb aec afb ayh ayl ayn ayp ars ary abv auz "
        "avl pga shu ssh adf abh",
        "aze": "azj azb",
        "est": "ekk vro",
        "fas": "pes prs",
        "grn": "gug gui gun gnw nhd",
        "hbs": "hrv srp bos cnr",
        "kok": "gom knn",
        "kom": "kpv koi",
        "kur": "kmr ckb sdh",
        "lah": "pnb skr hnd jat phr xhe",
        "lav": "lvs ltg",
        "mlg": "plt bhr bmm bzc msh skg tdx tkg txy xmv xmw",
        "mon": "khk mvf",
        "msa": "zsm jax meo mfa mqg xmm bjn btj bve bvu coa dup hji jak kvb kvr kxd "
        "lce lcf liw max mfb mly mqg mui orn ors pel pse tmw urk vkk vkt zlm zmi",
        "nep": "npi dty",
        "nor": "nob nno",
        "ori": "ory spv",
        "pus": "pbt pbu pst",
        "que": "quy quz qub qug qvi qxo qvw qwh quh qul qus qvc qve qvh qvm qvn qvo qvs "
        "qvz qxa qxn qxp qxr qxu qxw",
        "sqi": "als aln aae aat",
        "srd": "sro src sdc sdn",
        "swa": "swh swc",
        "uzb": "uzn uzs",
        "yid": "ydd yih",
        "zho": "cmn yue wuu nan hak gan hsn cjy cdo cpx czh czo lzh mnp",
        "zza": "diq kiu",
    }.items()
}

MACRO_OF: dict[str, str] = {m: k for k, members in MACROLANGUAGES.items() for m in members}


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
