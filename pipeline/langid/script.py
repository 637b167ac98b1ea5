"""ISO 15924 script detection from Unicode code points.

Why our own: lid.176 labels carry no script, and even script-labelled models can disagree with
the text (a romanised Serbian page labelled ``srp_Cyrl``). Counting the letters' scripts is
cheap and deterministic. Per distinct character we derive the script once from
``unicodedata.name`` (cached in a dict), and we count characters with ``collections.Counter``
(C speed), so the per-document cost is one Counter pass plus a dict lookup per *distinct*
character.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Name prefixes (first one, two or three words of the Unicode character name) -> ISO 15924.
# fmt: off
_PREFIX_TO_SCRIPT: dict[str, str] = {
    "LATIN": "Latn", "FULLWIDTH LATIN": "Latn", "GREEK": "Grek", "COPTIC": "Copt",
    "CYRILLIC": "Cyrl", "ARMENIAN": "Armn", "HEBREW": "Hebr", "ARABIC": "Arab",
    "SYRIAC": "Syrc", "THAANA": "Thaa", "NKO": "Nkoo", "SAMARITAN": "Samr", "MANDAIC": "Mand",
    "DEVANAGARI": "Deva", "BENGALI": "Beng", "GURMUKHI": "Guru", "GUJARATI": "Gujr",
    "ORIYA": "Orya", "TAMIL": "Taml", "TELUGU": "Telu", "KANNADA": "Knda",
    "MALAYALAM": "Mlym", "SINHALA": "Sinh", "THAI": "Thai", "LAO": "Laoo", "TIBETAN": "Tibt",
    "MYANMAR": "Mymr", "GEORGIAN": "Geor", "HANGUL": "Hang", "HALFWIDTH HANGUL": "Hang",
    "ETHIOPIC": "Ethi", "CHEROKEE": "Cher", "CANADIAN SYLLABICS": "Cans", "OGHAM": "Ogam",
    "RUNIC": "Runr", "TAGALOG": "Tglg", "HANUNOO": "Hano", "BUHID": "Buhd",
    "TAGBANWA": "Tagb", "KHMER": "Khmr", "MONGOLIAN": "Mong", "LIMBU": "Limb",
    "TAI LE": "Tale", "NEW TAI LUE": "Talu", "BUGINESE": "Bugi", "TAI THAM": "Lana",
    "BALINESE": "Bali", "SUNDANESE": "Sund", "BATAK": "Batk", "LEPCHA": "Lepc",
    "OL CHIKI": "Olck", "GLAGOLITIC": "Glag", "TIFINAGH": "Tfng", "HIRAGANA": "Hira",
    "KATAKANA": "Kana", "HALFWIDTH KATAKANA": "Kana", "KATAKANA-HIRAGANA": "Kana",
    "BOPOMOFO": "Bopo", "CJK UNIFIED": "Hani", "CJK COMPATIBILITY": "Hani",
    "IDEOGRAPHIC": "Hani", "YI": "Yiii", "LISU": "Lisu", "VAI": "Vaii", "BAMUM": "Bamu",
    "SYLOTI NAGRI": "Sylo", "SAURASHTRA": "Saur", "KAYAH LI": "Kali", "REJANG": "Rjng",
    "JAVANESE": "Java", "CHAM": "Cham", "TAI VIET": "Tavt", "MEETEI MAYEK": "Mtei",
    "ADLAM": "Adlm", "OSAGE": "Osge", "GOTHIC": "Goth", "DESERET": "Dsrt", "SHAVIAN": "Shaw",
    "OSMANYA": "Osma", "CHAKMA": "Cakm", "MIAO": "Plrd", "WANCHO": "Wcho",
    "NYIAKENG PUACHUE HMONG": "Hmnp", "PAHAWH HMONG": "Hmng", "MENDE KIKAKUI": "Mend",
    "HANIFI ROHINGYA": "Rohg", "GUNJALA GONDI": "Gong", "MASARAM GONDI": "Gonm",
    "TANGUT": "Tang", "NUSHU": "Nshu", "OLD ITALIC": "Ital", "LINEAR B": "Linb",
    "CUNEIFORM": "Xsux", "EGYPTIAN HIEROGLYPH": "Egyp", "OLD PERSIAN": "Xpeo",
    "UGARITIC": "Ugar", "PHOENICIAN": "Phnx", "BRAHMI": "Brah", "KHAROSHTHI": "Khar",
    "GRANTHA": "Gran", "SHARADA": "Shrd", "TAKRI": "Takr", "KAITHI": "Kthi", "MODI": "Modi",
    "NEWA": "Newa", "TIRHUTA": "Tirh", "SIDDHAM": "Sidd", "SORA SOMPENG": "Sora",
    "MRO": "Mroo", "BASSA VAH": "Bass", "DUPLOYAN": "Dupl", "SOYOMBO": "Soyo",
    "ZANABAZAR SQUARE": "Zanb", "TOTO": "Toto", "OLD TURKIC": "Orkh", "AVESTAN": "Avst",
    "CARIAN": "Cari", "LYCIAN": "Lyci", "LYDIAN": "Lydi", "OLD SOUTH ARABIAN": "Sarb",
    "IMPERIAL ARAMAIC": "Armi", "INSCRIPTIONAL PAHLAVI": "Phli", "KHOJKI": "Khoj",
    "MAHAJANI": "Mahj", "MULTANI": "Mult", "KHUDAWADI": "Sind", "DOGRA": "Dogr",
    "AHOM": "Ahom", "BHAIKSUKI": "Bhks", "MARCHEN": "Marc", "DIVES AKURU": "Diak",
    "NANDINAGARI": "Nand", "MAKASAR": "Maka", "MEDEFAIDRIN": "Medf", "ELBASAN": "Elba",
    "CAUCASIAN ALBANIAN": "Aghb", "OLD HUNGARIAN": "Hung", "OLD PERMIC": "Perm",
    "KHITAN SMALL SCRIPT": "Kits", "YEZIDI": "Yezi", "SOGDIAN": "Sogd", "OLD UYGHUR": "Ougr",
    "TANGSA": "Tnsa", "VITHKUQI": "Vith", "CYPRO-MINOAN": "Cpmn",
}
# fmt: on

# Common characters that exist only in Simplified (resp. Traditional) Chinese writing. Used to
# split Han text into Hans/Hant; texts with no such character stay "Hani".
_HANS_ONLY = frozenset(
    "这们个来说国时会为对发动学经过还进样现实问题长门见开关书车东马鸟鱼语话认识让请谁贝页风飞饭"
    "师乐习买卖头欢观间无与专业从众优传儿军农电网亲华单厂县双变号员图场声处备够宝将尔岁带帮广应"
    "张当录总战报挂换数机权条构极标没气汉满热爱环产画点种称线组给续义节艺药营虽规视览觉计论设证词"
    "读调谈贵资赛赵转软轻办边达运远连选递邮铁银错闻队阳阶际陆隐难须顾领验鸡务区医历压厅参员响围"
    "图团坏块坚坛处够头夺奋妇娱孙实审宫宽宾导层属岛币师帐广庆库应废开异弃张弯归录彻忆怀态总恋"
    "恶惊惯战扑执扩扫扬护报担拥择挡挤挥损换据掷揽搅摄摆摇敌数断时旷昼显晓暂术机杀杂权条来杨"
    "极构枪柜标栏树样桥检楼横欢残毁毕气汇汉汤沟没沪泽洁浅浆测济浓涛涨润涩渊渐渔温湾湿满滚滞"
    "滥灭灯灵灿炉点炼烂烛烦烧热焕爱爷牵犹狭独狮猎献环现玛玺电画畅疗疯痒瘫盖盘确碍础祸离种积"
    "称稳穷窃竞笔笼筑筛签简粮紧纠红约级纪纯纲纳纵纷纸纹纺线练组细织终绍经结绕给络绝统继绩续维综绿"
    "缓编缘缩网罚罢罗职联聪肃肠肤肿胁胆胜脏脑脱腊临举丽买乱争亏亚产亩亲亿仅从仑仓仪们价众优"
    "会伞伟传伤伦伪体侠侣侥侦侧侨侬俭债倾偿储儿兑兴养兽内册写军农决况冻净凉减凑凤处凭凯击凿刍"
    "刘则刚创删别剂剐剑剧劝办务劢动励劲劳势勋匀华协单卖卢卤卫厂厅历厉压厌厕厢县叁参"
    "双发变叠叶号叹叽吓吕吗吨听启吴呐员呛呜咙响哑哗唤啧啬啰喷嘱团园围图圆圣场坏块坚坛坝坞坟"
    "坠垄垒垦垫埘执壮声壳处备复够头夹夺奋奖奥妆妇妈娄娅娇娱婴宁宝实宠审宪宫宽宾寝对寻导将尔尘尝"
)
_HANT_ONLY = frozenset(
    "這們個來說國時會為對發動學經過還進樣現實問題長門見開關書車東馬鳥魚語話認識讓請誰貝頁風飛飯"
    "師樂習買賣頭歡觀間無與專業從眾優傳兒軍農電網親華單廠縣雙變號員圖場聲處備夠寶將爾歲帶幫廣應"
    "張當錄總戰報掛換數機權條構極標沒氣漢滿熱愛環產畫點種稱線組給續義節藝藥營雖規視覽覺計論設證詞"
    "讀調談貴資賽趙轉軟輕辦邊達運遠連選遞郵鐵銀錯聞隊陽階際陸隱難須顧領驗雞務區醫歷壓廳參響圍團壞"
    "塊堅壇奪奮婦孫審宮寬賓導層屬島幣帳庫廢棄彎歸徹憶懷態戀惡驚慣撲執擴掃揚護擔擁擇擋擠揮損據擲攬"
    "攪攜攝擺搖敵鬥斷曠晝顯曉暫術樸殺雜楊槍櫃欄樹橋檢樓橫殘毀畢匯汙湯溝滬淚澤潔淺漿測濟濃濤漲潤澀"
    "淵漸漁溫灣濕滾滯濫滅燈靈災燦爐煉爛燭煙煩燒煥爺牽猶狹獨獅獵獻瑪璽暢療瘋癢癱蓋盤確礙礎禍離積穩"
    "窮竊競筆籠築篩簽簡糧緊糾紅約級紀純綱納縱紛紙紋紡練細織終紹結繞絡絕統繼績維綜綠緩編緣縮罰罷羅"
    "職聯聰肅腸膚腫脅膽勝脈臟腦腳脫臘臨舉麗亂爭虧亞畝億僅侖倉儀價夥傘偉傷倫偽傭俠侶僥偵側僑儂儉債"
    "傾償儲兌興養獸冊寫衝決況凍淨涼減湊鳳憑凱擊鑿芻劃劉則剛創刪別颳製剎劑剮劍劇勸勱勵勁勞勢勳勻協"
    "盧滷衛卻厲厭廁廂廈廚叄敘疊葉嘆嘰嚇呂嗎噸聽啟吳吶嗆嗚詠嚨鹹嚮啞嘩喚嘖嗇囉噴囑園圓聖壩塢墳墜壟"
    "壘墾墊塒壯殼複誇夾獎奧妝媽婁婭嬌娛嬰寧寵憲寢尋塵嘗"
)


_CACHE: dict[str, str] = {}


def char_script(ch: str) -> str:
    """ISO 15924 code of one letter, or "" when it is not a letter of a known script.

    Only alphabetic characters count (``str.isalpha``); modifier letters are skipped because
    they occur across scripts. Cached per character: a document has few distinct characters.
    """
    cached = _CACHE.get(ch)
    if cached is not None:
        return cached
    script = ""
    if ch.isalpha():
        if ch < "\x80":
            script = "Latn"
        else:
            words = unicodedata.name(ch, "").split(" ")
            if words[:2] != ["MODIFIER", "LETTER"]:
                for n in (3, 2, 1):
                    found = _PREFIX_TO_SCRIPT.get(" ".join(words[:n]))
                    if found:
                        script = found
                        break
    _CACHE[ch] = script
    return script


def script_counts(text: str, max_chars: int = 100_000) -> Counter[str]:
    """Letters per script. Texts longer than ``max_chars`` are counted on evenly spaced windows."""
    if len(text) > max_chars:
        n = 8
        step = len(text) // n
        w = max_chars // n
        text = "".join(text[i * step : i * step + w] for i in range(n))
    counts: Counter[str] = Counter()
    for ch, n in Counter(text).items():
        s = char_script(ch)
        if s:
            counts[s] += n
    return counts


def _han_variant(text: str) -> str:
    """Hans / Hant / Hani from the Simplified-only vs Traditional-only characters present."""
    chars = set(text)
    simp = len(chars & _HANS_ONLY)
    trad = len(chars & _HANT_ONLY)
    if simp > trad:
        return "Hans"
    if trad > simp:
        return "Hant"
    return "Hani"


def dominant_script(counts: Counter[str], text: str = "") -> str:
    """Pick the dominant script from per-script letter counts.

    Han is merged with Kana into ``Jpan`` when Kana is present, with Hangul into ``Kore`` when
    Hangul is present; pure Han becomes Hans/Hant (from ``text``) or Hani when undecided.
    """
    if not counts:
        return "Zxxx"
    han = counts.get("Hani", 0)
    kana = counts.get("Hira", 0) + counts.get("Kana", 0)
    hang = counts.get("Hang", 0)
    bopo = counts.get("Bopo", 0)
    groups: dict[str, int] = {
        s: c for s, c in counts.items() if s not in ("Hani", "Hira", "Kana", "Hang", "Bopo")
    }
    if kana:
        groups["Jpan"] = han + kana
        if hang:
            groups["Kore"] = hang
    elif hang:
        groups["Kore"] = hang + han
    elif han or bopo:
        groups["Hani"] = han + bopo
    best = max(groups.items(), key=lambda kv: (kv[1], kv[0]))[0]
    if best == "Hani":
        if bopo and not han:
            return "Bopo"
        variant = _han_variant(text) if text else "Hani"
        if variant == "Hani" and bopo:
            return "Hant"  # Zhuyin with Han: Taiwan
        return variant
    return best


#: Below U+0250 (Latin-1, Latin Extended-A/B) every letter is Latin or of no script (ª, µ), so a
#: text without letters above it is Latin if it has one Latin letter: two C-speed regex scans
#: instead of counting every letter (web text is mostly Latin with a few ’ or • above U+0250).
_LATIN_LETTER_RE = re.compile(
    "[" + "".join(re.escape(chr(c)) for c in range(0x250) if char_script(chr(c)) == "Latn") + "]"
)
_ALNUM_ABOVE_LATIN_RE = re.compile(r"[^\W\x00-\u024f]")  # letters and numerals from U+0250


def detect_script(text: str) -> str:
    """ISO 15924 dominant script of the letters in ``text``; "Zxxx" when it has no letters."""
    if not _ALNUM_ABOVE_LATIN_RE.search(text):
        return "Latn" if _LATIN_LETTER_RE.search(text) else "Zxxx"
    counts = script_counts(text)
    if not counts:
        return "Zxxx"
    return dominant_script(counts, text if "Hani" in counts else "")


# Scripts that a model label's script covers: a model saying "Jpan" is consistent with text
# that is only Han, a Kore label with pure Hangul or Han, Hani with Hans/Hant, and so on.
_COMPATIBLE: dict[str, frozenset[str]] = {
    "Jpan": frozenset({"Jpan", "Hani", "Hans", "Hant", "Hira", "Kana"}),
    "Kore": frozenset({"Kore", "Hang", "Hani", "Hans", "Hant"}),
    "Hang": frozenset({"Kore", "Hang"}),
    "Hani": frozenset({"Hani", "Hans", "Hant"}),
    "Hans": frozenset({"Hani", "Hans", "Hant"}),
    "Hant": frozenset({"Hani", "Hans", "Hant", "Bopo"}),
}


def scripts_compatible(label_script: str, text_script: str) -> bool:
    """Whether a text in ``text_script`` can carry a label in ``label_script``."""
    if label_script == text_script:
        return True
    return text_script in _COMPATIBLE.get(label_script, ())
