"""Curated contrasts for the words picture prompts are made of (negative mode).

WordNet files many words a picture shows under functional classes whose other members are
not what an artist would see instead: "photo" is a "representation" beside "set", "model",
"copy"; "savannah" sits among its own near-synonyms ("meadow", "prairie"); "cloudy" is read
as "lacking definite form"; "spooky" and "menacing" have no opposites at all. For these the
words that contrast in a picture are known and few, so they are written down here, the way
``SPATIAL_CONTRASTS`` writes down the positions.

The table (``TABLE``), one set per line:

- ``pos: a, b, c``: peers, each a contrast of the others (settings, times of day, media);
- ``pos: a, b | c, d``: two sides, each word a contrast of every word on the other side
  (moods: "spooky | cheerful"), not of its own side (its near-synonyms);
- ``a/b``: variants of one thing ("photo/photograph"): either matches the prompt word, the
  first is offered, and neither is offered for the other;
- ``pos lexname ...: ...``: the set holds only for a prompt word whose chosen WordNet sense is
  in one of these lexicographer files ("glass" the material, not "glasses" the spectacles).

A prompt word in a set gets the set's other words in table order, inflected like the word;
the WordNet source still drops any that WordNet relates to the word's sense (a synonym,
hypernym or hyponym) or that name another word of the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .words import Pos

# words of the table that WordNet 3.0 (2006) is too old to know
NEWER_THAN_WORDNET = frozenset(("smartphone", "manga", "cartoonish", "photorealistic"))

TABLE = """
# media: what kind of picture it is
n: photo/photograph/snapshot, painting, drawing, sketch, illustration, cartoon/comic, anime/manga, watercolor, sculpture, engraving
n: landscape/scenery, portrait, cityscape, seascape
a: realistic/photorealistic/lifelike/naturalistic | stylized, cartoonish, abstract, surreal
# where the picture takes place
n: forest/woods/woodland, desert, beach/seashore, field/meadow/pasture, jungle/rainforest, savannah/savanna/grassland/prairie, swamp/marsh, tundra, glacier, cave
n: city/town/metropolis, village/hamlet, countryside, suburb, farm, wilderness
n: lake, river, ocean/sea, pond, stream/creek, waterfall
n: mountain/peak/summit | hill, valley, plain, canyon, cliff, dune
n: graveyard/cemetery | garden, park, playground, meadow
# what the ground or the surface is
n: water, sand, grass, snow, ice, mud, gravel
# time, weather, light
n: day/daytime, night/nighttime, dawn/sunrise/daybreak, dusk/sunset/twilight, noon/midday, evening, morning, midnight
n: summer, winter, autumn, spring
n: rain, snow, fog/mist, storm, sunshine, wind
n: light/sunlight/daylight/illumination | darkness/shadow/gloom
n: smoke/fumes/exhaust, steam, fog/mist, fire/flame, dust
n noun.object noun.phenomenon: cloud, star, rainbow
a: cloudy/overcast, sunny, rainy, foggy/misty, snowy, stormy
# moods and kinds of world
a: spooky/creepy/eerie/scary/haunted | cheerful, cozy, festive, sunny
a: menacing/threatening/sinister/evil | friendly, gentle, harmless, kind
a: magical/enchanted/mystical/supernatural | ordinary, mundane, realistic
a: historical/historic/ancient/medieval/vintage | modern, futuristic, contemporary
a: floating/hovering | sunken, submerged, grounded
# what happens in it
v: fuse/merge/blend/combine | separate, split
v: glow/shine/gleam/sparkle/shimmer | fade, dim, darken
# who is in it
n: ghost/spirit/phantom/specter, skeleton, zombie, vampire, werewolf, mummy, demon
n: witch/sorceress, wizard/sorcerer/warlock, fairy, elf, knight, princess
n: baby/infant, toddler, child/kid, teenager, adult
n noun.person: model, soldier, sailor, farmer, chef, firefighter, astronaut, clown
# what they wear, hold, play with
n: armor/armour, robe, cloak, tunic, gown, uniform
n: helmet, hat, cap, hood, crown, turban
n: cigarette, cigar, pipe
n: frisbee, ball, kite, boomerang
n: laptop/notebook, desktop computer/desktop, computer, tablet, smartphone/phone/telephone, typewriter, television/tv, radio
n: camera, binoculars, telescope, microphone, smartphone/phone
n: magic/sorcery/witchcraft | science, technology
# things in the scene
n: bathtub/tub/bath, shower, sink/washbasin, toilet
n: toiletry, medicine, towel, tool
n: countertop, table, shelf, floor, windowsill
n: lamppost/streetlight, signpost, telephone pole, bench, mailbox, fire hydrant
n: fruit, vegetable, flower, nut, mushroom
n noun.substance: wood, metal, stone, glass, plastic, paper, clay, marble, crystal, porcelain/ceramic
a: wooden, metal, stone, glass, plastic, paper, golden
a: powdered, glazed, frosted, sprinkled, plain
"""


@dataclass(frozen=True)
class _Entry:
    pos: Pos
    lexnames: frozenset[str]  # empty: any sense
    variants: tuple[str, ...]  # the first is what is offered
    contrasts: tuple[tuple[str, ...], ...]  # the other entries' variants, in table order


def _parse(table: str) -> dict[tuple[str, str], list[_Entry]]:
    index: dict[tuple[str, str], list[_Entry]] = {}
    for number, line in enumerate(table.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        head, sep, body = line.partition(":")
        pos, *lexnames = head.split()
        if not sep or pos not in ("n", "a", "v", "r"):
            raise ValueError(f"picture contrasts, line {number}: expected 'n|a|v|r: words'")
        sides = [
            [tuple(v.strip() for v in item.split("/")) for item in side.split(",") if item.strip()]
            for side in body.split("|")
        ]
        if len(sides) > 2 or any(len(s) < (1 if len(sides) == 2 else 2) for s in sides):
            raise ValueError(f"picture contrasts, line {number}: expected peers or two sides")
        for i, side in enumerate(sides):
            for item in side:
                others = sides[1 - i] if len(sides) == 2 else [o for o in side if o != item]
                entry = _Entry(pos, frozenset(lexnames), item, tuple(others))  # type: ignore[arg-type]
                for variant in item:
                    index.setdefault((pos, variant.lower()), []).append(entry)
    return index


@lru_cache(maxsize=1)
def _index() -> dict[tuple[str, str], list[_Entry]]:
    return _parse(TABLE)


def picture_contrasts(lemma: str, pos: Pos | None, lexname: str | None = None) -> list[str]:
    """The table's contrasts of ``lemma`` as ``pos`` (base forms, table order), or [];
    ``lexname``: the lexicographer file of the word's chosen sense."""
    if pos is None:
        return []
    out: list[str] = []
    for entry in _index().get((pos, lemma.lower()), []):
        if entry.lexnames and lexname not in entry.lexnames:
            continue
        for other in entry.contrasts:
            if other[0] not in out and lemma.lower() not in other:
                out.append(other[0])
    return out
