"""The shipped config/topics.yaml: loads, has the topics the desk relies on, tags the touchstone and
the hand-written dev items (tests/fixtures/tagging) well enough."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.model import TextInput
from ingest.tag import Tagger
from tests.conftest import FIXTURES, ROOT

CORE = ("nato", "air-defence", "sanctions", "military-aid")


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.from_file(ROOT / "config" / "topics.yaml")


def test_topics_present(tagger: Tagger) -> None:
    for tid in (*CORE, "drones", "energy-strikes", "nuclear-safety", "peace-talks", "cyber"):
        assert tid in tagger.topic_ids


def test_every_topic_has_all_languages(tagger: Tagger) -> None:
    for topic in tagger.topics:
        langs = {t.language for t in topic.all_terms()}
        assert {"en", "fr", "de", "pl", "ru", "uk"} <= langs, topic.id


def test_touchstone(tagger: Tagger, touchstone_text: str) -> None:
    title, _, body = touchstone_text.partition("\n")
    got = {m.id for m in tagger.tag(TextInput(title=title, content=body), "fr")}
    assert set(CORE) <= got


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        ("Senator meets governors", set(), {"nato"}),
        ("Germany delivers IRIS-T air defence systems to Ukraine", {"air-defence", "military-aid"}, set()),
        ("Зеленський: Україні потрібні ППО", {"air-defence"}, set()),
        ("Системы ПВО сбили ракеты над Киевом", {"air-defence"}, set()),
        ("UEFA sanctions club over fan violence", set(), {"sanctions"}),
        ("ФИФА ввела санкции против клуба", set(), {"sanctions"}),
        ("Нові санкції проти Росії", {"sanctions"}, set()),
        ("Новые санкции против России", {"sanctions"}, set()),
        ("Nowe sankcje wobec Rosji", {"sanctions"}, set()),
        ("Neue Sanktionen gegen Russland", {"sanctions"}, set()),
    ],
)
def test_headlines(tagger: Tagger, text: str, expected: set[str], absent: set[str]) -> None:
    got = {m.id for m in tagger.tag(TextInput(title=text))}
    assert expected <= got
    assert not (absent & got)


# Precision classes (docs/decisions.md, "Topic tagging, round 3"): a near miss must not get the topic,
# while the real thing next to it still does. Six-language sets: tests/fixtures/tagging/gaps_*.jsonl g42-g64.
@pytest.mark.parametrize(
    ("title", "summary", "expected", "absent"),
    [
        # 1. an air-raid alarm alone is civil protection; an alarm with interceptions is air defence
        (
            "Повітряна тривога по всій Україні",
            "Мешканці Києва провели ніч в укриттях.",
            set(),
            {"air-defence"},
        ),
        ("Alarm przeciwlotniczy w Kijowie", "", set(), {"air-defence"}),
        ("Luftalarm in Kyjiw: 23 Drohnen abgeschossen", "", {"air-defence"}, set()),
        # 2. airspace closed to Russian planes is an aviation ban; "close the sky" over Ukraine is air defence
        ("ЄС закрив небо для всіх російських літаків", "", set(), {"air-defence"}),
        ("L'UE ferme son ciel aux avions russes", "", set(), {"air-defence"}),
        ("Закрийте небо над Україною від російських ракет і літаків", "", {"air-defence"}, set()),
        # 3. the sanction of a criminal-code article, a court's authorisation, benefit sanctions
        ("Санкция статьи предусматривает до восьми лет лишения свободы", "", set(), {"sanctions"}),
        ("Суд дав санкцію на арешт колишнього мера", "", set(), {"sanctions"}),
        ("Jobcenter verschärfen Sanktionen gegen Bürgergeld-Empfänger", "", set(), {"sanctions"}),
        ("Бізнесменові загрожує 20 років позбавлення волі за обхід санкцій", "", {"sanctions"}, set()),
        ("РНБО застосувала санкцію проти компанії-перевізника", "", {"sanctions"}, set()),
        ("Совбез ввёл санкцию в отношении оператора связи", "", {"sanctions"}, set()),
        # 4. weapon names with civilian namesakes
        ("Zoo receives two snow leopard cubs", "", set(), {"military-aid"}),
        ("J.J. Abrams receives award for new series", "", set(), {"military-aid"}),
        ("Kia Stinger: the last cars delivered to customers", "", set(), {"military-aid", "air-defence"}),
        ("«Нью-Ингленд Пэтриотс» подписали квотербека", "", set(), {"air-defence"}),
        ("Germany delivers ten more Leopard 2 tanks to Ukraine", "", {"military-aid"}, set()),
        # 5. assets frozen in a bribery case are not a sanctions asset freeze; the EU's are
        ("Court freezes assets of former mayor accused of bribery", "", set(), {"sanctions"}),
        ("EU freezes the assets of 20 more Russian businessmen", "", {"sanctions"}, set()),
    ],
)
def test_precision_classes(
    tagger: Tagger, title: str, summary: str, expected: set[str], absent: set[str]
) -> None:
    got = {m.id for m in tagger.tag(TextInput(title=title, summary=summary))}
    assert expected <= got
    assert not (absent & got)


def test_gaps_sets(tagger: Tagger) -> None:
    """The third-round six-language sets (written with the rules): every item gets exactly its core topics."""
    wrong = []
    for path in sorted((FIXTURES / "tagging").glob("gaps_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            doc = TextInput(d["title"], d.get("summary", ""), "", d["language"])
            got = {m.id for m in tagger.tag(doc)} & set(CORE)
            if got != set(d["topics"]):
                wrong.append(d["id"])
    assert wrong == []


# Rounds 4-6, written blind to the rules (docs/decisions.md, "Topic tagging, round 4"): what the rules still
# get wrong there, on purpose. One mention is decisive anywhere (weights 2-3, the scale in topics.yaml), so a
# passing mention deep in a body still tags: ba27 and bc18 (a farming story and a novelist's interview that
# name NATO once), bc23 (refugees; "Germany, Kyiv's biggest arms supplier"), bc24 (a digest quoting thanks
# "including through sanctions"), bc19 in the body (a fertiliser price cap). Weighing the body at 0.75
# fixed those but dropped 31 of 66 White House statements tagged sanctions ("impose sanctions on persons
# determined..."). pl-bb11: Baltic Air Policing as "ochrona nieba" (air defence in Polish usage). en-bd35:
# a basketball "air defence" with only "blocks" and "rim" around it. bd11: a request with the verb 8 words
# before "Patriot"; bd26 and bc24's aid: a package announced without a delivery verb. Rounds 7-8 (e, f):
# drones "destroyed" (be24, en-bf12: also how strikes on drone depots are written), a pronoun object
# ("en avoir intercepté 75", fr-be07), German separable "schießen … ab" (de-be08), a summit without the
# alliance named (bf08, uk-bf07), a drawdown told as "from its own stocks" (bf32), a school's "sanctions"
# far from the school words (bf36), data "delivered" to air-defence units (de-bf13). Round 9 (j, unrelated
# news): a school's or a regulator's sanctions and a rent cap named far from the words that tell them apart;
# set i: a ballistic strike report labelled air-defence without any interception (bi33), money "for the
# Ukrainian army" (fr-bi14: as a rule it also tagged an army-rations corruption case). Round 10 (k): a PURL
# payment without NATO named, labelled military-aid only by this author (bk04; four others labelled PURL
# nato too), a German scramble told with the jet's name only ("lässt F-16 aufsteigen", de-bk15). Set l
# (unrelated news) was measured and not tuned on: the NFL Patriots' "défense"/"obrona" and a school phone ban.
# Round 11 (m, an ordinary day with near misses): recruits' course that "covers ... defence against drones"
# (bm22, labelled military-aid only; the counter-drone clause fires in en, pl, ru, uk). Round 12 (n, regional
# outlets, digests, live blogs): systems arriving at or bought by a NATO member (bn05 Patriots deployed at
# Rzeszów, bn10 Lithuania buying IRIS-T, bn29 Romania asking allies for a Patriot battery) read as deliveries;
# a budget story with the aid in its last sentences (bn26); ambulances for a brigade told "unlike earlier
# convoys for civilian hospitals" (bn30: the contrast veto); fr-bn24, pl-bn11. Round 13 (o, a press office's
# week): drones and missiles "destroyed" overnight (bo07, like be24), German "schießen … ab" (de-bo13); with
# "défense antiaérienne" now a delivered system in French too, fr-bn29 fails like the other languages.
# Round 14 (p, short aggregator news): interceptor drones funded by the Netherlands (bp16: as supplied things
# they also tagged units receiving or needing them, bm12, bn24, bc06); a hobby-drone law with a no-fly zone
# around airports (en-, de-bp26). NFL words now veto the Patriots' "défense"/"obrona" (bl08 passes).
# Round 15 (q, national and regional press; r, features, interviews and live blogs with body-only cues):
# containers "built to NATO standard" (q36, all six: vetoing the phrase would also drop Ukraine's move to
# NATO standards), a verb 9+ words from the weapon (de-q03, fr-q05, fr-q16, de-/pl-q18, r18, fr-/ru-r23), a
# factory's "new Ukrainian order" (de-, ru-q10), "sanctions" meaning a penalty or approval far from the
# words that tell them apart (fr-q32, en-q33, fr-r26, pl-r38), a museum exhibit's veto word beyond 8 words
# (fr-q40), a mobile fire group's hope "to receive interceptor drones" after its machine guns (r11: near
# clauses do not stop at a sentence end), a ballistic strike's "urged allies ... air defence" (en-r34).
# Round 16 (s, official register: communiqués, readouts, bulletins; t, the business desk), measured first
# with the round-15 rules and tuned only on what generalises (Skyranger, Tomahawk, anti-drone weapons,
# munitions and radars "for Ukraine", market regulators' sanctions committees): a president "sanctioning"
# (approving) a budget law (s06), a parliament's penalty on a member (s12), "origin-based import
# restrictions ... circumvention" without the word (s38), a bank closing accounts after a Treasury warning
# (t15), a results "embargo" (t25), a cloud "Sky Shield" intercepting bots (t29), Polish army purchases of
# Piorun and Rafale deliveries to India read as aid (t03, t12), a joint venture paid "by the UK" 10+ words
# from the missiles (t20), €45bn of a loan "reserved for purchases of weapons" (t34), interceptor drones
# for "Ukraine's defence forces" outside English (t14), and single-language slips.
# Set u (an ordinary day's mixed inbox) was measured with the round-16 rules and not tuned on: long-range
# drones financed for Ukraine (u22: drones are not weapons to the aid clauses, a unit's own drones are
# not aid), drone fragments found after a night of strikes without an interception (u18), a sanctions
# package named only by its number (en-, pl-u03), companies' "curbs" biting (en-u20), PAC-3 (pl-u26).
# Set v (another ordinary day, a summit on the agenda), measured and not tuned on: a training mission named
# only "Operation UNIFIER" (v34), a trip "to press allies for air defence" labelled aid (v22), a markets
# piece on the alliance's spending pledges that never names it (v38), "new EU restrictions" in a Kremlin
# quote (v16), units' interceptor drones with machine guns "provided" (uk-v23).
BLIND_SETS = (
    *"abcdefijklmnopqrstuvwxyz",
    *("za", "zb", "zc", "zd", "ze", "zf", "zg", "zi", "zj", "zk", "zl", "zm", "zn", "zo", "zp", "zq", "zr"),
    *("zs", "zt", "zu", "zv", "zw", "zx", "zy", "zz"),
    *("ya", "yb", "yc", "yd", "ye"),
    *("yf", "yg", "yi", "yj", "yk"),
    *("yl", "ym", "yn", "yo", "yp"),
    *("yq", "yr", "ys", "yt"),
    *("yu", "yv", "yw"),
    *("yx", "yy", "yz", "xa"),
    *("xb", "xc", "xd"),
    *("xe", "xf", "xg", "xi", "xj"),
    *("xk", "xl", "xm", "xn"),
    *("xo", "xp", "xq", "xr"),
    *("xs", "xt", "xu", "xv"),
)
BLIND_KNOWN_MISSES = (
    {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("ba27", "bc18", "bc24")}
    | {f"{lang}-bc23" for lang in ("en", "fr", "pl", "ru", "uk")}
    | {f"{lang}-bc19" for lang in ("en", "de", "ru", "uk")}
    | {"pl-bb11", "en-bd35"}
    | {f"{lang}-bd11" for lang in ("en", "de", "pl", "ru", "uk")}
    | {"en-bf12", "de-bf08", "en-bf08", "uk-bf07"}  # en-be24 fixed in round 33
    | {"de-bf13", "uk-bf32", "fr-bf36"}
    | {"fr-bj25", "pl-bj03", "uk-bj03", "uk-bj23"}
    | {"en-bi33", "pl-bi33", "uk-bi33"}
    | {f"{lang}-bk04" for lang in ("en", "fr", "de")}  # pl, ru, uk fixed in round 29 (PURL weaker for nato)
    | {"en-bl12", "fr-bl12"}
    | {f"{lang}-bm22" for lang in ("en", "pl", "ru", "uk")}
    | {f"{lang}-bn30" for lang in ("en", "fr", "de", "pl", "ru", "uk")}
    | {f"{lang}-bn05" for lang in ("en", "de", "ru", "uk")}
    | {"en-bn26"}
    | {"en-bn29", "ru-bn29", "uk-bn29", "fr-bn29", "pl-bn11"}
    | {f"{lang}-bo07" for lang in ("de", "ru", "uk")}  # en, fr, pl fixed in round 33
    | {"de-bo13"}
    | {"en-bp26", "de-bp26"}
    | {"fr-q05", "ru-q10", "de-q18", "pl-q18", "en-q33", "fr-q40"}  # fr-q32 fixed in round 32
    | {"fr-r26", "en-r34"}  # pl-r38 fixed in round 29, ru-r23 in round 39
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("s38", "t15", "t20")}
    | {"pl-s12", "ru-s12", "uk-s12", "ru-s11", "uk-s11", "uk-s36"}
    | {f"{lang}-t12" for lang in ("en", "fr", "de")}
    | {f"{lang}-t14" for lang in ("fr", "pl", "ru", "uk")}
    | {f"{lang}-t29" for lang in ("fr", "pl", "ru", "uk")}
    | {"de-t17", "fr-t17", "pl-t17"}  # t37 fixed in round 39
    | {"pl-t01"}
    | {"en-u20"}
    | {f"{lang}-v38" for lang in ("en", "fr", "de", "pl", "ru", "uk")}
    | {"ru-v34"}  # uk-v34 fixed in round 37
    | {f"{lang}-v22" for lang in ("en", "de", "pl", "ru", "uk")}
    | {f"{lang}-v16" for lang in ("en", "fr", "pl", "ru", "uk")}
    | {"uk-v23"}
    # Round 17 (w: the body carries it; x: the business desk; y: official voices; first measured, then
    # tuned on what generalises). A delivery now needs a recipient in the article (near clause `requires`,
    # conditional delivery nouns), which fixed armies buying for themselves (bn10, t03, t12, x26, x35) and
    # strike reports' "hit" (pl-s08); with the retraining, earmarking and "comprising" verbs also bf32, bi14,
    # r11, r18, r23, t34, fr-q16. Still missing: Chinese banks returning Russian payments for fear of US
    # dollar clearing, never saying "sanctions" (x11); a bank regulator's fine and an antitrust fine read as
    # sanctions (fr-x02; pl-x09: the singular "sankcję" folds to the plural "sankcje"); disciplinary
    # penalties two sentences from their context (fr-y27); money "for Ukraine ... mainly for ammunition"
    # without a verb (ru-w04)
    | {f"{lang}-x11" for lang in ("en", "fr", "pl")}  # de fixed in round 30
    | {"fr-x02", "pl-x09", "fr-y27"}
    # Round 18 (z: an ordinary day in six newsrooms; za: each newsroom tells it its own way), first measured
    # with the round-17 rules (z: air-defence 0.86 in en, fr, pl, military-aid 0.88 in uk, 36 of 40 identical,
    # 0 of 90 unrelated tagged; za: every cell >= 0.93, 36 of 40, 0 of 90), then tuned on what generalises:
    # drones financed for Ukraine (also u22, bp16, t14), PAC-2/PAC-3/GEM-T, Operation UNIFIER, "measures
    # against Russia" (u03), bans on goods from Russia and Belarus, "repelling a combined attack", a budget
    # law "sanctioned" (s06), the shoot-down clause at 7 words. Still missing: money voted "for Ukraine's
    # armed forces" (z24: Ukraine's own budget lines read the same), a rouble story whose cue is "US penalties
    # on buyers" (z11), missiles "for Ukrainian Patriot batteries" (uk-z18), brought down 8+ words from the
    # missiles (fr-z12), a German separable pledge "sagen ... zu" (de-za17), an arms sale in ru (za21), a
    # drone incursion told only as airspace violated (fr-za05)
    | {f"{lang}-z24" for lang in ("en", "fr", "pl", "ru", "uk")}
    | {"uk-z18", "fr-z12"}  # de-za17 fixed in round 29, ru-za21 in round 32
    # Round 19 (zb: the weekend edition: analysis, interviews, reviews; zc: breaking alerts and live-blog
    # lines), first measured with the round-18 rules (zb: sanctions 0.89, military-aid 0.91, 35 of 40
    # identical, 10 of 90 unrelated tagged: a 1961 spy novel's "NATO secrets" in all six, an exchange's fine;
    # zc: every cell >= 0.91, 37 of 40, 0 of 90), then tuned on what generalises: a book-review veto for nato,
    # "Western restrictions", "measures on Russia", firing units and launchers "for Ukraine", only kinds of
    # drones that are given in the drone-financing clause. Still missing: an exchange's fine "sanctioning" a
    # listed studio (zb29), a city paying for machine guns against Shaheds read as aid (zb14), an arms sale
    # approved by the State Department, labelled aid (zc19), MiG-31s in Estonian airspace (en-zc11), Russia's
    # claims about German compound "Starrflügeldrohnen" (de-zc14), de-zb09
    | {f"{lang}-zb29" for lang in ("en", "fr", "ru", "uk")}
    | {"en-zb14", "pl-zb14", "de-zb09", "en-zc11"}  # de-zc14 fixed in round 33, de-zb14 in round 37
    # Set ze (a general-news inbox, 22 of 40 items without a core topic, most of them traps), first measured
    # with the round-19 rules: sanctions 0.85 (en 0.71), 35 of 40 identical, 9 of 132 unrelated tagged (a
    # Booker shortlist's press embargo in all six, as t25's results embargo before it; a speaker's penalty on
    # an MP; an electricity price cap). An embargo now needs a country, a commodity, arms or trade in the
    # article (conditional), and electricity prices join the household-prices veto. Still missing: an LNG
    # reloading ban told as a terminal's volumes (ze05), a speaker "sanctioning" an MP (ze21, as s12), F-16
    # pilots graduating without the word train (en-ze08), an airport closed for drones (de-ze09)
    | {"en-ze21", "en-ze08"}  # pl-ze21 fixed in round 29, de-ze09 in round 32
    # Set zd (regional and local press), first measured with the round-20 rules: sanctions 0.81, military-aid
    # 0.81 (de, pl, ru, uk 0.80), air-defence 0.96 (de 0.88), 32 of 40 identical, 2 of 90 unrelated tagged.
    # Tuned: an EU ban or a transit ban in an article about Russia or Belarus (conditional; also ze05),
    # Ukrainian recruits, soldiers and volunteers as trainees (also v34, bd26). Still missing: refurbished
    # Leopards received by a brigade whose country is never named (zd40), a Belfast plant's "Ukraine contract"
    # (zd28), Typhoons sent to guard the eastern flank labelled air-defence (zd07), an MP's call for more air
    # defence, labelled not aid by this author (zd20), Chinese banks returning payments (en-zd23, like x11), a
    # firm's court fine (pl-zd06), a football association's "санкції" (uk-zd21), German transit rules (de-
    # zd14)
    | {f"{lang}-zd40" for lang in ("en", "fr", "de", "pl", "ru", "uk")}
    | {f"{lang}-zd28" for lang in ("de", "pl", "ru", "uk")}
    | {"en-zd20", "fr-zd20", "en-zd23", "pl-zd06", "uk-zd21", "de-zd14"}
    # Set zf (provincial newsrooms), written after round 21 and measured with its rules, not tuned on:
    # military-aid 0.75 (en 0.67): volunteers handing pickups and FPV drones to a brigade (zf04, labelled aid
    # by this author), a brigade putting refurbished Leopards into service with no country named (zf13, as
    # zd40), a start-up and a Ukrainian partner building drones (zf17, as t17/t20), a Ukraine radar order for
    # a Scottish plant (en-zf10); an aluminium ban told as "shuts door" (en-zf19); a court's fine on a
    # winemaker read as sanctions (zf29)
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("zf04", "zf13", "zf17")}
    | {f"{lang}-zf29" for lang in ("fr", "pl", "ru", "uk")}
    | {"en-zf10", "en-zf19"}
    # Set zg (another ordinary day), likewise measured and not tuned on: sanctions 0.89 (en 0.80): a "ghost
    # fleet" targeted by London without the word (zg21: "shadow fleet" is a term, "ghost fleet" is not), a
    # senator's insulin price cap read as a price cap on oil (zg27), revenues slumping (en-zg10), asset
    # profits released mostly for weapons in de (de-zg25); Romania moving more anti-aircraft guns to the
    # Danube read as a delivery (zg19: Ukraine in the article). Round 22 then added
    # "ghost fleet" and pharmaceutical prices in the household-prices veto (zg21, zg27 fixed)
    | {"de-zg19", "pl-zg19"}  # fr-zg19 fixed in round 37
    # Set zi (same story, six desks), written after round 22 and measured with its rules, not tuned on: every
    # cell >= 0.88 (air-defence pl 0.88), 36 of 40 identical, 2 of 90 unrelated tagged: a parliament president
    # "sanctioning" an MEP (zi27, as s12), F-16s for intercepting missiles told without the word in pl/uk
    # (zi19), PURL money for interceptors in pl (zi05), a training mission for "Ukrainian military" in ru
    # (zi22)
    | {"en-zi27", "fr-zi27", "pl-zi19", "ru-zi22", "uk-zi19"}
    # Set zj (long reads and interviews: 32 of 40 items with a body), first measured with the round-22 rules:
    # nato 1.00, air-defence 0.94 (pl 0.89), sanctions 0.93 (en 0.86), military-aid 0.89 (en, ru, uk 0.87),
    # 33 of 40 identical, 2 of 90 unrelated tagged. Round 23 added "measures against/on" Rosneft, Lukoil and
    # the other sanctioned majors named, "stop buying" Russian LNG, weapons purchases as delivery nouns in
    # ru, uk, pl, de (as fr « achat d'armes »; also fixed t34, w04, bn26 in four languages, z11 and pl-zi05),
    # the Czech initiative at 2.5, Polish forms of "Patriot", "launcher", and a veto on the parts of downed
    # drones traced to suppliers. Left: interceptor drones "paid for by partners" far from any verb (zj31),
    # an airline's routes lengthened by the "closed sky" in ru/uk (zj27)
    | {f"{lang}-zj31" for lang in ("en", "fr", "de", "pl", "ru", "uk")}
    | {"ru-zj27", "uk-zj27"}
    # Set zk (terse wires and tickers), first measured with the round-22 rules: nato and air-defence 1.00,
    # sanctions 0.88 (pl 0.83), military-aid 0.99, 37 of 40 identical, 3 of 90 unrelated tagged. Round 23
    # added the EU's numbered packages ("the EU's 21st package", «21-й пакет ЄС», with the EU in the
    # article), Polish export restrictions, "Czech-led initiative" and calibre rounds, and "rostrum" and
    # Diäten as parliament's discipline. Left: a French headline where the Sejm's speaker "inflige des
    # sanctions financières" to MPs (fr-zk16: the cue, tribune, is in the other field)
    | {"fr-zk16"}
    # Set zl (the week in Brussels, Washington and Kyiv), first measured with the round-22 rules:
    # sanctions 0.93 (en 0.80), military-aid 0.99, 36 of 40 identical, 1 of 90 unrelated tagged. Round 23
    # added the Bureau of Industry and Security, penalties and punitive duties near Russian oil, a budget
    # committee "sanctioning" a purchase as approval, and interceptor missiles among delivered weapons. Left:
    # "Verbündete sagen Abfangraketen zu" (de-zl18: sagen alone is "say", see de-r14)
    | {"de-zl18"}
    # Round 24 (zm: what the Ukrainian and Russian press writes; zn: the Berlin, Paris and Warsaw desks),
    # first measured with the round-23 rules: zm every cell >= 0.92, 36 of 40 identical, 0 of 90 unrelated
    # tagged; zn air-defence 0.95 (pl 0.89), military-aid 0.92 (de, ru, uk 0.89), 36 of 40, 1 of 90. Tuned:
    # CAMM, Poland's SAN counter-drone towers (in an article about drones), Ramstein the air base vetoed as
    # the contact group, Ukrainian brigades as trainees, delivered armoured vehicles (Radpanzer, бронемашины),
    # a repelled "attack on the capital", Russia's food embargo, Ukrainian "блокуються", supplies "for
    # Ukrainian army", a French parliament's "chahut". Set zo (an ordinary day, February 2027) measured with
    # the round-23 and round-24 rules (same figures) and not tuned on: every cell >= 0.91, 36 of 40 identical,
    # 2 of 90 unrelated tagged: Article 5 without NATO named (zo15), a lowered price cap told as "plafond
    # abaissé" (fr-zo10), a German Patriot battery deployed to Romania read as aid (pl-zo20), a drone light
    # show "at the closing" (закрытии) of a festival read as the "closed sky" (zo27)
    | {"pl-zo15", "fr-zo10", "pl-zo20", "ru-zo27", "uk-zo27"}  # en-zo15 fixed in round 29
    # Round 25 (zp: same story, six desks, again), first measured with the round-24 rules: air-defence 0.95
    # (fr, de 0.88), military-aid 0.97 (en 0.89), nato and sanctions 1.00, 33 of 40 identical, 0 of 90
    # unrelated tagged. Tuned: "vom Himmel holen", French "appareils" shot down and "groupes de feu mobiles",
    # Polish "transportery", the plural "Patriots" in an article about the war (also fixed de-be08, fr-za05,
    # fr-zd07). Left: German "schießen ... ab" (zp07, as bo13), a request for interceptors read as a supply
    # (en-zp12), armoured vehicles sent with no recipient named in the English version (en-zp25)
    | {"de-zp07", "en-zp12", "en-zp25"}
    # Set zq (an ordinary day, mid-February 2027) measured with the round-24 and round-25 rules (same figures)
    # and not tuned on: nato 0.91 (PURL money read as NATO, which this author did not label), air-defence
    # 0.93 (F-16s scrambled while drones hit ports, no interception told), sanctions 0.98 (en, fr 0.93: a
    # bill "to punish buyers of Russian oil"), military-aid 1.00; 39 of 40 identical; 0 of 90 unrelated tagged
    | {f"{lang}-zq02" for lang in ("en", "fr", "de", "pl", "ru", "uk")}
    # Round 26, after the zo and zq figures were recorded: scrambled jets named by type (F-16, Eurofighter,
    # Rafale, Су-27...), with air policing's identification flights vetoed; "punish" buyers of Russian oil;
    # "mutual defence" near the Alliance. Fixed zq17 (but pl: "Rumuńskie F-16 w powietrzu" has no verb),
    # zq19, fr-zo15, and older bk15, u18 (not uk)
    # Round 27 (zr: business pages and regional outlets, March 2027), first measured with the round-26 rules:
    # nato and air-defence 1.00, sanctions 0.91 (en, fr, de 0.88), military-aid 0.99 (fr 0.92), 38 of 40
    # identical, 0 of 90 unrelated tagged. Tuned: goods routed to Russia via Kazakhstan or intermediaries,
    # quotas and phase-outs of Russian aluminium, steel and diamonds, French "payés par"; every zr item now
    # passes
    # Set zs (an ordinary day, early March 2027), measured with the round-27 rules and not tuned on: every
    # item right (all cells 1.00, 40 of 40 identical, 0 of 90 unrelated tagged)
    # Round 28 (zt: a day full of lookalikes, 25 of 40 items unrelated), first measured with the round-27
    # rules: recall 1.00 everywhere, 9 of 150 unrelated tagged (a film called "Patriot" at the box office, a
    # council "sanctioning" a tram line, volcanic ash closing the sky, the NHL's Jets, a French MP "sanctionné
    # financièrement"). Tuned: box office and ice hockey anywhere, volcanic ash near a closed sky, a council's
    # approval, parliament's fines in French; every zt item now passes. Set zu (an ordinary day, late March
    # 2027), measured with the round-27 and round-28 rules and not tuned on: every cell >= 0.93, 39 of 40
    # identical, 0 of 90 unrelated tagged; left: a jet shot down, told in German in the body only (zu25)
    | {"de-zu25"}
    # Round 29 (zv: an ordinary morning, early April 2027; zw: told the indirect way, the topic never named by
    # its keyword; zx: official channels; zy: opinion, analysis and interviews), first measured with the
    # round-28 rules: zv every cell >= 0.86 (sanctions de, pl), 36 of 40 identical, 0 of 90 unrelated tagged;
    # zw nato 0.67-0.83, air-defence 0.75-0.82, sanctions 0.77-0.93, military-aid 0.62-0.94, 28 of 40, 2 of 72
    # (Star Alliance read as NATO); zx every cell >= 0.89, 35 of 40, 0 of 84; zy cells 0.80-1.00, 34 of 40, 8
    # of 90 (an inbox's 'air defence', sanctions on rowdy MPs). Tuned: PURL decisive for nato in a title only,
    # the Alliance's command and headquarters, airline alliances vetoed, 'article 5' decisive in a title,
    # reviews no longer veto nato (spy fiction still does), aerial targets destroyed, 'downs', 'taken down',
    # German drone compounds, Polish 'bezzałogowce', the Gepard near drones, e-mail security vetoes air
    # defence, Gepard plurals, 'includes', requests and sales to Ukraine in ru/uk/pl/de, uk 'вишкіл', jets 'in
    # der Ukraine gelandet', secondary tariffs, sectoral restrictions, measures 'against Russia' with words
    # between, buyers of Russian oil targeted, persons 'designated', 'barred from' Russian LNG, MPs' pay
    # docked vetoes sanctions. Left: indirect copy (a tanker ports may not serve, accounts frozen with an ex-
    # wife named, a long-range battery handed over, an economy bending under 'curbs', Swiss traders and 'the
    # EU's lists', F-16s that 'hunt' missiles, weapons bought with the reparations loan), air policing
    # labelled air-defence by one author (zx17), PURL labelled without nato (uk-zw15)
    | {
        "pl-zw06",
        "en-zw07",
        "pl-zw07",
        "uk-zw15",
        "fr-zw18",
    }
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("zw28", "zy28", "zy32")}
    # (fr-zy29 fixed in round 30)
    | {f"{lang}-{key}" for lang in ("en", "de", "pl", "ru", "uk") for key in ("zw14", "zy29")}
    | {"fr-zx05", "de-zx17", "fr-zx17", "pl-zx17", "en-zy33", "fr-zy33", "pl-zy33"}
    | {f"{lang}-zy04" for lang in ("en", "de", "pl", "ru")}
    # Set zz (an ordinary evening, mid-April 2027), measured with the round-28 rules and not tuned on: nato
    # and air-defence 1.00, sanctions 0.99 (pl 0.94: MPs' pay docked, fixed by the zy veto), military-aid 0.88
    # (de, pl 0.84), 37 of 40 identical, 7 of 90 unrelated tagged (Japan's grid transformers, whose body says
    # Japan 'does not supply weapons': a negated delivery in a passing clause, in all six languages); left:
    # that negation, a US sale paid for by European countries (zz24), pl IRIS-T fire units (pl-zz02)
    | {"pl-zz02", "de-zz28", "de-zz24"}  # zz28 (en fr pl ru uk) fixed in round 30, zz24 (not de) in 32
    # Round 30 (ya: an ordinary day, late April 2027; yb: told the indirect way again; yc: opinion and
    # analysis again; yd: hedged, denied and negated), first measured with the round-29 rules: ya every cell
    # >= 0.93 but sanctions de 0.73, en 0.83, 34 of 40 identical, 1 of 90 (a preposition 'с 300 генераторами'
    # read as the S-300); yb nato en 0.60, sanctions en, fr 0.71, military-aid en 0.78, 26 of 40, 0 of 72; yc
    # every cell >= 0.92 but military-aid pl 0.82, 35 of 40, 0 of 90; yd 36 of 40, 19 of 96 unrelated tagged
    # (passing negations: Japan 'never sent arms', neutral Austria 'not a NATO member, does not supply
    # weapons', 'unlike NATO summits'). Tuned: S-300/S-400 case-kept, packages 'against Moscow', reserves
    # 'festgesetzt', ships barred from EU ports, cut off from dollar clearing or the US financial system,
    # dual-use goods, frozen holdings, delisting, the Alliance's Secretary General and chief, hunting cruise
    # missiles, T-72s and buying back for Ukraine, доправити, pilots cleared to use weapons (not a supply), a
    # present-tense or 'never' policy of not sending weapons and 'not a NATO member' or 'unlike NATO' (those
    # hits only). Left: scrambles labelled nato only (yd03, as zx17 the other way), a fact-check of a
    # 'destroyed Patriot' (yd21), volunteer units' kit bought locally (yb26, yc02: the same words as a foreign
    # donation, q09), allied Patriots shielding a supply hub read as aid (yb23), opinion that Europe should
    # pay for interceptors (yc03), Article 5 with 'the alliance' in lower case (yc19)
    | {"de-ya16"}
    | {"en-yb02", "fr-yb02", "en-yb04", "fr-yb05", "ru-yb17", "uk-yb17", "en-yb23", "fr-yb23", "de-yb23"}
    | {"de-yb24", "pl-yb24", "ru-yb24", "fr-yb25", "de-yb25", "en-yb26", "pl-yb26", "ru-yb26", "uk-yb26"}
    | {"en-yb27", "de-yb28", "pl-yb28", "pl-yc02", "ru-yc02", "uk-yc02", "pl-yc09", "de-yc13", "de-yc15"}
    | {f"{lang}-yc03" for lang in ("en", "de", "pl", "ru", "uk")}
    | {f"{lang}-yc19" for lang in ("en", "fr", "de", "pl", "ru")}
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("yd03", "yd21")}
    | {"ru-yd07", "uk-yd07", "fr-yd09", "fr-yd11", "fr-yd32"}
    # Set ye (an ordinary afternoon, early May 2027), measured with the round-29 rules and not tuned on (the
    # round-30 rules give the same): nato and sanctions 1.00, air-defence 0.94 (pl 0.88), military-aid 0.95,
    # 37 of 40 identical, 0 of 90 unrelated tagged
    | {f"{lang}-ye12" for lang in ("en", "fr", "de", "pl", "uk")}  # ye05, pl-ye15, zw01 fixed in round 31
    # Round 31 (yf: an ordinary morning, mid-June 2027; yg: regional and local press; yi: wire flashes and
    # briefs; yj: long reads with the story in the body), first measured with the round-30 rules: yf every
    # cell >= 0.91, 34 of 40 identical, 2 of 90 (an inflation '5% target' read as NATO's); yg military-aid
    # 0.62-0.80, air-defence en 0.77, 32 of 40, 0 of 84; yi every cell >= 0.92 but sanctions fr 0.83, 36
    # of 40, 7 of 114 (the NATO phonetic alphabet, a party 'sanctioning' a member); yj air-defence
    # 0.75-0.94, sanctions 0.80-0.86, military-aid 0.77-0.86, 33 of 40, 14 of 72. Tuned: interceptions
    # counted off by a quantifier in another sentence ('most were destroyed', 'la plupart ont été
    # abattus', 'en avoir abattu 48'), Russian missiles by name (Iskander, Kinzhal, Kh-101, Geran), a
    # 'mobile group' in a Shahed article, interceptor drones and the Danish model decisive in a body,
    # Baltic air policing and натівськ* (ru, uk), the NATO alphabet and inflation targets vetoed,
    # Ukrainian soldiers 'learning to operate', weapons that 'reach Ukraine', Flakpanzer, the shell
    # initiative, 'million rounds', Polish 'przekazało dowództwo' (said, not handed over), measures
    # 'against Moscow', the EU27's 'Russia package', a blacklist in an article naming Rosneft or Lukoil,
    # parliamentary calls to order. Left: crowdfunded kit for a unit (yg04, yg25), an aid package named
    # only in a long body (yf14, yj08), Romania asking allies for counter-drone systems read as aid
    # (yf19), 'decommissioned' Gepards caught by the heritage veto (en-yg28), Abschuss (also a launch, de-
    # yi01), history pieces (the Cuban missile crisis, a Soviet air-defence museum: yj29, yj30)
    | {f"{lang}-yf14" for lang in ("de", "ru", "uk")}
    | {"en-yf19", "fr-yf19"}
    | {f"{lang}-yg04" for lang in ("en", "de", "pl", "ru", "uk")}
    # (en-yg28 fixed after round 33: see below)
    | {"fr-yg06", "ru-yg06", "de-yg17", "de-yg19", "uk-yg27", "en-yg29", "fr-yg29", "de-yi01"}
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("yg25", "yj08", "yj30")}
    | {f"{lang}-yj29" for lang in ("en", "fr", "pl", "ru", "uk")}
    | {"pl-yj03", "uk-yj06", "uk-yj07", "fr-yj18", "fr-yj26", "pl-yj26"}
    # (review mend: en "calls to order" and fr 'sanctionner un élu' no longer veto a whole article: "calls
    # to order new sanctions", "sanctionner un élu russe"; de, pl, ru, uk calls to order still do; fr-yi36
    # and the Bundestag's manners, en, fr-yj40, miss again)
    | {"fr-yi36", "en-yj40", "fr-yj40"}
    # Set yk (an ordinary evening, late June 2027), measured with the round-30 rules and not tuned on:
    # nato and sanctions 1.00, air-defence 0.94 (de 0.88), military-aid 0.98 (en, fr 0.95), 35 of 40
    # identical, 0 of 90 unrelated tagged (three of its misses were looked at while tuning the others, so
    # its round-31 figures are not blind)
    | {"fr-yk07", "de-yk16", "en-yk19"}
    # Round 32, first measured with the round-31 rules (1,200 items never tuned on): every cell of the five
    # sets pooled >= 0.94, 184 of 200 identical, 6 of 528 unrelated tagged. Tuned on yl, ym, yn, yo (a US
    # sale of missiles paid for by allies, drones in a country's airspace, defence materiel packages, "Gebt
    # uns", "Dajcie nam", football penalties over two sentences; also fixed zc19, zz24, za21, zd07, ze09, q32,
    # u18). Left: Finland's allies never named as NATO (yn05), a domestic gas price cap in a body (yn31), a
    # "violation aérienne" (fr-yn04). Set yp (an ordinary weekend) measured and not tuned on: nato and
    # sanctions 1.00, air-defence 0.89 (fr, de 0.83), military-aid 0.90 (pl, ru, uk 0.88), 35 of 40
    # identical, 0 of 120 unrelated tagged
    | {f"{lang}-yn05" for lang in ("en", "fr", "pl", "ru")}
    | {"en-yn31", "fr-yn31", "de-yn31", "fr-yn04"}
    # (review mends: "restrictions list", Kontensperrung, Einreisesperre only with Russia or Belarus named; no
    # "ограничения направлены против" (also against a virus): ru-ym29; German jets "in die Luft" only veto the
    # delivery: de-yn03 misses air-defence)
    | {"ru-ym29", "de-yn03"}
    | {f"{lang}-yp23" for lang in ("en", "fr", "de", "pl")}
    | {f"{lang}-yp19" for lang in ("en", "fr", "pl")}  # de-yp19 fixed in round 39
    # pl-yp31 fixed in round 37 ("przekazał, że")
    | {"ru-yp06", "uk-yp06"}  # yp33 fixed in round 37
    # Round 33, first measured with the round-32 rules (960 items never tuned on, four sets pooled): nato
    # 0.98, air-defence >= 0.94, sanctions 1.00, military-aid 0.86-0.88 (the home press, ys: 0.62-0.78),
    # 153 of 160 identical, 3 of 420 unrelated tagged. Tuned on yq, yr, ys: drones "destroyed" with the
    # plural drones within 5 words (also be24, bo07, zc14), "überstellt", "spent on" weapons. Left: items
    # that never name Ukraine (a battery covering Odesa's ports, interceptors for a brigade in the Sumy
    # region, howitzers arriving on the Zaporizhzhia front: yq05, ys13, ys20; Ukrainian cities as recipients
    # broke 17 items where a mayor asks for Patriots), volunteers' pickups (ys04, as q09), an appeal for
    # Patriots not labelled aid (ys09), "17 of the 22 drones ... were destroyed" (yq15), a German brigade in
    # Lithuania receiving its tanks (yr19), "Sweden, which joined NATO in 2024" in a body (yr20). Set yt (an
    # ordinary evening, mid-October 2027) measured and not tuned on: nato and sanctions 1.00, air-defence 0.91
    # (fr, ru, uk 0.89), military-aid 0.90 (fr, pl, ru, uk 0.88), 37 of 40 identical, 3 of 90 unrelated
    # tagged. (Later: Ukraine's "partners" as the givers count as a recipient, "supplied by partners": ys13;
    # the singular Gepard's 0.25 term, which used the word up before the Gepard-near-drones clause, dropped:
    # en-yg28 fixed)
    | {
        f"{lang}-{key}"
        for lang in ("en", "fr", "de", "pl", "ru", "uk")
        for key in ("yr19", "yr20", "ys04", "ys20", "yt04", "yt23")
    }
    | {f"{lang}-yq05" for lang in ("en", "fr", "de", "pl", "uk")}
    | {f"{lang}-yq15" for lang in ("en", "fr", "pl", "ru")}
    | {f"{lang}-ys09" for lang in ("en", "fr", "ru", "uk")}
    | {f"{lang}-yt14" for lang in ("pl", "ru", "uk")}
    | {f"{lang}-yt27" for lang in ("fr", "ru", "uk")}
    | {"fr-yt19"}
    # Round 34, measured with the rules of ae25fc3 and not tuned on (720 items, three sets pooled): every cell
    # >= 0.90 (nato fr 0.94, military-aid fr, pl 0.90), 111 of 120 identical, 7 of 300 unrelated tagged (a
    # Ukrainian plant making "NATO-standard" shells, in all six languages); yu and yw (ordinary days) every
    # cell >= 0.91, the Ukrainian regional and city press (yv) military-aid 0.55-0.75 (its author flagged kit
    # from a charity fund and a crowdfunding drive labelled aid); the misses were not read
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("yv03", "yv27")}
    | {f"{lang}-yv17" for lang in ("fr", "de", "pl", "ru", "uk")}
    | {"en-yv21"}  # fr, pl, ru, uk fixed in round 37
    | {"en-yv08", "fr-yv08", "en-yv13", "fr-yv13", "fr-yu30", "de-yw20", "pl-yw18"}
    # Round 35 (yx an ordinary morning, yz the Ukrainian and Russian national press, xa Central and Eastern
    # European outlets, tuned on; yy an ordinary evening, measured and not tuned on), first measured with the
    # rules of 91c1d6f: pooled every cell >= 0.92, 151 of 160 identical, 19 of 366 unrelated tagged (18 of
    # them "NATO-standard" shells in three sets). Fixed: a product's "NATO standard" (not the plural of
    # reform) no longer counts for nato (also q36, yv28); jets scrambled in an article naming a drone or a
    # missile are air defence in a summary too (xa03, yx12, ya23, yp31, zq17); veto words that also meant
    # something else (the sanctions veto's "команд*" (command), "ciężarowc*" (trucks), "szkol*" (training),
    # "eleve*" (eleven); "premiere*" (French "first"), "punk*" (punkt), "import*" (important) in the embargo's
    # context: fr-t04, en-zg10, fr-yw17, de-q03, pl-xa09). Left: a quote's "air defence" in a ministers'
    # meeting (yx04), a late body's frozen assets (yx33), passing air-defence missiles in a command's
    # deliveries (yz40), a closing appeal for interceptors (en-xa38), a sale « d'un soutien » for Patriots
    # (fr-yx40); fr-bm22's "protection contre les drones" in a training course, which « première » used to
    # veto by accident
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("yx04", "yx33", "yz40")}
    | {"fr-yx40", "en-xa38", "fr-bm22"}
    # set yy (not tuned on): its misses recorded, not read
    | {f"{lang}-yy02" for lang in ("en", "fr", "de", "pl", "ru", "uk")}
    | {"de-yy31"}  # en, fr, pl fixed in round 39 (radars in a delivery)
    | {"de-yy07", "en-yy09", "fr-yy20", "pl-yy20"}  # yy37 fixed in round 37
    # Round 36 (xb an ordinary noon, xc an ordinary Saturday, xd the Ukrainian regional press and Telegram
    # retellings), measured with the round-35 rules and not tuned on: pooled lowest cell 0.88 (military-aid
    # uk; xd's military-aid 0.71-0.86), 110 of 120 identical, 11 of 276 unrelated tagged; misses not read
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("xd03", "xd32")}
    | {"de-xd16", "pl-xd16"}  # en, ru, uk fixed in round 37, like xd38 and xd30
    | {f"{lang}-xc01" for lang in ("de", "ru", "uk")}
    | {f"{lang}-xc39" for lang in ("de", "pl", "ru")}
    | {"en-xd22", "de-xc31", "pl-xc13", "uk-xb22"}  # en-xc27 fixed in round 37
    # Round 37, measured with the rules of b545733 and not tuned on before (1,200 items, five sets: xe an
    # agency wire, xf the business desk, xg border-region press, xi a quiet day with 28 of 40 unrelated, xj
    # live-blog briefs): pooled every cell >= 0.92 (military-aid pl), 191 of 200 identical, 12 of 552
    # unrelated tagged (xf 10 of 102; xi 0 of 168, xj 0 of 90). Fixed: an asset seizure in a tax-fraud case
    # (seizure needs Russia, a sanctioned state or sanctions in the article: xe10), NATO's air command at
    # Ramstein and jets "handing over" an escorted plane to other jets (xe08, xd16), residents "receiving" an
    # alert near scrambled F-16s (xi37, yy37), a start-up's funding round (xf15), "przekazał, że" (pl-xg06,
    # pl-yp31), Ukrainian trainees in Ukrainian (uk-xe39), Artilleriemunition (de-xi19), naval drones financed
    # (pl-xg35), jammers and EW kit delivered (xd38), Interflex by name (xd30), a city paying for jammers
    # (zb14), pl "limit*" matching English "limits" (en-xc27). Left: a late body's "freezing of Russia's
    # reserves" (xf36) and "previously funded air defence" (xg35), air-policing handovers and identification
    # flights whose authors disagree (en-, pl-xg03, de-xi17)
    | {f"{lang}-xf36" for lang in ("en", "fr", "de", "pl", "ru", "uk")}
    | {f"{lang}-xg35" for lang in ("en", "fr", "de", "pl", "ru", "uk")}
    | {"en-xg03", "pl-xg03", "de-xi17"}
    # Round 38 (xk an ordinary Thursday, xl Ukrainian oblast and city sites, xm inside pages with 28 of 40
    # unrelated, xn analysis and op-eds), measured with the round-37 rules and not tuned on: pooled lowest
    # cell 0.86 (military-aid fr, de; xl's military-aid 0.67-0.71: deliveries to a brigade that never name
    # Ukraine), 148 of 160 identical, 28 of 450 unrelated tagged (6.2 %: passing mentions late in a body, "why
    # they are not sanctions", a technical failure that "closed the sky", a court freezing a developer's
    # assets). Fixed in round 39: a freeze needs a sanctioned state, sanctions, the EU or an oligarch in the
    # article (xm31), frozen Russian money spent on arms (xn06), "not sanctions" (xn33), a computer failure
    # that "closed the sky" (xm05), drink-driving penalties (fr-xk34)
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("xk21", "xl03", "xl09")}
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("xl12", "xl33", "xl36")}
    | {f"{lang}-xl24" for lang in ("pl", "ru", "uk")}
    | {"de-xl21", "fr-xl27", "pl-xm08", "fr-xn20", "de-xn21", "fr-xn24", "de-xn35"}
    # Round 39 (xo official communications retold, xp broadcast bulletins, xq a quiet holiday weekend with 28
    # of 40 unrelated, xr trade press), measured with the rules of 82f05c1 before any change of this round:
    # pooled lowest cell 0.93 (air-defence de), 153 of 160 identical, 9 of 450 unrelated tagged (2.0 %).
    # Fixed: a central bank "freezing" rates (xp13) and an air-traffic-control failure that closed the sky
    # (xp17, with the round-38 fixes), fines as « sanctionnés par des amendes » (fr-xo32), radars in a
    # delivery (xr23), a Ukrainian maker paid by Ukraine's own ministry (xr17), NATO's air command « à
    # Ramstein » (fr-xr13). Left: passing late mentions the authors left unlabelled (air-defence ammunition in
    # xo15, frozen assets in xr21), air-policing intercepts labelled air-defence (de-xp24, de-, pl-xr13; other
    # authors disagree)
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("xo15", "xr21")}
    | {"de-xp24", "de-xr13", "pl-xr13"}
    # Round 40 (xs a Monday on public broadcasters' sites and xt economy and technology, each with 28-29 of 40
    # unrelated; xu a heavy weekend of the war; xv Europe's own defence politics), written by helpers who
    # reported counts only, measured with the round-39 rules (e298864) before any change: pooled lowest cell
    # 0.92 (military-aid fr), 154 of 160 identical, 8 of 534 unrelated tagged (1.5 %). Fixed: « pour armer
    # l'Ukraine » (fr-xv27), « bloquant les avoirs » (fr-xu19), a competition fine « sanctionné » (fr-xt23).
    # Left: Ukraine's own shell production "covering the army's needs" (xs32; a domestic-production veto broke
    # a frozen-asset loan's spending plan), a joint drone venture paid by Berlin with a late frozen-assets
    # mention (xv28), volunteers' fundraiser (fr-xu15; a volunteer veto broke three items of earlier authors
    # who label volunteers' deliveries as aid), an air-policing scramble (de-xv07)
    | {f"{lang}-{key}" for lang in ("en", "fr", "de", "pl", "ru", "uk") for key in ("xs32", "xv28")}
    | {"fr-xu15", "de-xv07"}
)


def test_blind_sets(tagger: Tagger) -> None:
    """Every blind-round item gets exactly its core topics, except the known misses (which still miss:
    a fix must update the list)."""
    wrong = set()
    items = 0
    for letter in BLIND_SETS:
        for path in sorted((FIXTURES / "tagging").glob(f"blind_{letter}_*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                d = json.loads(line)
                items += 1
                doc = TextInput(d["title"], d.get("summary", ""), d.get("content", ""), d["language"])
                got = {m.id for m in tagger.tag(doc)} & set(CORE)
                if got != set(d["topics"]):
                    wrong.add(d["id"])
    assert items == 22452
    assert wrong == BLIND_KNOWN_MISSES


def _dev_items() -> list[dict[str, object]]:
    items = []
    for path in sorted((FIXTURES / "tagging").glob("dev_*.jsonl")):
        items.extend(json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip())
    return items


def test_dev_set_quality(tagger: Tagger) -> None:
    items = _dev_items()
    assert len(items) >= 100
    tp = fp = fn = 0
    false_pos_unrelated = 0
    unrelated = 0
    for d in items:
        gold = set(d["topics"])  # type: ignore[arg-type]
        doc = TextInput(str(d["title"]), str(d.get("summary", "")), "", str(d["language"]))
        got = {m.id for m in tagger.tag(doc)}
        for t in CORE:
            tp += t in got and t in gold
            fp += t in got and t not in gold
            fn += t not in got and t in gold
        if not gold:
            unrelated += 1
            false_pos_unrelated += bool(got)
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.9
    assert false_pos_unrelated / unrelated <= 0.05


def test_example_rule_in_header_is_valid() -> None:
    text = (ROOT / "config" / "topics.yaml").read_text(encoding="utf-8")
    assert "GRAMMAR" in text
    assert isinstance(Path, type)
